"""Loading the authors' PyTorch checkpoints: outputs match an independent PyTorch reference."""

import os
import pickle
import sys

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import gahb
from keras_gahb.models import BFCNN, BiasFreeUNet, load_official_checkpoint
from keras_gahb.models.official_checkpoint import (
    inspect_official_checkpoint,
    read_official_checkpoint,
)

RTOL = 1e-4


def _torch():
    return pytest.importorskip("torch")


def _reference():
    _torch()
    from tests.reference import official_models

    return official_models


def _images(shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, size=shape).astype("float32")


def _torch_residual(net, y):
    torch = _torch()
    with torch.no_grad():
        out = net.eval()(torch.from_numpy(np.ascontiguousarray(y.transpose(0, 3, 1, 2))))
    return out.numpy().transpose(0, 2, 3, 1)


def _assert_matches_reference(model, net, y):
    """The Keras denoiser returns y - net(y): its residual equals the PyTorch output."""
    residual = y - keras.ops.convert_to_numpy(model(y, training=False))
    expected = _torch_residual(net, y)
    scale = np.abs(expected).max()
    assert scale > 0
    error = np.abs(residual - expected).max() / scale
    assert error < RTOL, f"relative error {error:.2e} >= {RTOL}"


def _save(net_or_state, tmp_path, name="model.pt"):
    torch = _torch()
    state = net_or_state if isinstance(net_or_state, dict) else net_or_state.state_dict()
    path = os.path.join(tmp_path, name)
    torch.save(state, path)
    return path


def _unet(levels, kernels=4, channels=1, seed=0):
    ref = _reference()
    _torch().manual_seed(seed)
    return ref.randomize_batch_norms(ref.ReferenceUNet(levels, kernels, channels), seed).eval()


def _bfcnn(layers=5, kernels=4, channels=1, first_layer_linear=True, seed=0):
    ref = _reference()
    _torch().manual_seed(seed)
    net = ref.ReferenceBFCNN(layers, kernels, channels, first_layer_linear)
    return ref.randomize_batch_norms(net, seed).eval()


# === Outputs match the PyTorch reference ===


@pytest.mark.parametrize("levels", [1, 2, 3, 4])
def test_unet_matches_pytorch_reference_at_every_depth(levels, tmp_path):
    net = _unet(levels)
    model = load_official_checkpoint(_save(net, tmp_path))
    assert isinstance(model, BiasFreeUNet)
    assert (model.levels, model.base_channels, model.image_channels) == (levels, 4, 1)
    _assert_matches_reference(model, net, _images((2, 16, 16, 1)))


def test_color_unet_with_dataparallel_prefix(tmp_path):
    torch = _torch()
    net = _unet(2, kernels=4, channels=3)
    state = torch.nn.DataParallel(net).state_dict()
    assert all(key.startswith("module.") for key in state)
    path = _save(state, tmp_path)
    info = inspect_official_checkpoint(path)
    assert info["prefix"] == "module."
    assert info["config"] == {"levels": 2, "base_channels": 4, "image_channels": 3}
    _assert_matches_reference(load_official_checkpoint(path), net, _images((2, 8, 16, 3)))


@pytest.mark.parametrize("first_layer_linear", [True, False], ids=["linear", "relu"])
def test_bfcnn_matches_reference_and_first_layer_option_matters(first_layer_linear, tmp_path):
    net = _bfcnn(first_layer_linear=first_layer_linear)
    path = _save(net, tmp_path)
    y = _images((2, 12, 12, 1)) - 0.5  # negative first-layer responses, so the ReLU matters
    model = load_official_checkpoint(path, first_layer_relu=not first_layer_linear)
    assert isinstance(model, BFCNN)
    assert (model.num_layers, model.channels) == (5, 4)
    _assert_matches_reference(model, net, y)
    wrong = load_official_checkpoint(path, first_layer_relu=first_layer_linear)
    with pytest.raises(AssertionError):
        _assert_matches_reference(wrong, net, y)


def test_bfcnn_default_is_the_loaders_linear_first_layer():
    net = _bfcnn(first_layer_linear=True)
    model = load_official_checkpoint(net.state_dict())
    assert model.first_layer_relu is False
    _assert_matches_reference(model, net, _images((2, 12, 12, 1)) - 0.5)


def test_numpy_state_dict_and_half_precision_tensors(tmp_path):
    torch = _torch()
    net = _unet(1)
    half = {key: value.to(torch.bfloat16) for key, value in net.state_dict().items()}
    net.load_state_dict({key: value.float() for key, value in half.items()})
    model = load_official_checkpoint(_save(half, tmp_path))
    _assert_matches_reference(model, net, _images((2, 16, 16, 1)))
    arrays = {key: value.numpy() for key, value in net.state_dict().items()}
    _assert_matches_reference(load_official_checkpoint(arrays), net, _images((2, 16, 16, 1)))


def test_inspect_counts_tensors_and_parameters_like_pytorch(tmp_path):
    net = _unet(3, kernels=8)
    info = inspect_official_checkpoint(_save(net, tmp_path))
    assert info["class"] == "BiasFreeUNet"
    assert info["num_tensors"] == len(net.state_dict()) == 41
    assert info["trainable_params"] == sum(p.numel() for p in net.parameters())
    state = read_official_checkpoint(_save(net, tmp_path))
    assert set(state) == set(net.state_dict())
    assert state["upsample.0.weight"].shape == (16, 8, 2, 2)


# === Rejections ===


@pytest.mark.parametrize(
    "edit, words",
    [
        (lambda s: s.update({"encoder.0.0.bias": np.zeros(4, "float32")}), ["unexpected", "encoder.0.0.bias"]),
        (lambda s: s.pop("mid_block.4.gammas"), ["missing", "mid_block.4.gammas"]),
        (lambda s: s.update({"upsample.0.weight": np.zeros((8, 4, 3, 3), "float32")}),
         ["wrong shapes", "upsample.0.weight", "(8, 4, 3, 3)", "(8, 4, 2, 2)"]),
        (lambda s: s["decoder.0.1.running_sd"].__setitem__((0, 0, 0, 0), 0.0), ["running_sd", "decoder.0.1"]),
        (lambda s: s["encoder.0.2.weight"].__setitem__((0, 0, 0, 0), np.nan), ["non-finite", "encoder.0.2.weight"]),
        (lambda s: (s.clear(), s.update({"fc.weight": np.ones((2, 2), "float32")})),
         ["not a checkpoint", "fc.weight"]),
    ],
    ids=["unexpected", "missing", "shape", "running_sd", "nan", "foreign"],
)
def test_bad_tensors_are_rejected_by_name(edit, words):
    state = {key: value.numpy().copy() for key, value in _unet(1).state_dict().items()}
    edit(state)
    with pytest.raises(ValueError) as info:
        load_official_checkpoint(state)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_unnumbered_bfcnn_layers_are_rejected():
    state = {"conv_layers.weight": np.ones((4, 1, 3, 3), "float32")}
    with pytest.raises(ValueError, match="numbered 0..L-1"):
        load_official_checkpoint(state)


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch pwned_by_checkpoint",))


def test_reading_never_executes_code_from_the_file(tmp_path, monkeypatch):
    torch = _torch()
    monkeypatch.chdir(tmp_path)
    path = os.path.join(tmp_path, "evil.pt")
    torch.save({"encoder.0.0.weight": _Payload()}, path, pickle_protocol=2)
    with pytest.raises(ValueError, match="not loaded"):
        load_official_checkpoint(path)
    assert not os.path.exists(os.path.join(tmp_path, "pwned_by_checkpoint"))
    with open(path, "wb") as f:  # legacy plain pickle, no zip container
        pickle.dump({"a": _Payload()}, f, protocol=2)
    with pytest.raises(ValueError):
        load_official_checkpoint(path)
    assert not os.path.exists(os.path.join(tmp_path, "pwned_by_checkpoint"))


def test_missing_file_and_garbage_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_official_checkpoint(os.path.join(tmp_path, "nope.pt"))
    _torch()
    path = os.path.join(tmp_path, "garbage.pt")
    with open(path, "wb") as f:
        f.write(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="garbage.pt"):
        load_official_checkpoint(path)


def test_missing_torch_gives_install_instructions(tmp_path, monkeypatch):
    path = os.path.join(tmp_path, "model.pt")
    with open(path, "wb") as f:
        f.write(b"\0")
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    with pytest.raises(ImportError, match="pip install torch"):
        load_official_checkpoint(path)


def test_first_layer_option_is_refused_for_a_unet():
    with pytest.raises(ValueError, match="BF-CNN"):
        load_official_checkpoint(_unet(1).state_dict(), first_layer_relu=True)


# === CLI ===


def test_cli_convert_writes_an_equivalent_keras_model(tmp_path):
    net = _bfcnn(first_layer_linear=False)
    path = _save(net, tmp_path)
    out = os.path.join(tmp_path, "converted.keras")
    result = CliRunner().invoke(gahb, ["convert", path, out, "--first-layer-relu"])
    assert result.exit_code == 0, result.output
    assert "BFCNN(num_layers=5, channels=4, image_channels=1, first_layer_relu=True)" in result.output
    loaded = keras.saving.load_model(out, safe_mode=True)
    _assert_matches_reference(loaded, net, _images((2, 12, 12, 1)) - 0.5)


def test_cli_convert_bad_inputs_exit_with_one_line_errors(tmp_path):
    state = {key: value.numpy() for key, value in _unet(1).state_dict().items()}
    state["extra.weight"] = np.zeros(1, "float32")
    path = _save({key: _torch().from_numpy(value) for key, value in state.items()}, tmp_path)
    runner = CliRunner()
    for args, words in [
        ([path, os.path.join(tmp_path, "x.keras")], "extra.weight"),
        ([os.path.join(tmp_path, "missing.pt"), os.path.join(tmp_path, "x.keras")], "not found"),
        ([path, os.path.join(tmp_path, "x.h5")], ".keras"),
    ]:
        result = runner.invoke(gahb, ["convert", *args])
        assert result.exit_code != 0
        assert isinstance(result.exception, SystemExit), result.exception
        assert words in result.output, result.output
        assert "Traceback" not in result.output
    assert not os.path.exists(os.path.join(tmp_path, "x.keras"))
