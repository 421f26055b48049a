"""Bad inputs and faults through the `gahb` CLI (issue 14): one line, exit != 0, nothing left behind.

Each case asserts the one line on stderr, the exit status, and that the
corrected command then runs in the same folder. Tiny settings: unet_tiny
(1 level, width 8) on 8x8 faces, one epoch.
"""

import json
import os
import struct
import zlib

import numpy as np
import pytest
from click.testing import CliRunner

import keras_gahb.data
from cli.main import gahb

TINY = ["--dataset", "faces", "--n", "4", "--test-size", "4", "--image-size", "8",
        "--preset", "unet_tiny", "--epochs", "1", "--batch-size", "4",
        "--eval-sigmas", "0.1,0.3", "--eval-train-size", "4", "--quiet"]


def _run(*args):
    return CliRunner().invoke(gahb, [str(a) for a in args])


def _with(flags, **changes):
    """TINY with some flags' values replaced (keys as flag names without dashes)."""
    flags = list(flags)
    for key, value in changes.items():
        flags[flags.index(f"--{key.replace('_', '-')}") + 1] = str(value)
    return flags


def _one_line_error(result, *fragments):
    """Exit != 0, exactly one line on stderr holding every fragment, no traceback."""
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def _trained(out, epochs=1):
    state = json.loads((out / "state.json").read_text())
    return state["status"] == "finished" and state["epoch"] == epochs and (out / "model.keras").exists()


@pytest.mark.slow
def test_refused_train_commands_leave_nothing_and_the_corrected_command_runs(tmp_path):
    """Issue 14 cases 1, 2, 4, 5 in one folder (one training run keeps the test small)."""
    out = tmp_path / "r"
    # 1. Unknown preset.
    _one_line_error(_run("train", *_with(TINY, preset="nope"), "--out", out),
                    "Unknown preset 'nope'", "unet_tiny")
    assert not out.exists()  # validated before anything was written
    # 2. Image sizes the UNet cannot take: one sentence, not Keras' call wrapper.
    line = _one_line_error(_run("train", *_with(TINY, image_size=9), "--out", out),
                           "Image size 9", "divisible by 2", "use 8 or 10")
    assert "Exception encountered" not in line
    _one_line_error(_run("train", *_with(TINY, image_size=30, preset="unet_rf90"), "--out", out),
                    "Image size 30", "divisible by 8", "use 24 or 32")
    assert not out.exists()
    # 4. A misspelt model override in a config file.
    config = tmp_path / "run.toml"
    config.write_text("[model_overrides]\nbase_chanels = 4\n")
    _one_line_error(_run("train", *TINY, "--config", config, "--out", out),
                    "base_chanels", "did you mean base_channels", "Valid arguments")
    assert not out.exists()
    # 5. N too large for the 100 faces: what 2N + test means and the largest N that fits.
    _one_line_error(_run("train", *_with(TINY, n=60, test_size=1), "--out", out),
                    "holds 100 images", "N=60", f"need {2 * 60 + 1} images (2N + test)",
                    f"largest N with a test set of 1 is {(100 - 1) // 2}")
    _one_line_error(_run("train", *_with(TINY, n=50, test_size=10), "--out", out),
                    f"need {2 * 50 + 10} images (2N + test)",
                    f"test set of 10 is {(100 - 10) // 2}")
    assert not out.exists()
    # reproduce --set image_size: refused before its run folder is written.
    _one_line_error(_run("reproduce", "transition", "--scale", "tiny", "--set", "image_size=9",
                         "--out", tmp_path / "rep"), "Image size 9", "divisible by 2")
    assert not (tmp_path / "rep").exists()

    # What a run that failed after writing its settings would leave: config.json, split.json.
    out.mkdir()
    record = {"config": {"dataset": "faces", "preset": "nope", "seed": 7}, "data": {}}
    (out / "config.json").write_text(json.dumps(record))
    (out / "split.json").write_text(json.dumps({"s1": [0], "s2": [1], "test": [2]}))
    # The corrected command runs in the same folder.
    config.write_text("[model_overrides]\nbase_channels = 4\n")
    result = _run("train", *TINY, "--config", config, "--out", out)
    assert result.exit_code == 0, result.output
    assert _trained(out)
    saved = json.loads((out / "config.json").read_text())["config"]
    assert saved["preset"] == "unet_tiny" and saved["seed"] == 0 and saved["n"] == 4
    split = json.loads((out / "split.json").read_text())
    assert len(split["s1"]) == len(split["s2"]) == 4  # the stale split was replaced
    import keras

    model = keras.saving.load_model(out / "model.keras")
    assert model.base_channels == 4 and model.get_layer("encoder_0_conv0").filters == 4
    # Once an epoch is finished, other settings are refused as before.
    _one_line_error(_run("train", *_with(TINY, n=5), "--config", config, "--out", out),
                    "other settings", "n:")


def test_model_call_raises_a_plain_value_error_without_the_keras_wrapper():
    model = keras_gahb.models.from_preset("unet_small")
    x = np.zeros((1, 30, 30, 1), "float32")
    for call in (lambda: model(x), lambda: model.predict(x, verbose=0)):
        with pytest.raises(ValueError) as info:
            call()
        message = str(info.value)
        assert "divisible by 4" in message and "28" in message
        assert "Exception encountered" not in message and "[[" not in message
        assert len(message.splitlines()) == 1


def _bomb_png(path, side=100_000):
    """A valid 1x... PNG header claiming side x side gray pixels, with almost no data."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    body = zlib.compress(b"\x00" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body)
                     + chunk(b"IEND", b""))
    assert path.stat().st_size < 2000


def test_decompression_bomb_in_an_image_folder(tmp_path):
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k in range(3):
        pixels = (rng.uniform(size=(12, 12, 3)) * 255).astype("uint8")
        Image.fromarray(pixels).save(folder / f"good{k}.png")
    _bomb_png(folder / "bomb.png")
    out = tmp_path / "prepared"
    _one_line_error(_run("data", "prepare", "folder", "--size", 8, "--n", 3, "-o", f"path={folder}",
                         "-o", "on_error=raise", "--out", out, "--quiet"),
                    "bomb.png", "DecompressionBombError")
    assert not out.exists()
    result = _run("data", "prepare", "folder", "--size", 8, "--n", 3, "-o", f"path={folder}",
                  "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    assert "Skipped 1 unreadable image file(s)" in result.stderr and "bomb.png" in result.stderr
    images, manifest = keras_gahb.data.load_prepared(str(out))
    assert images.shape == (3, 8, 8, 1) and manifest["counts"]["written"] == 3


def test_unexpected_exception_is_one_line_with_the_debug_hint(monkeypatch):
    class Surprise(Exception):
        pass

    def broken():
        raise Surprise("something nobody planned for\nsecond line")

    monkeypatch.setattr(keras_gahb.data, "list_datasets", broken)
    monkeypatch.delenv("GAHB_DEBUG", raising=False)
    _one_line_error(_run("data", "list"), "Surprise: something nobody planned for",
                    "GAHB_DEBUG=1")
    monkeypatch.setenv("GAHB_DEBUG", "1")
    assert isinstance(_run("data", "list").exception, Surprise)  # the full traceback
    monkeypatch.undo()
    assert _run("data", "list").exit_code == 0


def test_unknown_constructor_arguments_are_rejected_by_name():
    with pytest.raises(ValueError, match="foo.*Valid arguments: levels, base_channels"):
        keras_gahb.models.from_preset("unet_tiny", foo=1)
    with pytest.raises(ValueError, match="num_layer.*did you mean num_layers"):
        keras_gahb.models.BFCNN(num_layer=3)
    assert keras_gahb.models.check_preset("unet_rf90", image_size=32) == 8


def test_stale_temporary_shards_are_removed_on_the_next_prepare(tmp_path):
    out = tmp_path / "discs"
    out.mkdir()
    # What a SIGKILL between writing a shard and renaming it leaves behind.
    stale = [".images-00000-of-00001.k9x_2a.tmp.npz", ".manifest.q1w2.tmp.json"]
    for name in stale:
        (out / name).write_bytes(b"partial")
    (out / "notes.tmp.npz").write_bytes(b"the user's own file")
    result = _run("data", "prepare", "discs", "--size", 8, "--n", 4, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(out)) == ["images-00000-of-00001.npz", "manifest.json",
                                       "notes.tmp.npz"]


def test_convert_refuses_a_code_carrying_pickle_and_creates_the_output_folder(tmp_path,
                                                                               monkeypatch):
    torch = pytest.importorskip("torch")
    from tests.reference.official_models import ReferenceUNet

    class Payload:
        def __reduce__(self):
            return (os.system, ("touch pwned_by_checkpoint",))

    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "evil.pt"
    torch.save({"encoder.0.0.weight": Payload()}, evil)
    out = tmp_path / "new" / "folder" / "converted.keras"
    line = _one_line_error(_run("convert", evil, out), "refused because it carries code",
                           "system")
    assert "add_safe_globals" not in line and "weights_only" not in line
    assert not (tmp_path / "pwned_by_checkpoint").exists()
    assert not out.exists()
    torch.manual_seed(0)
    good = tmp_path / "good.pt"
    torch.save(ReferenceUNet(num_blocks=1, num_kernels=4).state_dict(), good)
    result = _run("convert", good, out)
    assert result.exit_code == 0, result.output
    assert out.exists()


@pytest.mark.slow
def test_train_default_out_then_sample_and_analyze_read_the_trained_size(tmp_path, monkeypatch):
    """Issue 18: `gahb train` without --out, then sample/analyze without --size, output paths."""
    monkeypatch.chdir(tmp_path)
    result = _run("train", *TINY)
    assert result.exit_code == 0, result.output
    run = os.path.join("gahb_runs", "faces_n4_unet_tiny")
    assert f"Run directory: {run}" in result.output and f"Wrote {run}/ " in result.output
    model = os.path.join(run, "model.keras")
    assert os.path.exists(model)

    # The model takes any size; the size comes from the run's config.json (8, not a guess).
    result = _run("sample", model, "--num", 2, "--max-steps", 2, "--quiet", "--out", "samples/")
    assert result.exit_code == 0, result.output
    assert "Wrote samples/\n" in result.output and "samples//" not in result.output
    with np.load(os.path.join("samples", "samples.npz")) as data:
        assert data["images"].shape == (2, 8, 8, 1)
    result = _run("sample", model, "--compare", model, "--num", 2, "--max-steps", 2, "--quiet",
                  "--out", "compare")
    assert result.exit_code == 0, result.output
    assert result.output.count(f"{model}: 2 images:") == 2  # both models' summaries

    sigmas = [0.1, 0.2]
    result = _run("analyze", "psnr", model, "--train", "faces", "--num", 4, "--sigmas", "0.1,0.2",
                  "--out", "psnr")
    assert result.exit_code == 0, result.output
    rows = {line.split("  ")[0].strip(): line.split()[-len(sigmas):]
            for line in result.output.splitlines() if "  " in line}
    assert rows["sigma"] == ["0.1", "0.2"]
    assert rows["input PSNR (dB)"] == [f"{-20 * np.log10(s):.2f}" for s in sigmas]
    # Without --label a model is named by its run folder (issue 27), not by its index.
    written = json.loads(open(os.path.join("psnr", "psnr.json")).read())["faces_n4_unet_tiny"]
    assert rows["faces_n4_unet_tiny train (dB)"] == [f"{v:.2f}" for v in written["train"]["output_psnr"]]

    # Sizes the model cannot take (issue 14 case 2): one sentence, no input array.
    line = _one_line_error(_run("sample", model, "--size", 7, "--num", 2, "--out", "s3"),
                           "divisible by 2")
    assert "array" not in line and "Exception encountered" not in line
    line = _one_line_error(_run("analyze", "psnr", "unet_small", "--train", "faces", "--size", 30,
                                "--num", 2, "--out", "a3"), "divisible by 4")
    assert "array" not in line and "Exception encountered" not in line

    # A model file with no run folder beside it: the error names no made-up size.
    os.makedirs("loose")
    os.replace(model, os.path.join("loose", "model.keras"))
    line = _one_line_error(_run("sample", os.path.join("loose", "model.keras"), "--out", "s2"),
                           "pass --size")
    assert "40" not in line


def test_reproduce_folder_without_results_takes_corrected_settings(tmp_path):
    import importlib

    from keras_gahb.experiments.reproduction_config import config_for_scale

    reproduce_module = importlib.import_module("keras_gahb.experiments.reproduce")

    out = tmp_path / "rep"
    _one_line_error(_run("reproduce", "transition", "--scale", "tiny", "--set", "dataset=nosuch",
                         "--out", out), "Unknown dataset 'nosuch'")
    assert not out.exists()
    # A folder whose settings were written but where nothing finished: the new settings win ...
    (out / "parts").mkdir(parents=True)
    (out / "config.json").write_text(json.dumps({"scale": "tiny", "epochs": 99}))
    config = config_for_scale("tiny")
    reproduce_module.check_or_write_config(str(out), config)
    assert json.loads((out / "config.json").read_text())["epochs"] == config.epochs
    # ... but once a part is finished, other settings are refused.
    (out / "parts" / "transition.json").write_text("{}")
    with pytest.raises(ValueError, match="other settings"):
        reproduce_module.check_or_write_config(str(out), config_for_scale("tiny", epochs=2))
