"""A self-contained HTML report: figures embedded as base64 PNG, no server or network needed.

The page opens with a verdict (what reproduces at this scale, what does not and why, what is
not a check here), then a table of contents, then one section per part. It fits a 1280 px
window: wide tables scroll inside their own box, preformatted JSON wraps.
"""

import base64
import datetime
import html
import json
import os

from keras_gahb.utils import atomic_write_text

_STYLE = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; max-width: 1100px;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { margin-top: 2em; border-bottom: 1px solid #bbb; }
.table-wrap { max-width: 100%; overflow-x: auto; margin: 1em 0; }
table { border-collapse: collapse; font-size: 0.92em; }
caption { text-align: left; font-size: 0.92em; color: #555; padding-bottom: .3em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; overflow-wrap: anywhere; }
th { background: #f2f2f2; }
td:first-child, th:first-child { text-align: left; }
table.checks td, table.checks th { text-align: left; vertical-align: top; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #555; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f7f7f7; padding: .5em; }
.check-pass { color: #1a7f37; font-weight: bold; }
.check-fail { color: #c62828; font-weight: bold; }
.check-na { color: #777; font-weight: bold; }
.reason { font-size: 0.85em; color: #555; }
.note { background: #f7f7f7; border-left: 4px solid #999; padding: .5em 1em; }
#verdict { background: #fafafa; border: 1px solid #ddd; padding: 0 1em 1em; }
#verdict h2 { margin-top: .8em; }
#verdict li { margin: .3em 0; }
.why { color: #444; }
.distance { color: #c62828; }
code { background: #f2f2f2; padding: 0 3px; overflow-wrap: anywhere; }
"""


def write_report(path, title, sections, summary, config=None):
    """Write `report.html`: a verdict, a table of contents, then one <h2> per section.

    Args:
        path: output file (written atomically).
        title: page title.
        sections: list of dicts with keys "id", "title", "paragraphs" (list of
            str, HTML allowed), "checks" (list of check dicts: "claim",
            "value", "passed", and optionally "applicable" (False: shown as
            N/A), "reason" (one line: why) and "distance" (how far a failure is
            from passing)), "tables" (list of {"caption", "header", "rows"}),
            "figures" (list of {"path", "caption"}) and "in_verdict" (default
            True; False lists the section's checks apart, outside the verdict);
            missing keys are skipped.
        summary: the summary dict (also embedded as JSON at the end; its
            "scale" names the scale in the verdict).
        config: optional resolved configuration, shown at the end.
    """
    sections = [{**section, "id": section.get("id") or f"section-{i}"}
                for i, section in enumerate(sections)]
    contents = [("verdict", "Verdict")] + [(s["id"], s["title"]) for s in sections]
    if config is not None:
        contents.append(("configuration", "Configuration"))
    contents.append(("summary", "Summary (summary.json)"))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Generated {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}.</p>",
        _verdict_html(sections, summary),
        _contents_html(contents),
    ]
    for section in sections:
        parts.append(_section_html(section))
    if config is not None:
        parts.append('<h2 id="configuration">Configuration</h2>')
        parts.append(f"<pre>{html.escape(json.dumps(config, indent=2, default=str))}</pre>")
    parts.append('<h2 id="summary">Summary (summary.json)</h2>')
    parts.append(f"<pre>{html.escape(json.dumps(summary, indent=2, default=str))}</pre>")
    parts.append("</body></html>")
    atomic_write_text(path, "\n".join(parts))


def check_reason(check):
    """The one line saying why: the check's "reason", else its measured "value"."""
    reason = check.get("reason")
    return str(reason) if reason else f"measured: {check.get('value', '')}"


def verdict_counts(sections):
    """{"PASS": n, "FAIL": n, "N/A": n} over the checks of the sections in the verdict."""
    counts = {"PASS": 0, "FAIL": 0, "N/A": 0}
    for section in sections:
        if section.get("in_verdict", True):
            for check in section.get("checks", []):
                counts[check_label(check)] += 1
    return counts


def _verdict_html(sections, summary):
    groups = {"PASS": [], "FAIL": [], "N/A": []}
    apart = []
    for section in sections:
        for check in section.get("checks", []):
            item = (section, check)
            (groups[check_label(check)] if section.get("in_verdict", True) else apart).append(item)
    counts = {label: len(items) for label, items in groups.items()}
    total = counts["PASS"] + counts["FAIL"]
    scale = summary.get("scale") if isinstance(summary, dict) else None
    where = f"at the {html.escape(str(scale))} scale" if scale else "in this run"
    out = ['<section id="verdict">', "<h2>Verdict</h2>"]
    if not total and not counts["N/A"]:
        out.append("<p>No checks were run.</p>")
    else:
        line = (f"{counts['PASS']} of {total} checks reproduce {where}; {counts['FAIL']} do not")
        if counts["N/A"]:
            line += f"; {counts['N/A']} N/A (not a check {where})"
        out.append(f'<p class="verdict-line"><strong>{line}.</strong> Each line links to its '
                   "section, where the claim is tested with its numbers.</p>")
    headings = (("PASS", "Reproduces " + where, "pass"),
                ("FAIL", "Does not reproduce " + where, "fail"),
                ("N/A", "Not a check " + where + " (N/A)", "na"))
    for label, heading, css in headings:
        if groups[label]:
            out.append(f'<h3 class="check-{css}">{heading} ({len(groups[label])})</h3>')
            out.append(_verdict_list(groups[label], distance=label == "FAIL"))
    if apart:
        out.append("<h3>Outside the verdict (beyond the paper)</h3>")
        out.append(_verdict_list(apart, distance=True, mark=True))
    out.append("</section>")
    return "\n".join(out)


def _verdict_list(items, distance=False, mark=False):
    out = ["<ul>"]
    for section, check in items:
        text = (f'<a href="#{html.escape(section["id"])}">{html.escape(section["title"])}</a>: '
                f"{html.escape(check['claim'])}")
        if mark:
            label = check_label(check)
            css = {"PASS": "pass", "FAIL": "fail", "N/A": "na"}[label]
            text = f'<span class="check-{css}">{label}</span> ' + text
        text += f' &mdash; <span class="why">{html.escape(check_reason(check))}</span>'
        if distance and check.get("distance"):
            text += (f' <span class="distance">(distance to passing: '
                     f"{html.escape(str(check['distance']))})</span>")
        out.append(f"<li>{text}</li>")
    out.append("</ul>")
    return "\n".join(out)


def _contents_html(contents):
    items = "".join(f'<li><a href="#{html.escape(anchor)}">{html.escape(title)}</a></li>'
                    for anchor, title in contents)
    return f'<nav id="contents"><h2>Contents</h2><ol>{items}</ol></nav>'


def _section_html(section):
    out = [f'<h2 id="{html.escape(section["id"])}">{html.escape(section["title"])}</h2>']
    for paragraph in section.get("paragraphs", []):
        out.append(f"<p>{paragraph}</p>")
    checks = section.get("checks", [])
    if checks:
        out.append('<div class="table-wrap"><table class="checks"><tr><th>claim</th>'
                   "<th>measured (why; distance to passing)</th><th>result</th></tr>")
        for check in checks:
            label = check_label(check).lower()
            measured = html.escape(str(check["value"]))
            if check.get("reason"):
                measured += f'<br><span class="reason">{html.escape(str(check["reason"]))}</span>'
            if check.get("distance"):
                measured += (f'<br><span class="reason">distance to passing: '
                             f'{html.escape(str(check["distance"]))}</span>')
            out.append(
                f"<tr><td>{html.escape(check['claim'])}</td><td>{measured}</td>"
                f'<td class="check-{label.replace("/", "")}">{label.upper()}</td></tr>'
            )
        out.append("</table></div>")
    for table in section.get("tables", []):
        out.append(_table_html(table))
    for figure in section.get("figures", []):
        out.append(_figure_html(figure))
    return "\n".join(out)


def check_label(check):
    """"PASS", "FAIL", or "N/A" for a check whose "applicable" is False (information, not a
    check: not counted in all_checks_passed). Checks without the key are applicable."""
    if not check.get("applicable", True):
        return "N/A"
    return "PASS" if check["passed"] else "FAIL"


def counted(check):
    """Whether a check counts towards all_checks_passed (its "applicable" is not False)."""
    return bool(check.get("applicable", True))


def _table_html(table):
    rows = ['<div class="table-wrap"><table>']
    if table.get("caption"):
        rows.append(f"<caption>{html.escape(table['caption'])}</caption>")
    rows.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in table["header"]) + "</tr>")
    for row in table["rows"]:
        rows.append("<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>")
    rows.append("</table></div>")
    return "\n".join(rows)


def _figure_html(figure):
    path = figure["path"]
    if not os.path.exists(path):
        return f'<p class="note">Figure missing: {html.escape(os.path.basename(path))}</p>'
    with open(path, "rb") as f:
        data = base64.b64encode(f.read()).decode("ascii")
    caption = html.escape(figure.get("caption", ""))
    alt = html.escape(os.path.basename(path))
    return (
        f'<figure><img alt="{alt}" src="data:image/png;base64,{data}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def _fmt(value):
    if isinstance(value, float):
        if value != value:  # NaN
            return "n/a"
        return f"{value:.3g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)
