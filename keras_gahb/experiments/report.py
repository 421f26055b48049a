"""A self-contained HTML report: figures embedded as base64 PNG, no server or network needed."""

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
table { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
th { background: #f2f2f2; }
td:first-child, th:first-child { text-align: left; }
figure { margin: 1em 0; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #555; }
.check-pass { color: #1a7f37; font-weight: bold; }
.check-fail { color: #c62828; font-weight: bold; }
.check-na { color: #777; font-weight: bold; }
.reason { font-size: 0.85em; color: #555; }
.note { background: #f7f7f7; border-left: 4px solid #999; padding: .5em 1em; }
code { background: #f2f2f2; padding: 0 3px; }
"""


def write_report(path, title, sections, summary, config=None):
    """Write `report.html`: one <h2> per section with text, checks, tables and figures.

    Args:
        path: output file (written atomically).
        title: page title.
        sections: list of dicts with keys "title", "paragraphs" (list of str,
            HTML allowed), "checks" (list of {"claim", "passed", "value"}),
            "tables" (list of {"caption", "header", "rows"}) and "figures"
            (list of {"path", "caption"}); missing keys are skipped.
        summary: the summary dict (also embedded as JSON at the end).
        config: optional resolved configuration, shown at the end.
    """
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Generated {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}.</p>",
    ]
    for section in sections:
        parts.append(_section_html(section))
    if config is not None:
        parts.append("<h2>Configuration</h2>")
        parts.append(f"<pre>{html.escape(json.dumps(config, indent=2, default=str))}</pre>")
    parts.append("<h2>Summary (summary.json)</h2>")
    parts.append(f"<pre>{html.escape(json.dumps(summary, indent=2, default=str))}</pre>")
    parts.append("</body></html>")
    atomic_write_text(path, "\n".join(parts))


def _section_html(section):
    out = [f'<h2 id="{html.escape(section.get("id", ""))}">{html.escape(section["title"])}</h2>']
    for paragraph in section.get("paragraphs", []):
        out.append(f"<p>{paragraph}</p>")
    checks = section.get("checks", [])
    if checks:
        out.append("<table><tr><th>claim</th><th>measured</th><th>result</th></tr>")
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
        out.append("</table>")
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
    rows = ["<table>"]
    if table.get("caption"):
        rows.append(f"<caption>{html.escape(table['caption'])}</caption>")
    rows.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in table["header"]) + "</tr>")
    for row in table["rows"]:
        rows.append("<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>")
    rows.append("</table>")
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
