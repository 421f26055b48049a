"""Figures are valid PNGs; `gahb analyze` writes JSON + PNG and fails cleanly on bad input."""

import json
import os
import re

import matplotlib.image
import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import gahb
from keras_gahb import analysis
from keras_gahb.analysis import figures


def _png(path):
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 50 and image.shape[1] > 50
    assert image[..., :3].std() > 0  # not blank


def test_figures_write_pngs(tmp_path):
    rng = np.random.default_rng(0)
    imgs = rng.random((4, 8, 8, 1))
    rows = [{"n": n, "images": list(imgs), "similarity": 0.9} for n in (1, 1000)]
    _png(figures.fig1_layout(tmp_path / "fig1.png", rows))
    result = analysis.EigenAnalysis(imgs[0], imgs[1], imgs[2], 0.1, np.linspace(1.2, 0, 64),
                                    np.linalg.qr(rng.standard_normal((64, 64)))[0], 30.0, 0.0, 0.01)
    _png(figures.fig2_layout(tmp_path / "fig2.png", result))
    curve = {"input_psnr": np.array([10.0, 20.0]), "output_psnr": np.array([22.0, 28.0])}
    _png(figures.psnr_curves_figure(tmp_path / "psnr.png", {1: {"train": curve, "test": curve}}))
    sigmas = np.geomspace(0.01, 0.2, 5)
    fit = analysis.mse_slope(sigmas, sigmas**1.5)
    _png(figures.mse_slope_figure(tmp_path / "slope.png", sigmas, {"m": sigmas**1.5}, {"m": fit},
                                  optimal=sigmas**2))
    _png(figures.similarity_histograms(tmp_path / "sim.png", {10: {"a": rng.random(50)}}))
    _png(figures.train_test_gap_figure(tmp_path / "gap.png", {"40x40": {1: 10.0, 100: 2.0}}))
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".")]  # no temporary files left


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(1)
    train = rng.random((6, 8, 8, 1), dtype=np.float32)
    np.save(folder / "train.npy", train)
    np.save(folder / "image.npy", train[0, ..., 0])
    samples = train[:3] + 0.001 * rng.standard_normal((3, 8, 8, 1)).astype(np.float32)
    np.savez(folder / "samples.npz", images=samples, images_compare=rng.random((3, 8, 8, 1)))
    return folder


def _invoke(args):
    return CliRunner().invoke(gahb, args)


def test_analyze_jacobian_cli(data, tmp_path):
    result = _invoke(["analyze", "jacobian", "unet_tiny", "--image", str(data / "image.npy"),
                      "--sigma", "0.1", "--out", str(tmp_path), "--quiet"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "eigen.json").read_text())
    assert summary["bias_free_error"] < 1e-5
    assert summary["effective_dimensionality"] == pytest.approx(summary["sum_of_eigenvalues"], rel=1e-4)
    # SURE and sigma^2 tr J / D, apart, and the measured Jacobian facts.
    assert "SURE of the MSE" in result.output and "optimal denoiser only" in result.output
    assert summary["optimal_mse_identity"] == pytest.approx(
        0.1**2 * summary["effective_dimensionality"] / np.prod(summary["image_shape"]), rel=1e-5)
    assert summary["sure_mse"] is not None and "asymmetry" in summary["jacobian_facts"]
    _png(tmp_path / "fig2.png")


def test_analyze_psnr_slope_similarity_cli(data, tmp_path):
    train = str(data / "train.npy")
    result = _invoke(["analyze", "psnr", "unet_tiny", "--train", train, "--test", train,
                      "--sigmas", "0.1,0.2", "--label", "6", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    psnr = json.loads((tmp_path / "psnr.json").read_text())
    np.testing.assert_allclose(psnr["6"]["train_test_gap"], [0.0, 0.0], atol=1e-6)  # same images
    result = _invoke(["analyze", "slope", "unet_tiny", "--images", train, "--num-sigmas", "3",
                      "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    slope = json.loads((tmp_path / "slope.json").read_text())
    assert "slope" in slope and set(slope["oracle"]) == {"dct", "haar"}
    assert "oracle projection risk on the same images: slope DCT" in result.output
    result = _invoke(["analyze", "similarity", str(data / "samples.npz"), "--train", train,
                      "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    similarity = json.loads((tmp_path / "similarity.json").read_text())
    assert similarity["memorization_ratio"] == 1.0  # the samples are copies of training images
    assert similarity["nearest_indices"] == [0, 1, 2]
    for name in ("psnr.png", "slope.png", "similarity.png", "nearest.png"):
        _png(tmp_path / name)


@pytest.mark.parametrize(
    "args, message",
    [
        (["analyze", "jacobian", "no_such_model", "--image", "x.npy", "--sigma", "0.1"], "Model not found"),
        (["analyze", "jacobian", "unet_tiny", "--image", "missing.npy", "--sigma", "0.1"], "not found"),
        (["analyze", "psnr", "unet_tiny"], "--train"),
        (["analyze", "slope", "unet_tiny", "--images", "missing.npy", "--sigma-min", "0.3"], "sigma_min"),
    ],
)
def test_analyze_bad_input(args, message, tmp_path):
    result = _invoke(args + ["--out", str(tmp_path)])
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit)
    assert message in result.output


def test_similarity_cli_headlines_the_correlation(tmp_path):
    """Two sets of samples 0.5 + a and 0.5 + b with a, b zero-mean and orthogonal: plain cosine
    0.25 D / sqrt((0.25 D + |a|^2)(0.25 D + |b|^2)) is near 1, the correlation (mean-removed
    cosine) is 0."""
    rng = np.random.default_rng(0)
    u = rng.standard_normal((3, 64))
    v = rng.standard_normal((3, 64))
    for x in (u, v):
        x -= x.mean(axis=1, keepdims=True)
    v -= (np.sum(u * v, axis=1, keepdims=True) / np.sum(u * u, axis=1, keepdims=True)) * u
    a = (0.5 + 0.05 * u).reshape(3, 8, 8, 1).astype("float32")
    b = (0.5 + 0.05 * v).reshape(3, 8, 8, 1).astype("float32")
    np.savez(tmp_path / "a.npz", images=a)
    np.savez(tmp_path / "b.npz", images=b)
    np.save(tmp_path / "train.npy", a)
    result = _invoke(["analyze", "similarity", str(tmp_path / "a.npz"), "--train",
                      str(tmp_path / "train.npy"), "--compare", str(tmp_path / "b.npz"),
                      "--out", str(tmp_path / "sim")])
    assert result.exit_code == 0, result.output
    line = next(s for s in result.output.splitlines() if "between the two models" in s)
    assert line.startswith("mean correlation between the two models' samples: ")
    correlation, plain = (float(x) for x in re.findall(r"-?\d+\.\d{4}", line))
    assert abs(correlation) < 1e-3
    norms = [np.sum((0.05 * x) ** 2, axis=1) for x in (u, v)]
    expected_plain = np.mean(16 / np.sqrt((16 + norms[0]) * (16 + norms[1])))
    assert plain == pytest.approx(expected_plain, abs=2e-4) and plain > 0.99
