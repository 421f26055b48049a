"""benchmarks/time_to_quality.py with a tiny budget: its curves, its clock, its target rule."""

import importlib.util
import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _module():
    spec = importlib.util.spec_from_file_location(
        "time_to_quality", os.path.join(ROOT, "benchmarks", "time_to_quality.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_budget_writes_curves_and_a_table(tmp_path):
    ttq = _module()
    out = str(tmp_path / "ttq")
    result = CliRunner().invoke(ttq.main, [
        "--configs", "paper,cpu:loss_weight=inverse_sqrt_sigma;lr=1e-3", "--images", "64",
        "--eval-every", "32", "--n-train", "32", "--test-size", "8", "--size", "8",
        "--preset", "unet_tiny", "--model", "base_channels=4", "--batch-size", "16",
        "--peak-size", "64", "--out", out, "--quiet"])
    assert result.exit_code == 0, result.output
    summary = json.load(open(os.path.join(out, "curves.json")))
    assert summary["setup"]["model_options"] == {"base_channels": 4}
    # The oracle projection risk sum_k min(c_k^2, sigma^2) / D never exceeds sigma^2: its PSNR
    # is at least -20 log10(sigma) at every noise level, for both bases, and is in the table.
    for basis in ("dct", "haar"):
        for key, psnr in summary["oracle_psnr"][basis].items():
            assert psnr >= -20 * np.log10(float(key)) - 1e-3
    assert "oracle DCT projection risk" in result.output
    assert os.path.getsize(os.path.join(out, "curves.png")) > 1000
    assert summary["sigmas"] == [0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4]
    # The input PSNR of noise sigma z on [0, 1] images is -20 log10(sigma) - 10 log10(|z|^2 / D):
    # one z for every sigma, so two levels differ by exactly 20 log10 of their ratio (and each is
    # near -20 log10(sigma), up to the spread of 8 images of 64 pixels); clean input: 100 dB cap.
    inputs = summary["input_psnr"]
    assert inputs["0"] == pytest.approx(100.0)
    for sigma in (0.01, 0.1, 0.4):
        assert inputs[f"{sigma:g}"] - inputs["0.2"] == pytest.approx(
            -20 * np.log10(sigma / 0.2), abs=2e-3)
        assert inputs[f"{sigma:g}"] == pytest.approx(-20 * np.log10(sigma), abs=1.5)
    labels = [c["label"] for c in summary["configurations"]]
    assert labels == ["paper", "cpu:loss_weight=inverse_sqrt_sigma,lr=1e-3"]
    cpu = summary["configurations"][1]
    assert cpu["lr"] == 1e-3 and "inverse_sqrt_sigma" in cpu["recipe"]
    for config in summary["configurations"]:
        curve = config["curve"]
        assert [p["images"] for p in curve] == [0, 32, 64]
        seconds = [p["cpu_seconds"] for p in curve]
        assert seconds[0] == 0 and seconds[1] > 0 and seconds[2] >= seconds[1]
    assert summary["machine"]["fp32_matmul_peak_gflops"] > 0 and summary["machine"]["cpu"]
    assert "CPU-s to +1 dB at 0.02" in result.output and "GFLOP/s" in result.output


def test_time_to_target_is_the_first_point_one_db_above_the_input():
    ttq = _module()
    inputs = {"0.02": 34.0}
    curve = [{"cpu_seconds": t, "psnr": {"0.02": v}} for t, v in
             [(0, 20.0), (10, 34.9), (20, 35.0), (30, 36.0)]]
    assert ttq.time_to_target(curve, inputs)["cpu_seconds"] == 20
    assert ttq.time_to_target(curve[:2], inputs) is None


def test_bad_configuration_is_a_usage_error():
    ttq = _module()
    result = CliRunner().invoke(ttq.main, ["--configs", "cpu:weight=2", "--images", "32",
                                           "--eval-every", "32"])
    assert result.exit_code == 2 and "use key=value" in result.output


def test_model_overrides_parse_numbers_and_refuse_junk():
    ttq = _module()
    assert ttq.parse_model_options("base_channels=32; levels=3") == {"base_channels": 32,
                                                                      "levels": 3}
    assert ttq.parse_model_options("gamma_initializer=authors") == {
        "gamma_initializer": "authors"}
    assert ttq.parse_model_options("") == {}
    result = CliRunner().invoke(ttq.main, ["--model", "oops", "--images", "32",
                                           "--eval-every", "32"])
    assert result.exit_code == 2 and "use key=value" in result.output
