import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

import keras_gahb
from cli.main import gahb


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Two different tiny denoisers: a random unet_tiny and a copy with perturbed weights."""
    folder = tmp_path_factory.mktemp("models")
    model = keras_gahb.models.from_preset("unet_tiny")
    paths = [os.path.join(folder, "tiny1.keras"), os.path.join(folder, "tiny2.keras")]
    model.save(paths[0])
    rng = np.random.default_rng(0)
    model.set_weights([w * rng.uniform(0.5, 1.5, size=w.shape) for w in model.get_weights()])
    model.save(paths[1])
    return paths


def _run(args):
    return CliRunner().invoke(gahb, args)


def test_sample_and_compare_two_models(models, tmp_path):
    out = str(tmp_path / "two")
    result = _run(["sample", models[0], "--compare", models[1], "--num", "3", "--size", "8",
                   "--max-steps", "4", "--out", out, "--quiet"])
    assert result.exit_code == 0, result.output
    for name in ("samples.npz", "grid.png", "sigmas.json", "sigmas.png", "config.json",
                 "summary.json", "compare.json", "compare.png"):
        assert os.path.exists(os.path.join(out, name)), name
    with np.load(os.path.join(out, "samples.npz")) as data:
        assert data["images"].shape == (3, 8, 8, 1) and data["sigmas"].shape == (3, 4)
        a, b = data["images"].reshape(3, -1), data["images_compare"].reshape(3, -1)
    sigmas = json.load(open(os.path.join(out, "sigmas.json")))
    assert len(sigmas["sigmas"]) == 3 and all(len(s) == 4 for s in sigmas["sigmas"])
    comparison = json.load(open(os.path.join(out, "compare.json")))
    expected = np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    np.testing.assert_allclose(comparison["cosine_similarity"], expected, rtol=1e-5)
    a, b = a - a.mean(1, keepdims=True), b - b.mean(1, keepdims=True)
    expected = np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    np.testing.assert_allclose(comparison["cosine_similarity_mean_removed"], expected, rtol=1e-4)
    assert "3 stopped at max_steps" in result.output
    assert "mean correlation (mean-removed cosine)" in result.output and "plain cosine" in result.output
    # Outcomes apart: 4 steps of a random network reach nothing, every image hits max_steps.
    summary = json.load(open(os.path.join(out, "summary.json")))
    expected = {"reached": 0, "floor": 0, "diverged": 0, "max_steps": 3}
    assert summary["outcome_counts"] == expected == sigmas["outcome_counts"]
    assert sigmas["outcomes"] == ["max_steps"] * 3
    other = sigmas["compare"]["outcomes"]  # the perturbed copy may diverge: counted apart
    assert summary["compare_outcome_counts"] == {k: other.count(k) for k in expected}
    with np.load(os.path.join(out, "samples.npz")) as data:
        assert data["hit_max_steps"].all() and not data["converged"].any()


def test_compare_same_model_gives_cosine_one(models, tmp_path):
    out = str(tmp_path / "same")
    result = _run(["sample", models[0], "--compare", models[0], "--num", "2", "--size", "8",
                   "--max-steps", "3", "--out", out, "--quiet"])
    assert result.exit_code == 0, result.output
    comparison = json.load(open(os.path.join(out, "compare.json")))
    np.testing.assert_allclose(comparison["cosine_similarity"], 1.0, atol=1e-5)
    np.testing.assert_allclose(comparison["cosine_similarity_mean_removed"], 1.0, atol=1e-5)


def test_inverse_problem_task(models, tmp_path):
    image = np.random.default_rng(0).random((8, 8)).astype("float32")
    np.save(tmp_path / "image.npy", image)
    out = str(tmp_path / "sr")
    result = _run(["sample", models[0], "--task", "superres", "--factor", "2", "--image",
                   str(tmp_path / "image.npy"), "--num", "2", "--max-steps", "3", "--out", out,
                   "--quiet"])
    assert result.exit_code == 0, result.output
    with np.load(os.path.join(out, "samples.npz")) as data:
        images, clean = data["images"], data["clean"]
    means = images.reshape(2, 4, 2, 4, 2).mean(axis=(2, 4))
    np.testing.assert_allclose(means, np.broadcast_to(clean.reshape(4, 2, 4, 2).mean((1, 3)),
                                                      (2, 4, 4)), atol=1e-4)
    assert "mean PSNR" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.keras", "--out", "o"], "Model file not found"),
        (["{m}", "--size", "8", "--sigma-final", "2", "--out", "o"], "sigma_final"),
        (["{m}", "--size", "8", "--beta", "0", "--out", "o"], "beta"),
        (["{m}", "--out", "o"], "--size"),
        (["{m}", "--size", "7", "--out", "o"], "divisible"),
        (["{m}", "--task", "inpaint", "--out", "o"], "--image"),
        (["{m}", "--task", "inpaint", "--image", "nope.png", "--out", "o"], "Image not found"),
    ],
)
def test_bad_input_gives_one_line_error(models, tmp_path, args, message):
    names = {"{m}": models[0], "o": str(tmp_path / "o")}
    args = [names.get(a, a) for a in args]
    result = _run(["sample"] + args)
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit)
    assert message in result.output
