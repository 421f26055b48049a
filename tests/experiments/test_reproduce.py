"""`gahb reproduce` at the tiny scale: every part runs end to end, resumes, and reports every number."""

import json
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import gahb
from cli.reproduce import PART_NAMES, SCALE_NAMES
from keras_gahb.experiments import PARTS, SCALES, config_for_scale, model_seed, plan, reproduce
from keras_gahb.experiments.reproduce import write_outputs
from keras_gahb.experiments.seed_spread import spread_markdown, summarize_spread
from keras_gahb.utils import atomic_write_json, read_json

TRANSITION_NUMBERS = (
    "train_test_gap_db",
    "relative_model_variance",
    "relative_model_variance_control",
    "model_variance_s1_s2",
    "model_variance_s1_s1c",
    "model_variance_ratio",
    "sample_correlation_s1_s2",
    "sample_correlation_s1_s1c",
    "sample_cosine_s1_s2",
    "sample_correlation_to_closest_train",
    "sample_cosine_to_closest_train",
    "memorization_ratio",
    "memorization_ratio_scale_invariant",
    "copy_scale_median",
    "sampler_converged_fraction",
    "sampler_floor_fraction",
    "sampler_diverged_fraction",
    "sampler_max_steps_fraction",
    "sampler_measured_fraction",
    "sampler_outcomes",
    "sampler_outcomes_per_model",
    "denoiser_clean_floor",
    "sample_gradient_energy_ratio",
    "data_gradient_energy_ratio",
    "sample_smoothness_ratio",
    "sample_high_frequency_log_ratio",
    "matched_baseline_blur_sigma",
    "matched_baseline_correlation",
    "matched_baseline_one_sided",
    "agreement_margin_matched",
    "agreement_margin_se",
    "agreement_above_matched_baseline",
    "agreement_margin_closest_train",
    "baseline_fresh_to_closest_train",
    "baseline_independent_images",
    "seeds",
)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    run_dir = str(tmp_path_factory.mktemp("reproduce") / "run")
    summary = reproduce(run_dir, scale="tiny", verbose=0)
    return run_dir, summary


def test_every_part_writes_its_section_numbers_and_figures(tiny_run):
    run_dir, summary = tiny_run
    assert set(summary["parts"]) == set(PARTS)
    with open(os.path.join(run_dir, "summary.json")) as f:
        assert json.load(f) == json.loads(json.dumps(summary))
    transition = summary["parts"]["transition"]["numbers"]
    for n in config_for_scale("tiny").n_values:
        for key in TRANSITION_NUMBERS:
            assert key in transition[str(n)], f"transition N={n} misses {key}"
        numbers = transition[str(n)]
        for key in ("relative_model_variance", "relative_model_variance_control"):
            assert all(v >= 0 for v in numbers[key].values())
        assert numbers["model_variance_ratio"] == pytest.approx(
            numbers["model_variance_s1_s2"] / numbers["model_variance_s1_s1c"])
        assert -1.0 <= numbers["baseline_fresh_to_closest_train"] <= 1.0
        assert -1.0 <= numbers["baseline_independent_images"] <= 1.0
        assert 0.0 <= numbers["sampler_converged_fraction"] <= 1.0
        # Four outcomes, disjoint, every sample of the three models counted once.
        outcomes = numbers["sampler_outcomes"]
        assert set(outcomes) == {"reached", "floor", "diverged", "max_steps"}
        assert sum(outcomes.values()) == 3 * config_for_scale("tiny").num_samples
        assert numbers["sampler_converged_fraction"] == pytest.approx(
            outcomes["reached"] / sum(outcomes.values()))
        assert numbers["sampler_measured_fraction"] == pytest.approx(
            (outcomes["reached"] + outcomes["floor"]) / sum(outcomes.values()))
        assert all(v >= 0 for v in numbers["denoiser_clean_floor"].values())
        assert numbers["data_gradient_energy_ratio"] > 0
        # Only samples that reached sigma_final or stopped at the floor are measured: with none,
        # the sample measures are undefined.
        if numbers["sampler_measured_fraction"] == 0.0:
            assert math.isnan(numbers["sample_correlation_s1_s2"])
            assert math.isnan(numbers["memorization_ratio"])
        else:
            assert -1.0 <= numbers["sample_correlation_s1_s2"] <= 1.0
            assert numbers["sample_gradient_energy_ratio"] > 0
    fits = summary["parts"]["calpha"]["numbers"]["fits"]
    for alpha, fit in fits.items():
        assert fit["optimal"] == pytest.approx(float(alpha) / (float(alpha) + 1))
        assert fit["ci_low"] <= fit["slope"] <= fit["ci_high"]
    discs = summary["parts"]["discs"]["numbers"]
    assert len(discs["top_eigenvalues_mean"]) == 10 and discs["manifold_dimension"] == 5
    gahb_numbers = summary["parts"]["gahb"]["numbers"]
    # The bias-free identity f(y) = J(y) y holds for the trained model (no training needed for it).
    assert gahb_numbers["bias_free_error"] < 1e-3
    for part in PARTS:
        checks = summary["parts"][part]["checks"]
        assert checks and all(isinstance(c["passed"], bool) for c in checks)
        assert os.path.exists(os.path.join(run_dir, "parts", f"{part}.json"))
    for check in (summary["parts"]["transition"]["checks"] + summary["parts"]["calpha"]["checks"]
                  + summary["parts"]["gahb"]["checks"][:2]):  # the shared check schema
        assert {"claim", "value", "passed", "applicable", "reason", "distance"} <= set(check)
        assert isinstance(check["applicable"], bool) and check["reason"]
        assert "\n" not in check["reason"]
        # A distance only where an applicable check failed.
        assert (check["distance"] is not None) == (check["applicable"] and not check["passed"])


def test_report_is_self_contained_html_with_every_section(tiny_run):
    run_dir, _ = tiny_run
    with open(os.path.join(run_dir, "report.html"), encoding="utf-8") as f:
        report = f.read()
    for section_id in ("about",) + PARTS:
        assert f'id="{section_id}"' in report
    assert report.count('src="data:image/png;base64,') >= 8
    assert "http://" not in report.replace("http://www.w3.org", "")  # nothing fetched
    for phrase in ("memorization ratio (L2", "sample corr. S1-S2", "model var. S1-S1&#x27;",
                   "baseline: fresh image to closest train", "alpha/(alpha+1)", "tr J",
                   "Haar wavelets", "independent seeds", "smoothness-matched baseline",
                   "reached / floor / diverged / max steps", "gradient energy / variance",
                   "sample_spectra.png"):
        assert phrase in report, phrase
    assert '<td class="check-na">N/A</td>' in report  # the plain-L2 memorization figure


def test_rerun_resumes_without_redoing_finished_parts(tiny_run):
    run_dir, summary = tiny_run
    stamps = {p: os.path.getmtime(os.path.join(run_dir, "parts", f"{p}.json")) for p in PARTS}
    again = reproduce(run_dir, scale="tiny", verbose=0)
    assert again["parts"] == json.loads(json.dumps(summary["parts"]))
    for part, stamp in stamps.items():
        assert os.path.getmtime(os.path.join(run_dir, "parts", f"{part}.json")) == stamp


def test_a_lost_part_is_redone_from_its_saved_models(tiny_run, tmp_path):
    run_dir, summary = tiny_run
    copy = str(tmp_path / "copy")
    shutil.copytree(run_dir, copy)
    os.remove(os.path.join(copy, "parts", "gahb.json"))
    again = reproduce(copy, scale="tiny", parts=["gahb"], verbose=0)
    assert again["parts"]["gahb"]["numbers"]["effective_dimensionality"] == pytest.approx(
        summary["parts"]["gahb"]["numbers"]["effective_dimensionality"], rel=1e-4)


def test_stacked_models_are_complete_runs_that_unstacked_training_reuses(tiny_run, tmp_path):
    """The tiny run trains each N's models stacked (the default); resumed with stack=False, every
    model is found finished by `train` alone (nothing retrained) and the numbers are the same."""
    run_dir, summary = tiny_run
    copy = str(tmp_path / "copy")
    shutil.copytree(run_dir, copy)
    os.remove(os.path.join(copy, "parts", "transition.json"))
    models = [m.run_dir for m in plan(config_for_scale("tiny"), copy) if m.part == "transition"]
    stamps = {d: os.path.getmtime(os.path.join(d, "model.keras")) for d in models}
    again = reproduce(copy, scale="tiny", parts=["transition"], stack=False, verbose=0)
    assert {d: os.path.getmtime(os.path.join(d, "model.keras")) for d in models} == stamps
    before = summary["parts"]["transition"]["numbers"]
    after = again["parts"]["transition"]["numbers"]
    for n, numbers in before.items():
        assert after[n]["model_variance_s1_s2"] == pytest.approx(
            numbers["model_variance_s1_s2"], rel=1e-5)


def test_copy_scale_is_the_scale_of_the_nearest_ray_point():
    """Scaled copies a x_i (a bias-free denoiser's memorized rays) give back their a; an unrelated
    image gives the projection coefficient, not 1."""
    from keras_gahb.experiments.transition import _copy_scale

    rng = np.random.default_rng(0)
    x = rng.uniform(size=(5, 4, 4, 1))
    a = np.array([0.3, 0.6, 1.0, 1.2, 0.9])
    np.testing.assert_allclose(_copy_scale(a[:, None, None, None] * x, x), a, rtol=1e-12)
    other = rng.uniform(size=(5, 4, 4, 1))
    expected = (other * x).sum(axis=(1, 2, 3)) / (x * x).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(_copy_scale(other, x), expected, rtol=1e-12)


def test_other_settings_in_the_same_folder_are_refused(tiny_run):
    run_dir, _ = tiny_run
    with pytest.raises(ValueError, match="other settings"):
        reproduce(run_dir, scale="tiny", verbose=0, seed=1)


def test_bad_arguments_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="Unknown scale"):
        config_for_scale("huge")
    with pytest.raises(ValueError, match="Valid options"):
        config_for_scale("tiny", epochz=3)
    with pytest.raises(ValueError, match="Unknown part"):
        reproduce(str(tmp_path / "a"), scale="tiny", parts=["everything"], verbose=0)
    with pytest.raises(ValueError, match="N:SPLIT"):
        reproduce(str(tmp_path / "b"), scale="tiny", only="s1", verbose=0)
    with pytest.raises(ValueError, match="not a model of this scale"):
        reproduce(str(tmp_path / "d"), scale="tiny", only="2:s2:1", verbose=0)
    with pytest.raises(ValueError, match="pairing"):
        config_for_scale("tiny", pairing="shared")
    with pytest.raises(ValueError, match="N >= 2"):
        config_for_scale("tiny", n_values=[1])
    with pytest.raises(ValueError, match="not a model of this scale"):
        reproduce(str(tmp_path / "c"), scale="tiny", only="7:s1", verbose=0)


def test_cli_choices_match_the_library():
    assert tuple(PART_NAMES) == tuple(PARTS)
    assert set(SCALE_NAMES) == set(SCALES)


def test_cli_errors_are_one_line_without_traceback(tmp_path):
    runner = CliRunner()
    result = runner.invoke(gahb, ["reproduce", "--scale", "tiny", "--out", str(tmp_path / "r"),
                                  "--set", "nonsense=1"])
    assert result.exit_code == 1
    assert "Unknown reproduction option" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(gahb, ["reproduce", "--scale", "galactic"])
    assert result.exit_code == 2


def test_cli_only_trains_one_model(tmp_path):
    out = str(tmp_path / "fanout")
    result = CliRunner().invoke(gahb, ["reproduce", "--scale", "tiny", "--out", out,
                                       "--only", "2:s1:1", "--quiet"])
    assert result.exit_code == 0, result.output
    assert os.listdir(os.path.join(out, "models")) == ["transition_n2_s1_r1"]
    spec = next(m for m in plan(config_for_scale("tiny"), out)
                if (m.n, m.split, m.replicate) == (2, "s1", 1))
    with open(os.path.join(spec.run_dir, "config.json")) as f:
        assert json.load(f)["config"]["seed"] == spec.seed


def test_untrained_models_fail_the_largest_n_generalization_checks(tiny_run):
    """The tiny scale trains on 256 images: its models are untrained, so the largest-N claims
    (trained denoiser, no copies, same new images) must not all pass."""
    _, summary = tiny_run
    checks = summary["parts"]["transition"]["checks"]
    largest = [c for c in checks if c["scope"] == "largest N"]
    assert len(largest) == 5
    # Untrained networks fail every largest-N claim (a generalization claim needs a trained
    # denoiser), and the "trained" check itself fails on the PSNR numbers it prints.
    assert not any(c["passed"] for c in largest), largest
    assert all(c["applicable"] and c["distance"] for c in largest)
    trained = next(c for c in largest if "are trained" in c["claim"])
    assert "dB" in trained["value"] and not trained["passed"]
    for check in largest:  # each says why: the untrained denoiser, with its PSNR
        assert check is trained or "not trained" in check["reason"], check
    agreement = next(c for c in largest if "smoothness-matched baseline" in c["claim"])
    assert "matched baseline" in agreement["value"] and "closest train" in agreement["value"]
    identity = next(c for c in largest if "at least the identity" in c["claim"])
    assert "S1:" in identity["value"] and "S2:" in identity["value"]
    copies = next(c for c in largest if "not copies" in c["claim"])
    assert "up to scale" in copies["claim"] and "plain L2, information" in copies["value"]
    numbers = summary["parts"]["transition"]["numbers"][str(max(config_for_scale("tiny").n_values))]
    assert min(numbers["test_psnr_at_gap_sigma"].values()) < numbers["input_psnr_at_gap_sigma"] + 3
    # The untrained largest-N model's Jacobian does not beat the oracle fixed bases either
    # (the check passing for an adapted basis is tested in test_bases.py).
    gahb_checks = summary["parts"]["gahb"]["checks"]
    adaptivity = next(c for c in gahb_checks if "GAHB adapts" in c["claim"])
    assert not adaptivity["passed"], adaptivity
    # Nor does its MSE reach the oracle DCT / Haar projection risks (it is near the identity),
    # and the C^alpha models fail the oracle checks; the slope checks are N/A at 8x8.
    optimality = next(c for c in gahb_checks if "GAHB optimality" in c["claim"])
    assert not optimality["passed"] and optimality["distance"].endswith(("DCT", "Haar"))
    calpha = summary["parts"]["calpha"]["checks"]
    oracle_rows = [c for c in calpha if "oracle" in c["claim"] and c["applicable"]]
    assert len(oracle_rows) == 2 and not any(c["passed"] for c in oracle_rows), oracle_rows
    slope_rows = [c for c in calpha if "slope" in c["claim"]]
    assert slope_rows and not any(c["applicable"] for c in slope_rows)
    assert all(c["reason"].startswith("asymptotic rate; at 8x8 the oracle DCT slopes are")
               for c in slope_rows)
    assert not summary["all_checks_passed"]
    assert summary["pairing"] == "independent" and summary["control"] is True


def test_plain_l2_memorization_is_information_outside_the_verdict(tiny_run, tmp_path):
    """The scale-invariant rule is the memorization check; the plain L2 figure is reported with
    "applicable": False, and all_checks_passed ignores it whatever its value."""
    run_dir, summary = tiny_run
    checks = summary["parts"]["transition"]["checks"]
    plain = [c for c in checks if "plain L2 (1/3 rule)" in c["claim"]]
    assert len(plain) == 1 and plain[0]["applicable"] is False and "ray" in plain[0]["reason"]
    memorization = [c for c in checks if c["scope"] == "smallest N" and "up to scale" in c["claim"]]
    assert len(memorization) == 1 and memorization[0]["applicable"]
    # all_checks_passed counts applicable checks only: make every applicable check pass and the
    # N/A one fail, and the verdict is True; an applicable failure makes it False.
    copy = str(tmp_path / "copy")
    shutil.copytree(run_dir, copy)
    for part in PARTS:
        path = os.path.join(copy, "parts", f"{part}.json")
        section = read_json(path)
        for check in section["checks"]:
            check["passed"] = check.get("applicable", True) is not False
        atomic_write_json(path, section)
    config = config_for_scale("tiny")
    assert write_outputs(copy, config)["all_checks_passed"] is True
    path = os.path.join(copy, "parts", "transition.json")
    section = read_json(path)
    next(c for c in section["checks"] if c.get("applicable", True))["passed"] = False
    del section["checks"][0]["applicable"]  # an old check without the key counts
    section["checks"][0]["passed"] = True
    atomic_write_json(path, section)
    assert write_outputs(copy, config)["all_checks_passed"] is False
    report = open(os.path.join(copy, "report.html"), encoding="utf-8").read()
    assert "N/A" in report and "distance to passing" in report


def test_every_model_has_its_own_seed_recorded_in_its_config_json(tiny_run):
    run_dir, summary = tiny_run
    config = config_for_scale("tiny")
    specs = plan(config, run_dir)
    seeds = [spec.seed for spec in specs]
    assert len(set(seeds)) == len(seeds)
    for spec in specs:
        with open(os.path.join(spec.run_dir, "config.json")) as f:
            assert json.load(f)["config"]["seed"] == spec.seed, spec
    for n in config.n_values:  # the S1' control exists for every N
        assert {(m.split, m.replicate) for m in specs if m.part == "transition" and m.n == n} == {
            ("s1", 0), ("s2", 0), ("s1", 1)}
        recorded = summary["parts"]["transition"]["numbers"][str(n)]["seeds"]
        assert len(set(recorded.values())) == 3


def test_seeds_derive_from_master_seed_and_model_identity():
    config = config_for_scale("tiny")
    specs = plan(config)
    again = plan(config_for_scale("tiny", n_values=(16, 2)))  # another order, same models
    by_key = {(m.part, m.n, m.split, m.replicate): m.seed for m in specs}
    for m in again:
        assert by_key[(m.part, m.n, m.split, m.replicate)] == m.seed
    other = {(m.part, m.n, m.split, m.replicate): m.seed for m in plan(config_for_scale(
        "tiny", seed=1))}
    assert all(other[k] != v for k, v in by_key.items())
    assert model_seed(0, "transition", 2, "s1", 0) == by_key[("transition", 2, "s1", 0)]
    ablation = plan(config_for_scale("tiny", pairing="same_seed"))
    for n in config.n_values:
        pair = {(m.split, m.replicate): m.seed for m in ablation if m.n == n
                and m.part == "transition"}
        assert pair[("s1", 0)] == pair[("s2", 0)] == 0 != pair[("s1", 1)]
    assert len(plan(config_for_scale("tiny", control=False))) == len(specs) - 2


def test_seed_spread_statistics_and_pass_counts():
    def fake(values, passed):
        return {"total_seconds": 1.0, "parts": {"transition": {
            "checks": [{"claim": "c", "value": str(values[0]), "passed": passed},
                       {"claim": "info", "value": "x", "passed": True, "applicable": False}],
            "numbers": {"10": {"model_variance_ratio": values[0],
                               "memorization_ratio": values[1]}}}}}

    spread = summarize_spread({0: fake((1.0, 0.5), True), 1: fake((2.0, float("nan")), False),
                               2: fake((3.0, 1.0), True)})
    ratio = spread["per_n"]["10"]["model_variance_ratio"]
    assert ratio["mean"] == pytest.approx(2.0) and ratio["std"] == pytest.approx(1.0)
    assert (ratio["min"], ratio["max"]) == (1.0, 3.0)
    memo = spread["per_n"]["10"]["memorization_ratio"]  # NaN (no converged sample) is skipped
    assert memo["mean"] == pytest.approx(0.75)
    assert spread["checks"]["transition: c"]["passed"] == 2
    assert spread["checks"]["transition: info"] == {"passed": 0, "applicable": 0,
                                                    "values": ["x", "x", "x"]}
    markdown = spread_markdown(spread)
    assert "| transition: c | 2/3 |" in markdown and "| transition: info | N/A |" in markdown


def test_cli_plan_lists_every_model_with_its_seed(tmp_path):
    out = str(tmp_path / "p")
    result = CliRunner().invoke(gahb, ["reproduce", "--scale", "tiny", "--out", out, "--plan"])
    assert result.exit_code == 0, result.output
    rows = result.output.strip().splitlines()[1:]
    specs = plan(config_for_scale("tiny"), out)
    assert len(rows) == len(specs)
    assert rows[0].split("\t")[4] == str(specs[0].seed)
    assert not os.path.exists(out)  # listing trains nothing
    result = CliRunner().invoke(gahb, ["reproduce", "--scale", "tiny", "--seeds", "a,b"])
    assert result.exit_code == 2


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

#: Appended to a copy of a report: after layout, writes what the test measures into the DOM.
LAYOUT_PROBE = """<script>
window.addEventListener("load", function () {
  var root = document.documentElement;
  var links = Array.from(document.querySelectorAll('a[href^="#"]'));
  var out = document.createElement("pre");
  out.id = "layout-probe";
  out.textContent = JSON.stringify({
    scrollWidth: root.scrollWidth, clientWidth: root.clientWidth,
    firstH2: (document.querySelector("h2") || {}).textContent || null,
    contents: Array.from(document.querySelectorAll("#contents a")).map(
      function (a) { return a.getAttribute("href"); }),
    broken: links.filter(function (a) {
      return !document.getElementById(a.getAttribute("href").slice(1)); }).map(
      function (a) { return a.getAttribute("href"); })});
  document.body.appendChild(out);
});
</script>"""


def _layout_in_chromium(html_text, tmp_path, width=1280, name="page.html"):
    """The layout probe's numbers for `html_text` in headless Chromium at a `width` px window."""
    page = tmp_path / name
    page.write_text(html_text + LAYOUT_PROBE, encoding="utf-8")
    dom = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={width},900", "--dump-dom",
         "file://" + str(page)],
        capture_output=True, text=True, timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    probe = dom.stdout.split('<pre id="layout-probe">', 1)[1].split("</pre>", 1)[0]
    import html as html_module

    return json.loads(html_module.unescape(probe))


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium is not installed")
def test_report_opens_with_the_verdict_and_fits_a_1280px_window(tiny_run, tmp_path):
    """The verdict is the first section, every contents link resolves, and at a 1280 px window
    nothing scrolls sideways; the same probe sees the overflow of a page that is too wide."""
    run_dir, summary = tiny_run
    report = open(os.path.join(run_dir, "report.html"), encoding="utf-8").read()
    layout = _layout_in_chromium(report, tmp_path)
    assert layout["firstH2"] == "Verdict"
    assert layout["scrollWidth"] <= layout["clientWidth"] <= 1280, layout
    assert not layout["broken"], layout["broken"]
    assert layout["contents"][0] == "#verdict"
    for section_id in ("about",) + PARTS + ("summary",):
        assert f"#{section_id}" in layout["contents"], section_id
    # Both ways: a 2,000 px wide block in the same page is seen as overflowing.
    wide = report.replace("</body>", '<div style="width:2000px">wide</div></body>')
    layout = _layout_in_chromium(wide, tmp_path, name="wide.html")
    assert layout["scrollWidth"] > layout["clientWidth"]
    # Every check of the parts is in the verdict once, under its label, with its reason.
    verdict = report.split('<section id="verdict">', 1)[1].split("</section>", 1)[0]
    checks = [c for part in summary["parts"].values() for c in part["checks"]]
    counted = [c for c in checks if c.get("applicable", True)]  # N/A checks are not counted
    passed = sum(c["passed"] for c in counted)
    assert (f"{passed} of {len(counted)} checks reproduce at the tiny scale; "
            f"{len(counted) - passed} do not") in verdict
    assert verdict.count("<li>") == len(checks)


def test_report_verdict_gives_each_reason_and_distance(tmp_path):
    """Checks with the new keys show their reason (and a failure its distance); N/A checks are
    apart and not counted; an old check without the keys falls back to its measured value;
    checks of a section outside the verdict are listed apart."""
    from keras_gahb.experiments.report import verdict_counts, write_report

    checks = [
        {"claim": "trained", "value": "24.1 vs 23.0 dB", "passed": True, "applicable": True,
         "reason": "test PSNR 24.1 dB >= 23.0 dB at sigma 0.1", "distance": None},
        {"claim": "slope optimal", "value": "0.22 vs 0.50", "passed": False, "applicable": True,
         "reason": "slope 0.22 < 0.45: small-sigma error floor", "distance": "-0.23 in slope"},
        {"claim": "paper slopes", "value": "0.22", "passed": False, "applicable": False,
         "reason": "the paper's slopes are for 80x80 faces, not 16x16", "distance": None},
        {"claim": "old-style check", "value": "ratio 0.93", "passed": False},
    ]
    sections = [{"id": "part", "title": "A part", "checks": checks},
                {"id": "extras", "title": "Beyond", "in_verdict": False,
                 "checks": [{"claim": "extra claim", "value": "1.0", "passed": True}]}]
    path = tmp_path / "report.html"
    write_report(str(path), "T", sections, {"scale": "quick"})
    page = path.read_text()
    verdict = page.split('<section id="verdict">', 1)[1].split("</section>", 1)[0]
    assert "1 of 3 checks reproduce at the quick scale; 2 do not; 1 N/A (not a check at the quick scale)" in verdict
    reproduces, rest = verdict.split("Does not reproduce", 1)
    failing, na_part = rest.split("Not a check", 1)
    na, outside = na_part.split("Outside the verdict", 1)
    assert "test PSNR 24.1 dB &gt;= 23.0 dB at sigma 0.1" in reproduces
    assert "small-sigma error floor" in failing and "distance to passing: -0.23 in slope" in failing
    assert "measured: ratio 0.93" in failing  # the fallback for a check without a reason
    assert "for 80x80 faces" in na and "paper slopes" not in failing
    assert "extra claim" in outside and "extra claim" not in failing + reproduces
    assert verdict_counts(sections) == {"PASS": 1, "FAIL": 2, "N/A": 1}
    assert 'href="#part"' in verdict and '<td class="check-na">N/A</td>' in page


def test_cli_sample_on_a_reproductions_models_gives_the_reports_numbers(tiny_run, tmp_path):
    """`gahb sample RUN/models/transition_n16_s1 --compare .../s2` (subprocess) uses the report's
    seed, count and sampler settings: the same samples and S1-S2 correlation as the report. With
    another seed it says what differs, and the samples differ."""
    run_dir, summary = tiny_run
    config = config_for_scale("tiny")
    n = max(config.n_values)
    models = os.path.join(run_dir, "models")
    report = summary["parts"]["transition"]["numbers"][str(n)]
    saved = np.load(os.path.join(run_dir, "transition", f"samples_n{n}.npz"))

    def sample(out, *extra):
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        completed = subprocess.run(
            [sys.executable, "-m", "cli.main", "sample", os.path.join(models, f"transition_n{n}_s1"),
             "--compare", os.path.join(models, f"transition_n{n}_s2"), "--out", str(out),
             "--quiet", *extra], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert completed.returncode == 0, completed.stderr[-2000:]
        return completed.stdout, np.load(os.path.join(out, "samples.npz"))

    stdout, ours = sample(tmp_path / "same")
    assert f"seed {config.seed + 7}, " in stdout and f"num {config.num_samples}," in stdout
    assert f"sigma_final {config.sampler['sigma_final']:g}" in stdout and "Differs" not in stdout
    np.testing.assert_allclose(ours["images"], saved["s1"], atol=1e-6)
    np.testing.assert_allclose(ours["images_compare"], saved["s2"], atol=1e-6)
    comparison = json.load(open(tmp_path / "same" / "compare.json"))
    assert comparison["mean_correlation_converged"] == pytest.approx(
        report["sample_correlation_s1_s2"], abs=1e-6)
    assert f"{report['sample_correlation_s1_s2']:.4f} over the" in stdout
    stdout, other = sample(tmp_path / "other", "--seed", "0")
    assert f"Differs from the report ({os.path.join(run_dir, 'config.json')})" in stdout
    assert f"seed 0 (report {config.seed + 7})" in stdout
    assert np.abs(other["images"] - saved["s1"]).max() > 1e-3


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium is not installed")
def test_report_opens_in_headless_chromium(tiny_run, tmp_path):
    run_dir, _ = tiny_run
    shot = tmp_path / "report.png"
    profile = tmp_path / "profile"
    completed = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", "--window-size=1200,2400",
         f"--screenshot={shot}", "file://" + os.path.abspath(os.path.join(run_dir, "report.html"))],
        capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert shot.exists() and shot.stat().st_size > 10_000
    dom = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", f"--user-data-dir={profile}", "--dump-dom",
         "file://" + os.path.abspath(os.path.join(run_dir, "report.html"))],
        capture_output=True, text=True, timeout=120,
    )
    assert dom.returncode == 0
    assert "Memorization to generalization" in dom.stdout


def test_capacity_is_checked_before_any_training(tmp_path):
    out = str(tmp_path / "faces")
    with pytest.raises(ValueError, match="largest N that fits is 42"):
        reproduce(out, scale="tiny", dataset="faces", dataset_options={}, n_values=[2, 60],
                  parts=["transition"], verbose=0)
    assert not os.path.exists(os.path.join(out, "models"))
    paper = config_for_scale("paper")
    assert paper.dataset_options == {"split": "all", "deduplicate": 0.95}
    from keras_gahb.experiments.reproduction_config import check_capacity

    assert check_capacity(paper) == 2 * 99_000 + 512 <= 198_650
    with pytest.raises(ValueError, match="largest N that fits is 99,069"):
        check_capacity(config_for_scale("paper", n_values=[1, 100_000]))


@pytest.mark.slow
def test_reproduce_seeds_runs_each_master_seed_in_its_folder(tmp_path):
    from keras_gahb.experiments import reproduce_seeds

    out = str(tmp_path / "spread")
    spread = reproduce_seeds(out, seeds=(0, 1), scale="tiny", parts=["discs"], verbose=0)
    assert spread["seeds"] == [0, 1]
    for seed in (0, 1):
        with open(os.path.join(out, f"seed{seed}", "config.json")) as f:
            assert json.load(f)["seed"] == seed
    seeds = set()
    for seed in (0, 1):
        with open(os.path.join(out, f"seed{seed}", "models", "discs", "config.json")) as f:
            seeds.add(json.load(f)["config"]["seed"])
    assert seeds == {model_seed(s, "discs", 64, "train") for s in (0, 1)}
    assert all(0 <= e["passed"] <= 2 for e in spread["checks"].values())
    assert os.path.exists(os.path.join(out, "spread.md"))
    with pytest.raises(ValueError, match="seeds"):
        reproduce_seeds(out, seeds=(), scale="tiny")


def test_extras_section_runs_on_the_trained_transition_models(tiny_run, tmp_path):
    """`reproduce(..., extras=True)` adds "beyond the paper" from the saved models (nothing retrained),
    with its known answer (the empirical optimum's samples are training images), outside the verdict."""
    run_dir, summary = tiny_run
    copy = str(tmp_path / "run")
    shutil.copytree(run_dir, copy)
    stamps = {name: os.path.getmtime(os.path.join(copy, "models", name, "model.keras"))
              for name in os.listdir(os.path.join(copy, "models"))}
    with_extras = reproduce(copy, scale="tiny", parts=["transition"], extras=True, verbose=0)
    assert stamps == {name: os.path.getmtime(os.path.join(copy, "models", name, "model.keras"))
                      for name in stamps}
    extras = with_extras["extras"]
    assert with_extras["all_checks_passed"] == summary["all_checks_passed"]
    known = extras["checks"][0]
    assert "empirical optimum" in known["claim"] and known["passed"] and known["value"] == 1.0
    config = config_for_scale("tiny")
    for n in config.n_values:
        refs = extras["numbers"]["references"][str(n)]
        assert set(refs["references"]) == {"empirical", "wiener", "els", "pca_local"}
        for entry in refs["references"].values():
            assert len(entry["r2"]) == len(refs["sigmas"]) and all(math.isfinite(v) for v in entry["r2"])
        assert extras["numbers"]["agreement"][str(n)]["count"]
    dim = extras["numbers"]["dimension"]
    assert len(dim["trace"]) == len(dim["sigmas"]) and len(dim["gaussian_trace"]) == len(dim["sigmas"])
    page = open(os.path.join(copy, "report.html")).read()
    assert "Beyond the paper" in page and page.count("<figure>") > summary_figures(run_dir)
    # Resumable: a second call reuses parts/extras.json.
    stamp = os.path.getmtime(os.path.join(copy, "parts", "extras.json"))
    reproduce(copy, scale="tiny", parts=["transition"], extras=True, verbose=0)
    assert os.path.getmtime(os.path.join(copy, "parts", "extras.json")) == stamp


def summary_figures(run_dir):
    return open(os.path.join(run_dir, "report.html")).read().count("<figure>")


def test_every_model_folder_gives_its_training_images_back(tiny_run, tmp_path):
    """Issue 27 item 4: each model folder records its data source and indices (split.json), and
    `keras_gahb.runs.training_images` returns exactly the images the part trained it on, drawn
    here independently as each part draws them."""
    from keras_gahb import data, runs
    from keras_gahb.experiments.transition import transition_pool

    run_dir, _ = tiny_run
    config = config_for_scale("tiny")
    pool, splits = transition_pool(config)
    for spec in plan(config, run_dir):
        assert os.path.exists(os.path.join(spec.run_dir, "split.json")), spec.run_dir
        assert not os.path.exists(os.path.join(spec.run_dir, "images.npz"))
        train, test = runs.training_images(spec.run_dir)
        if spec.part == "transition":
            expected = pool[getattr(splits[spec.n], spec.split)], pool[splits[spec.n].test]
        elif spec.part == "calpha":
            alpha = float(spec.split[len("alpha"):])
            images = data.get_images("calpha", config.calpha_n + config.test_size,
                                     config.image_size, seed=config.seed, alpha=alpha,
                                     variant=config.calpha_variant)
            expected = images[: config.calpha_n], images[config.calpha_n:]
        else:
            images = data.get_images("discs", config.discs_n + config.test_size, config.image_size,
                                     seed=config.seed)
            expected = images[: config.discs_n], images[config.discs_n:]
        np.testing.assert_array_equal(train, expected[0])
        np.testing.assert_array_equal(test, expected[1])
    # The control: a split.json that indexes other images is caught by config.json's fingerprints.
    folder = tmp_path / "model"
    shutil.copytree(plan(config, run_dir)[0].run_dir, folder)
    split = json.loads((folder / "split.json").read_text())
    split["train"] = split["train"][::-1]
    (folder / "split.json").write_text(json.dumps(split))
    with pytest.raises(ValueError, match="differ from those it trained on"):
        runs.training_images(folder)


def test_report_states_the_recipe_of_every_model(tiny_run):
    run_dir, summary = tiny_run
    config = config_for_scale("tiny")
    recipes = summary["recipes"]
    names = sorted(os.path.basename(spec.run_dir) for spec in plan(config, run_dir))
    assert sorted(name for group in recipes.values() for name in group) == names
    transition = config.recipe_label("transition")
    assert transition.startswith("balanced") and config.recipe_label().startswith("cpu")
    assert sorted(recipes) == sorted([transition, config.recipe_label()])
    assert all(name.startswith("transition_") for name in recipes[transition])
    assert not any(name.startswith("transition_") for name in recipes[config.recipe_label()])
    report = open(os.path.join(run_dir, "report.html"), encoding="utf-8").read()
    assert transition in report and config.recipe_label() in report
    for spec in plan(config, run_dir):
        saved = read_json(os.path.join(spec.run_dir, "config.json"))["config"]
        expected = config.training_recipe(spec.part)
        assert {key: saved[key] for key in expected} == expected, spec.run_dir


def test_scales_recipes():
    # The quick scale (and the tiny one, its test double) train the C^alpha and disc models with
    # the "cpu" recipe on the images the recipe study needs, the transition models with
    # "balanced"; the paper scale keeps the authors' recipe everywhere.
    quick, tiny = config_for_scale("quick"), config_for_scale("tiny")
    assert quick.training_recipe() == {"recipe": "cpu", "sigma_distribution": "log_uniform",
                                       "sigma_min": 0.005, "loss_weight": "inverse_sigma"}
    assert quick.training_recipe("calpha") == quick.training_recipe()
    assert quick.training_recipe("transition") == {
        "recipe": "balanced", "sigma_distribution": "quadratic", "sigma_min": 0.0,
        "loss_weight": "inverse_sqrt_sigma"}
    assert tiny.recipe == "cpu" and tiny.transition_recipe == "balanced"
    assert config_for_scale("quick", transition_recipe=None).training_recipe("transition") == (
        quick.training_recipe())
    assert quick.calpha_images_per_model >= 128_000 and quick.discs_images_per_model >= 96_000
    # The quick run's training images, at the measured ~1,000 images per second of the two
    # cores (docs/performance.md), leave its 30 minutes room for the analysis (~5 minutes).
    total = (3 * len(quick.n_values) * quick.images_per_model
             + len(quick.calpha_alphas) * quick.calpha_images_per_model
             + quick.discs_images_per_model)
    assert total <= 1_300_000
    tiny_total = (3 * len(tiny.n_values) * tiny.images_per_model
                  + len(tiny.calpha_alphas) * tiny.calpha_images_per_model
                  + tiny.discs_images_per_model)
    assert tiny_total <= 3_000
    assert config_for_scale("paper").recipe == "paper"
    assert config_for_scale("paper").training_recipe()["loss_weight"] == "none"
    assert config_for_scale("paper").training_recipe("transition")["loss_weight"] == "none"
    assert config_for_scale("quick", recipe="paper").training_recipe()["sigma_distribution"] == (
        "quadratic")
    with pytest.raises(ValueError, match="recipe must be one of"):
        config_for_scale("quick", recipe="gpu")
    with pytest.raises(ValueError, match="loss_weight must be one of"):
        config_for_scale("quick", loss_weight="cube")


def test_a_reproduction_model_exports_as_a_preset_with_its_verdicts(tiny_run, tmp_path):
    """`gahb models export`: the manifest takes the data, recipe, verdicts and sampler from the
    run, and the weights reload to the same test PSNRs."""
    from keras_gahb.models import pretrained

    run_dir, summary = tiny_run
    root = str(tmp_path / "presets")
    result = CliRunner().invoke(gahb, [
        "models", "export", os.path.join(run_dir, "models", "discs"), "discs_tiny",
        "--description", "tiny discs", "--retrain", "gahb reproduce --scale tiny", "--out", root])
    assert result.exit_code == 0, result.output
    manifest = pretrained.get_pretrained("discs_tiny", root=root)
    config = config_for_scale("tiny")
    assert manifest["data"]["dataset"] == "discs"
    assert manifest["data"]["image_size"] == config.image_size
    assert manifest["architecture"]["preset"] == config.preset
    assert manifest["trained"]["recipe"] == config.recipe
    assert manifest["trained"]["images_seen"] == config.discs_images_per_model
    assert manifest["sampler"] == config.sampler
    assert [c["claim"] for c in manifest["part_checks"]] == [
        c["claim"] for c in summary["parts"]["discs"]["checks"]]
    again = pretrained.pretrained_test_psnr("discs_tiny", root=root)
    np.testing.assert_allclose(again["psnr"], manifest["test"]["psnr"], atol=1e-3)
    missing = CliRunner().invoke(gahb, ["models", "export", str(tmp_path), "x", "--out", root])
    assert missing.exit_code != 0 and "split.json not found" in missing.output
    assert "Traceback" not in missing.output
