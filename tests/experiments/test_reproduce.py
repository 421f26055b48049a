"""`gahb reproduce` at the tiny scale: every part runs end to end, resumes, and reports every number."""

import json
import os
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from cli.main import gahb
from cli.reproduce import PART_NAMES, SCALE_NAMES
from keras_gahb.experiments import PARTS, SCALES, config_for_scale, reproduce

TRANSITION_NUMBERS = (
    "train_test_gap_db",
    "relative_model_variance",
    "sample_correlation_s1_s2",
    "sample_cosine_s1_s2",
    "sample_correlation_to_closest_train",
    "sample_cosine_to_closest_train",
    "memorization_ratio",
    "sampler_converged_fraction",
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
        variance = transition[str(n)]["relative_model_variance"]
        assert all(v >= 0 for v in variance.values())
        assert -1.0 <= transition[str(n)]["sample_correlation_s1_s2"] <= 1.0
        assert 0.0 <= transition[str(n)]["memorization_ratio"] <= 1.0
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


def test_report_is_self_contained_html_with_every_section(tiny_run):
    run_dir, _ = tiny_run
    with open(os.path.join(run_dir, "report.html"), encoding="utf-8") as f:
        report = f.read()
    for section_id in ("about",) + PARTS:
        assert f'id="{section_id}"' in report
    assert report.count('src="data:image/png;base64,') >= 8
    assert "http://" not in report.replace("http://www.w3.org", "")  # nothing fetched
    for phrase in ("memorization ratio", "S1-S2 sample corr.", "rel. model variance",
                   "alpha/(alpha+1)", "tr J"):
        assert phrase in report


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
                                       "--only", "2:s2", "--quiet"])
    assert result.exit_code == 0, result.output
    assert os.listdir(os.path.join(out, "models")) == ["transition_n2_s2"]


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
