"""`gahb train` through click's CliRunner: a tiny run, config precedence, one-line errors."""

import json
import os

import pytest
from click.testing import CliRunner

from cli.main import gahb

TINY_FLAGS = [
    "--dataset", "faces", "--n", "8", "--test-size", "4", "--image-size", "8",
    "--preset", "unet_tiny", "--epochs", "2", "--batch-size", "4", "--eval-sigmas", "0.1,0.3",
    "--eval-train-size", "4", "--quiet",
]


def _run(args):
    return CliRunner().invoke(gahb, ["train", *args])


def _assert_one_line_error(result, *fragments):
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), result.exception  # no traceback
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output, result.output


def test_tiny_run_end_to_end_and_rerun_returns_finished(tmp_path):
    out = str(tmp_path / "run")
    result = _run([*TINY_FLAGS, "--out", out])
    assert result.exit_code == 0, result.output
    assert "2 epochs" in result.output and "test PSNR gain" in result.output
    for name in ("config.json", "split.json", "model.keras", "model_best.keras", "history.csv",
                 "psnr_curves.json", "psnr_curves.png"):
        assert os.path.exists(os.path.join(out, name)), name
    with open(os.path.join(out, "config.json")) as f:
        config = json.load(f)["config"]
    assert config["epochs"] == 2 and config["eval_sigmas"] == [0.1, 0.3]
    with open(os.path.join(out, "split.json")) as f:
        split = json.load(f)
    assert len(split["s1"]) == len(split["s2"]) == 8 and not set(split["s1"]) & set(split["s2"])

    again = _run([*TINY_FLAGS, "--out", out])
    assert again.exit_code == 0 and "already finished" in again.output
    changed = _run([*TINY_FLAGS, "--out", out, "--seed", "1"])
    _assert_one_line_error(changed, "other settings", "seed")


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_config_file_precedence(tmp_path, suffix):
    path = tmp_path / f"run{suffix}"
    if suffix == ".toml":
        path.write_text('epochs = 7\nbatch_size = 8\nema = false\nout = "from_file"\n'
                        'eval_sigmas = [0.05, 0.1]\n[dataset_options]\n')
    else:
        path.write_text(json.dumps({"epochs": 7, "batch-size": 8, "ema": False,
                                    "out": "from_file", "eval_sigmas": [0.05, 0.1]}))
    result = _run(["--config", str(path), "--epochs", "3", "--print-config"])
    assert result.exit_code == 0, result.output
    resolved = json.loads(result.output)
    assert resolved["epochs"] == 3  # the flag wins over the file
    assert resolved["batch_size"] == 8 and resolved["ema"] is False  # from the file
    assert resolved["eval_sigmas"] == [0.05, 0.1] and resolved["out"] == "from_file"
    assert resolved["preset"] == "unet_small"  # a default
    flagged = _run(["--config", str(path), "--ema", "--out", "x", "--print-config"])
    assert json.loads(flagged.output)["ema"] is True and json.loads(flagged.output)["out"] == "x"


def test_bad_config_key_lists_valid_keys(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("epochz = 3\n")
    result = _run(["--config", str(path), "--out", str(tmp_path / "o")])
    _assert_one_line_error(result, "epochz", "Valid keys", "batch_size", "eval_sigmas")


def test_string_boolean_in_config_is_an_error(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"ema": "False"}))
    _assert_one_line_error(_run(["--config", str(path), "--print-config"]),
                           "ema must be true or false")


@pytest.mark.parametrize("args, fragment", [
    (["--epochs", "0"], "--epochs"),
    (["--precision", "float8"], "--precision"),
    (["--eval-sigmas", "0.1,x"], "--eval-sigmas"),
    (["--noise", "cubic"], "--noise"),
    (["--strategy", "horovod"], "--strategy"),
])
def test_bad_flag_values(tmp_path, args, fragment):
    _assert_one_line_error(_run([*args, "--out", str(tmp_path / "o")]), fragment)


def test_missing_data_and_files(tmp_path):
    too_many = _run(["--dataset", "faces", "--n", "60", "--out", str(tmp_path / "o")])
    _assert_one_line_error(too_many, "holds 100 images", "(2N + test)", "largest N")
    unknown = _run(["--dataset", "nosuch", "--out", str(tmp_path / "o")])
    _assert_one_line_error(unknown, "Unknown dataset", "faces")
    missing = _run(["--config", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "o")])
    _assert_one_line_error(missing, "Config file not found")
    default_out = _run(["--n", "8", "--preset", "unet_tiny", "--print-config"])
    assert json.loads(default_out.output)["out"] == "gahb_runs/faces_n8_unet_tiny"


def test_a_precision_the_machine_cannot_train_is_refused_before_writing(tmp_path, monkeypatch):
    """`gahb train --precision` and `gahb reproduce --set precision=` refuse a precision whose
    one-step probe fails, in one line naming float32, and leave no folder behind."""
    from keras_gahb.training import precision as module

    monkeypatch.setattr(module, "_PROBED", {})
    monkeypatch.setattr(module, "_probe", lambda precision, channels: (
        "RuntimeError: slow_conv2d: grad_weight must be contiguous"
        if precision == "mixed_float16" else None))
    out = tmp_path / "run"
    refused = _run([*TINY_FLAGS, "--precision", "mixed_float16", "--out", str(out)])
    _assert_one_line_error(refused, "precision='mixed_float16' cannot train",
                           "grad_weight must be contiguous", "Use precision='float32'")
    assert not out.exists()
    reproduce_out = tmp_path / "reproduce"
    refused = CliRunner().invoke(gahb, ["reproduce", "--scale", "tiny", "--out",
                                        str(reproduce_out), "--set", "precision=mixed_float16"])
    _assert_one_line_error(refused, "precision='mixed_float16' cannot train")
    assert not reproduce_out.exists()


@pytest.mark.slow
def test_stack_trains_s1_and_s2_side_by_side_in_their_own_folders(tmp_path):
    s1, s2 = str(tmp_path / "s1"), str(tmp_path / "s2")
    flags = [f if f != "2" else "1" for f in TINY_FLAGS]  # one epoch
    result = _run([*flags, "--out", s1, "--stack", f"{s2}:split=s2"])
    assert result.exit_code == 0, result.output
    configs = []
    for out in (s1, s2):
        with open(os.path.join(out, "config.json")) as f:
            configs.append(json.load(f)["config"])
        assert os.path.exists(os.path.join(out, "model.keras"))
    assert [c["split"] for c in configs] == ["s1", "s2"]
    with open(os.path.join(s2, "split.json")) as f:
        assert json.load(f)["used"] == "s2"
    bad = _run([*flags, "--out", str(tmp_path / "a"), "--stack", f"{tmp_path / 'b'}:lr=0.1"])
    _assert_one_line_error(bad, "per-model options")
