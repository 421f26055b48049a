"""`gahb reproduce --released DIR`: the authors' layout is found, read safely, analyzed end to end.

The folder holds tiny randomly initialized UNets written in the authors' tensor layout by the
PyTorch reference of tests/reference (the converter tests' writer), at the authors' paths. Such
models are near-identity (the authors' batch-norm init), so the checks of a trained denoiser must
FAIL on them, and the near-identity shortcut (the sampler stops at once and two models share their
noise start) must not pass the agreement checks.
"""

import json
import os
import pickle

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import gahb
from keras_gahb.experiments import find_released, reproduce
from keras_gahb.experiments.released import nominal_sampler_steps, released_transition_checks
from keras_gahb.experiments.released_data import (
    RELEASED_ALPHAS,
    RELEASED_NS,
    calpha_model_path,
    face_model_path,
)

#: Tiny sizes: 16x16 images, 4 kernels, a few samples, steps and eigenpairs.
TINY = ["image_size=16", "num_samples=4", "heldout_images=8", "calpha_images=8",
        "slope_sigmas=[0.05,0.1,0.2]", "variance_sigmas=[0.1,0.2]", "gahb_k=6",
        "gahb_calpha_k=6", "gahb_alphas=[1]", "gahb_ks=[2,4]", "gahb_max_products=40",
        'sampler={"h0":0.2,"beta":0.5,"sigma0":1.0,"sigma_final":0.2,"max_steps":15}']


def _write_model(path, seed):
    torch = pytest.importorskip("torch")
    from tests.reference.official_models import ReferenceUNet

    torch.manual_seed(seed)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save(ReferenceUNet(num_blocks=3, num_kernels=4).state_dict(), path)


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """A clone-like folder: faces N=1 and N=99,325 (S1, S2), N=10 S1 only, C^alpha 1 and 3."""
    root = tmp_path_factory.mktemp("clone")
    unet = os.path.join(root, "denoisers", "UNet")
    seed = 0
    for n, swapped in [(1, False), (1, True), (99325, False), (99325, True), (10, False)]:
        seed += 1
        _write_model(face_model_path(unet, n, swapped), seed)
    for alpha in (1, 3):
        seed += 1
        _write_model(calpha_model_path(unet, alpha), seed)
    return str(root)


def _run(args):
    return CliRunner().invoke(gahb, ["reproduce"] + args, catch_exceptions=False)


def _sets():
    return [arg for item in TINY for arg in ("--set", item)]


def test_discovery_names_found_and_missing(released):
    models = find_released(released)
    assert models.face_pairs() == [1, 99325]
    assert models.alphas() == [1, 3]
    listing = "\n".join(models.listing())
    assert "found    faces N=10 S1" in listing
    assert "missing  faces N=10 S2 (swapped)" in listing
    assert "missing  C^alpha alpha=5" in listing
    assert f"{7} found, {len(RELEASED_NS) * 2 + len(RELEASED_ALPHAS) - 7} missing" in listing
    # The UNet folder itself, or the denoisers folder, is accepted too.
    assert find_released(os.path.join(released, "denoisers")).face_pairs() == [1, 99325]


def test_every_part_end_to_end_through_the_cli_and_the_checks_fail(released, tmp_path):
    out = str(tmp_path / "run")
    result = _run(["--released", released, "--out", out] + _sets())
    assert result.exit_code == 0, result.output
    text = result.output
    assert text.index("found    faces N=1 S1") < text.index("[released] transition N=1 ")
    assert "skipped: transition N=10: no S2 model" in text
    assert "skipped: C^alpha alpha=2: no model" in text
    for step in ("transition N=99,325", "C^alpha alpha=3", "GAHB faces N=99,325",
                 "GAHB C^alpha alpha=1"):
        assert f"[released] {step}" in text and "done in" in text
    summary = json.load(open(os.path.join(out, "summary.json")))
    assert set(summary["parts"]) == {"transition", "calpha", "gahb"}
    assert "faces N=10 S2 (swapped)" in summary["models_missing"]
    assert summary["all_checks_passed"] is False
    for part in summary["parts"].values():
        for check in part["checks"]:
            assert {"claim", "value", "passed", "applicable", "reason", "distance"} <= set(check)
    by_claim = {c["claim"]: c for p in summary["parts"].values() for c in p["checks"]}

    def check(words):
        [found] = [c for claim, c in by_claim.items() if words in claim]
        return found

    # Untrained: not denoisers, so no generalization claim passes (agreement is gated).
    assert not check("both models denoise held-out faces")["passed"]
    assert not check("S1 and S2 make the same images")["passed"]
    assert "not trained" in check("S1 and S2 make the same images")["reason"]
    assert not check("agreement grows with N")["passed"]
    optimal = check("faces N=99,325: GAHB optimality")
    assert optimal["applicable"] and not optimal["passed"]
    assert "oracle DCT" in optimal["value"] and "dB" in optimal["distance"]
    assert not check("faces N=99,325: GAHB adapts")["passed"]
    assert not check("every slope within")["passed"]
    memo = check("memorization at the smallest N")
    assert memo["applicable"] is False and "not given" in memo["reason"]
    report = open(os.path.join(out, "report.html")).read()
    assert "released denoisers" in report and "FAIL" in report
    assert os.path.exists(os.path.join(out, "transition", "samples.png"))
    assert os.path.exists(os.path.join(out, "gahb", "eigenvectors_faces_99325.png"))

    _matrix_free_matches_the_full_jacobian(released, out)

    # Resumable: a second run reads every step from the run folder; a selection reuses them.
    again = _run(["--released", released, "--out", out, "--parts", "transition",
                  "--n", "1,99325"] + _sets())
    assert again.exit_code == 0, again.output
    assert "[released] transition N=1 (" in again.output and ": cached (" in again.output
    assert "running" not in again.output


def _matrix_free_matches_the_full_jacobian(released, out):
    """Independent: every Ritz value of the cached GAHB step lies within its residual of an
    eigenvalue of sym J from the full Jacobian (D = 256), and Hutchinson's tr J within 4 se."""
    from keras_gahb import analysis
    from keras_gahb.models import load_official_checkpoint

    step = json.load(open(os.path.join(out, "steps", "gahb_faces_99325.json")))
    arrays = np.load(os.path.join(out, "steps", "gahb_faces_99325.npz"))
    path = face_model_path(os.path.join(released, "denoisers", "UNet"), 99325)
    model = load_official_checkpoint(path, image_size=16)
    full = analysis.eigen_analysis(model, arrays["clean"], noisy=arrays["noisy"])
    for theta in step["eigenvalues"]:
        assert np.min(np.abs(full.eigenvalues - theta)) <= step["max_residual"] + 1e-4
    assert abs(step["trace"] - full.trace) <= 4 * step["trace_se"] + 1e-3
    assert step["asymmetry"] == pytest.approx(full.asymmetry, rel=0.5, abs=0.02)


def test_released_through_the_python_api_with_training_faces(released, tmp_path):
    """With a training pool (a folder), memorization and the closest training image apply."""
    from keras_gahb.utils.images import save_image

    faces = tmp_path / "faces"
    faces.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        save_image(str(faces / f"{i:02d}.png"), rng.uniform(0, 1, (16, 16, 1)).astype("float32"))
    overrides = dict(item.split("=", 1) for item in TINY)
    overrides = {key: json.loads(value) for key, value in overrides.items()}
    summary = reproduce(str(tmp_path / "api"), released=released, parts=["transition"], n=[1],
                        verbose=0, training_dataset="folder",
                        training_options={"path": str(faces)}, **overrides)
    numbers = summary["parts"]["transition"]["numbers"]["1"]
    assert numbers["training_pool"] == 6
    assert -1 <= numbers["correlation_to_closest_train"] <= 1
    assert -1 <= numbers["baseline_fresh_to_closest_train"] <= 1
    assert -1 <= numbers["baseline_independent_images"] <= 1
    checks = summary["parts"]["transition"]["checks"]
    pair = [c for c in checks if "grows with N" in c["claim"]]
    assert pair and pair[0]["applicable"] is False  # one N analyzed


def test_oracle_risks_and_slopes_are_beside_each_alpha(released, tmp_path):
    """The released C^alpha models are judged by the reproduction's rules (`calpha.calpha_fit`,
    `calpha_checks`): the oracle DCT/Haar risks of the same fresh images, their slopes beside
    each alpha's, the oracle checks applicable, the slope checks N/A below 80x80."""
    from keras_gahb import analysis
    from keras_gahb.experiments.released import _calpha_images, released_config

    overrides = {key: json.loads(value) for key, value in (i.split("=", 1) for i in TINY)}
    summary = reproduce(str(tmp_path / "oracle"), released=released, parts=["calpha"],
                        verbose=0, calpha_alphas=[1], **overrides)
    fit = summary["parts"]["calpha"]["numbers"]["fits"]["1"]
    config = released_config(**overrides)
    images = _calpha_images(config, 1.0, config.calpha_images)
    for basis in ("dct", "haar"):
        assert fit["oracle"][basis]["slope"] == pytest.approx(
            analysis.oracle_slope(images, config.slope_sigmas, basis, seed=config.seed)["slope"])
    checks = summary["parts"]["calpha"]["checks"]
    oracle_rows = [c for c in checks if "oracle" in c["claim"]]
    assert len(oracle_rows) == 2 and all(c["applicable"] for c in oracle_rows)
    assert all(not c["applicable"] for c in checks if "slope" in c["claim"])
    report = open(tmp_path / "oracle" / "report.html").read()
    assert "oracle DCT slope" in report


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch pwned_by_released_checkpoint",))


def test_models_in_renamed_folders_are_found_by_their_names(released, tmp_path):
    import shutil

    unet = tmp_path / "clone" / "denoisers" / "UNet"
    source = os.path.join(released, "denoisers", "UNet")
    shutil.copytree(os.path.join(source, "img_align_celeba_80x80"), unet / "celebA_80x80_gray")
    shutil.copytree(os.path.join(source, "C_alpha3_beta3_line_80x80_blurredx2"),
                    unet / "C_alpha3_beta3_80x80")
    models = find_released(tmp_path / "clone")
    assert models.face_pairs() == [1, 99325] and models.alphas() == [3]
    assert "celebA_80x80_gray" in models.faces[1]["s2"]


def test_code_carrying_pickle_is_refused_without_running(released, tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    import shutil

    clone = tmp_path / "clone"
    shutil.copytree(released, clone)
    monkeypatch.chdir(tmp_path)
    evil = calpha_model_path(os.path.join(clone, "denoisers", "UNet"), 3)
    torch.save({"encoder.0.0.weight": _Payload()}, evil, pickle_protocol=2)
    out = str(tmp_path / "run")
    result = CliRunner().invoke(gahb, ["reproduce", "--released", str(clone), "--out", out])
    assert result.exit_code != 0
    assert "Refused C^alpha alpha=3" in result.output and "carries code" in result.output
    assert "Traceback" not in result.output
    assert not os.path.exists(tmp_path / "pwned_by_released_checkpoint")
    assert not os.path.exists(os.path.join(out, "steps"))  # refused before anything ran
    with open(evil, "wb") as f:  # a legacy plain pickle too
        pickle.dump({"a": _Payload()}, f, protocol=2)
    result = CliRunner().invoke(gahb, ["reproduce", "--released", str(clone), "--out", out])
    assert result.exit_code != 0 and "Refused C^alpha alpha=3" in result.output
    assert not os.path.exists(tmp_path / "pwned_by_released_checkpoint")


def test_lfs_pointer_is_named(released, tmp_path):
    import shutil

    clone = tmp_path / "clone"
    shutil.copytree(released, clone)
    path = face_model_path(os.path.join(clone, "denoisers", "UNet"), 1)
    with open(path, "w") as f:
        f.write("version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 30000000\n")
    result = CliRunner().invoke(gahb, ["reproduce", "--released", str(clone)])
    assert result.exit_code != 0 and "git lfs pull" in result.output


@pytest.mark.parametrize("make", ["missing", "empty", "file"])
def test_bad_folder_is_one_error_line(tmp_path, make):
    target = tmp_path / "dir"
    if make == "empty":
        target.mkdir()
    elif make == "file":
        target.write_text("x")
    result = CliRunner().invoke(gahb, ["reproduce", "--released", str(target)])
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.output
    assert "Traceback" not in result.output


def test_a_folder_of_another_reproduction_is_never_taken_over(released, tmp_path):
    """A trained reproduction's folder (config.json, parts/) is refused, its settings kept."""
    out = tmp_path / "quick"
    (out / "parts").mkdir(parents=True)
    (out / "config.json").write_text(json.dumps({"scale": "quick"}))
    result = CliRunner().invoke(gahb, ["reproduce", "--released", released, "--out", str(out),
                                       "--parts", "calpha"] + _sets())
    assert result.exit_code != 0 and "holds a run with other settings" in result.output
    assert json.loads((out / "config.json").read_text()) == {"scale": "quick"}


def test_unknown_option_and_part_are_refused(released):
    result = CliRunner().invoke(gahb, ["reproduce", "--released", released, "--set", "nope=1"])
    assert result.exit_code != 0 and "Unknown option(s) for --released: nope" in result.output
    result = CliRunner().invoke(gahb, ["reproduce", "discs", "--released", released])
    assert result.exit_code != 0 and "do not run on released models" in result.output
    result = CliRunner().invoke(gahb, ["reproduce", "--released", released, "--n", "7"])
    assert result.exit_code != 0 and "No released model for N=[7]" in result.output


def test_nominal_sampler_steps_follow_the_schedule():
    """The ideal denoiser's effective noise shrinks by (1 - beta h_t): closed form for h0 = 1."""
    # h0 = 1: h_t = 1 for every t, so sigma_t = (1 - beta)^t; 0.5^t <= 0.05 first at t = 5.
    assert nominal_sampler_steps(h0=1.0, beta=0.5, sigma0=1.0, sigma_final=0.05) == 5 + 1
    steps = nominal_sampler_steps()  # the paper's settings
    assert 50 < steps < 400


def test_agreement_checks_pass_for_trained_like_numbers_and_fail_otherwise():
    """The transition checks both ways on hand-made numbers (a generalizing pair vs not)."""
    from keras_gahb.experiments.released import ReleasedConfig

    def numbers(n, psnr, same, variance):
        return {"n": n, "test_psnr": {"s1": psnr, "s2": psnr}, "input_psnr": 20.0,
                "model_variance": variance, "sampler_reached_fraction": 1.0,
                "sampler_outcomes": {"reached": 8, "floor": 0, "diverged": 0, "max_steps": 0},
                "agreement_same_seed": same, "agreement_same_seed_se": 0.01,
                "agreement_independent": 0.1, "agreement_independent_se": 0.01}

    config = ReleasedConfig()
    good = {1: numbers(1, 30.0, 0.2, 1.0), 99325: numbers(99325, 30.0, 0.9, 0.01)}
    checks = released_transition_checks(config, good)
    assert all(c["passed"] for c in checks if c["applicable"]), checks
    untrained = {1: numbers(1, 20.0, 0.99, 1.0), 99325: numbers(99325, 20.0, 0.99, 0.01)}
    checks = released_transition_checks(config, untrained)
    failed = [c for c in checks if c["applicable"] and not c["passed"]]
    assert len(failed) == 4 and all(c["distance"] for c in failed)
