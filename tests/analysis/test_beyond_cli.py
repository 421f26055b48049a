"""`gahb analyze references | dynamics | branching | dimension` write JSON + PNG and fail in one line."""

import json

import matplotlib.image
import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import gahb


def _invoke(args):
    return CliRunner().invoke(gahb, args)


def _png(path):
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 50 and image[..., :3].std() > 0


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("beyond")
    rng = np.random.default_rng(0)
    np.save(folder / "train.npy", rng.random((10, 8, 8, 1), dtype=np.float32))
    np.save(folder / "other.npy", rng.random((10, 8, 8, 1), dtype=np.float32))
    np.save(folder / "test.npy", rng.random((4, 8, 8, 1), dtype=np.float32))
    return folder


def test_references_cli(data, tmp_path):
    result = _invoke(["analyze", "references", "unet_tiny", "--train", str(data / "train.npy"),
                      "--images", str(data / "test.npy"), "--references", "wiener,els,smoothed",
                      "--options", '{"els": {"patch_size": 3}}', "--sigmas", "0.1,0.3", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "references.json").read_text())
    assert set(summary["references"]) == {"wiener", "els", "smoothed"} and len(summary["closest"]) == 2
    _png(tmp_path / "references.png")


def test_dimension_cli_matches_gaussian_closed_form(tmp_path):
    result = _invoke(["analyze", "dimension", "reference:wiener", "--image", "gaussian", "--size", "6",
                      "--train", "gaussian", "--num-train", "100", "--sigmas", "0.05,0.2", "--top-k", "8",
                      "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "dimension.json").read_text())
    np.testing.assert_allclose(summary["trace"], summary["gaussian_trace"], rtol=1e-4)
    _png(tmp_path / "dimension.png")


def test_branching_cli_with_agreement(data, tmp_path):
    result = _invoke(["analyze", "branching", "reference:empirical", "--train", str(data / "train.npy"),
                      "--size", "8", "--num", "1", "--branch-sigmas", "0.3", "--num-branches", "2",
                      "--compare", f"reference:empirical:{data / 'other.npy'}", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "branching.json").read_text())
    assert summary["memorization_ratio_of_endpoints"] == 1.0
    assert (tmp_path / "agreement.json").exists()
    _png(tmp_path / "branching.png")
    _png(tmp_path / "agreement.png")


def test_dynamics_cli_records_every_n_and_the_fit_source(data, tmp_path):
    result = _invoke(["analyze", "dynamics", "--data", str(data / "train.npy"), "--ns", "2,3,4", "--size", "8",
                      "--num-test", "4", "--steps", "4", "--every", "2", "--num-samples", "2",
                      "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "dynamics.json").read_text())
    assert summary["ns"] == [2, 3, 4] and summary["stop_at_memorization"] is True
    for n in ("2", "3", "4"):
        records = summary["records"][n]
        # A run stops at its first evaluation above ratio 0.5, else runs both evaluations.
        assert [r["step"] for r in records] in ([2], [2, 4])
        assert (len(records) == 1) == (records[0]["memorization_ratio"] > 0.5)
        assert all(0 <= r["median_distance_ratio"] <= 1 for r in records)
    assert summary["fit_gen"]["num_points"] == 3 and "N=4: tau_gen" in result.output
    _png(tmp_path / "dynamics.png")


@pytest.mark.parametrize("args, message", [
    (["references", "unet_tiny", "--train", "missing.npy", "--images", "x.npy", "--out", "o"], "not found"),
    (["dimension", "reference:nope", "--image", "gaussian", "--size", "6", "--train", "gaussian",
      "--num-train", "10", "--out", "o"], "Unknown reference"),
    (["branching", "reference:wiener", "--train", "gaussian", "--num-train", "10", "--size", "6",
      "--out", "o"], "blind"),
    (["dynamics", "--data", "faces", "--ns", "4", "--steps", "10", "--every", "100", "--out", "o"], "every"),
])
def test_beyond_cli_errors(args, message, tmp_path):
    result = _invoke(["analyze"] + args[:-1] + [str(tmp_path / "o")])
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output
