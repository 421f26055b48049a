"""Load the authors' released PyTorch denoisers (UNet, BF-CNN) into keras_gahb models.

The released files are `torch.save(model.state_dict(), path)` of bias-free
networks (no biases, scale-only batch norm with `gammas` and `running_sd`,
NCHW / OIHW tensors, optionally a "module." prefix from nn.DataParallel).
The authors' networks return the residual (the noise estimate); the Keras
models built here return the denoised image y - net(y).

Tensor mapping (PyTorch -> Keras):

- Conv2d weight (out, in, 3, 3) -> Conv2D kernel (3, 3, in, out);
- ConvTranspose2d weight (in, out, 2, 2) -> Conv2DTranspose kernel
  (2, 2, out, in), same spatial orientation (kernel size = stride, so each
  output pixel sees one input pixel: out[2i+p, 2j+q] = W[:, :, p, q]^T x[i, j]);
- batch-norm gammas / running_sd (1, C, 1, 1) -> gamma / moving_std (C,);
  inference is x / running_sd * gammas in both frameworks.
"""

import collections.abc
import os
import pickle
import re

import numpy as np

from keras_gahb.models.bfcnn import BFCNN
from keras_gahb.models.bias_free_unet import BiasFreeUNet

_PREFIX = "module."
_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model")


def load_official_checkpoint(
    path, first_layer_relu=None, image_size=None, dtype=None, name=None
):
    """Build the BiasFreeUNet or BFCNN stored in an authors' PyTorch checkpoint.

    The architecture (UNet depth, or BF-CNN depth; kernels; image channels)
    is inferred from the tensor names and shapes. Every tensor must be
    expected and of the expected shape, and every expected tensor present;
    otherwise a ValueError names the offending tensors. Reading never
    executes code from the file (`torch.load(..., weights_only=True)`).

    Args:
        path: str or path-like to a `.pt`/`.pth` file, or an already loaded
            state dict (a mapping from tensor names to torch tensors or
            numpy arrays).
        first_layer_relu: BF-CNN only: whether a ReLU follows the first
            convolution. Defaults to None, which means False, the authors'
            loader default ("first layer linear"); their training script
            uses a ReLU (True). Must be None for a UNet.
        image_size: optional int or (height, width) fixing the input size
            of the Keras model. Defaults to None (any size; a UNet needs
            multiples of 2**levels).
        dtype: optional dtype policy (e.g. "mixed_bfloat16"). Weights are
            stored in float32. Defaults to None (float32).
        name: optional Keras model name. Defaults to the class default.

    Returns:
        A `BiasFreeUNet` or `BFCNN` in which `model(y, training=False)` is
        y - net(y), with `net` the authors' network in eval mode.

    Example:

    >>> model = keras_gahb.models.load_official_checkpoint("model.pt")
    >>> denoised = model(noisy, training=False)  # noisy: (B, H, W, 1) in [0, 1]

    Reference:
        Kadkhodaie, Guth, Simoncelli, Mallat, "Generalization in diffusion
        models arises from geometry-adaptive harmonic representations",
        ICLR 2024, https://arxiv.org/abs/2310.02557
    """
    state, prefix = _read(path)
    info = _inspect_state(state, prefix, source=_describe_source(path))
    config = dict(info["config"])
    if info["class"] == "BFCNN":
        config["first_layer_relu"] = False if first_layer_relu is None else bool(first_layer_relu)
        cls = BFCNN
    else:
        if first_layer_relu is not None:
            raise ValueError(
                "`first_layer_relu` applies to BF-CNN checkpoints only; "
                f"{_describe_source(path)} holds a UNet. Leave it unset."
            )
        cls = BiasFreeUNet
    kwargs = {"image_size": image_size, "dtype": dtype}
    if name is not None:
        kwargs["name"] = name
    # Every weight is overwritten below, so skip the random initialization (slow
    # to compile per shape under JAX) and record the default initializer in the
    # config, which is what rebuilding the architecture from config should use.
    model = cls(**config, kernel_initializer="zeros", **kwargs)
    model.kernel_initializer = "he_normal"
    for key, (layer_name, attribute, kind) in info["mapping"].items():
        variable = getattr(model.get_layer(layer_name), attribute)
        variable.assign(_to_keras(state[key], kind))
    return model


def inspect_official_checkpoint(path):
    """Describe an authors' checkpoint without building a model.

    Args:
        path: str or path-like to a `.pt`/`.pth` file, or a loaded state dict.

    Returns:
        dict with "class" ("BiasFreeUNet" or "BFCNN"), "config" (constructor
        arguments: levels/base_channels or num_layers/channels, and
        image_channels), "num_tensors", "trainable_params" (running_sd
        excluded) and "prefix" ("module." or "").

    Example:

    >>> from keras_gahb.models.official_checkpoint import inspect_official_checkpoint
    >>> inspect_official_checkpoint("model.pt")["config"]
    {'levels': 3, 'base_channels': 64, 'image_channels': 1}
    """
    state, prefix = _read(path)
    info = _inspect_state(state, prefix, source=_describe_source(path))
    return {key: value for key, value in info.items() if key != "mapping"}


def read_official_checkpoint(path):
    """Read a PyTorch state-dict file as {name: float32 numpy array}, safely.

    Uses `torch.load(path, map_location="cpu", weights_only=True)`, which
    only rebuilds tensors and plain containers and never runs code stored
    in the file. A "module." prefix on every name is removed.

    Args:
        path: str or path-like to a `.pt`/`.pth` file.

    Returns:
        dict from tensor names to float32 numpy arrays (PyTorch layout).
    """
    return _read(path)[0]


# === Reading ===


def _import_torch():
    try:
        import torch
    except ImportError:
        raise ImportError(
            "Reading PyTorch checkpoints needs PyTorch, which is not installed. "
            "Install it with `pip install torch` (or `pip install keras_gahb[torch]`), "
            "or pass an already loaded state dict of numpy arrays."
        ) from None
    return torch


def _load_file(path):
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Checkpoint file not found: {path}")
    torch = _import_torch()
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        # PyTorch's message advises allow-listing the global; we never do.
        found = re.search(r"GLOBAL ([\w.]+)", str(error))
        if found:
            why = f"was refused because it carries code (it calls {found.group(1)})"
        else:
            why = ("was refused because it is a pickle that cannot be read without running "
                   "code from it")
        raise ValueError(
            f"{path} {why}; it was not loaded. Only state dicts of tensors "
            "(torch.save(model.state_dict(), path)) are supported."
        ) from None
    except Exception as error:  # any parse failure (zip, struct, EOF, ...) means unreadable
        detail = str(error).strip().splitlines()[0] if str(error).strip() else "no details"
        raise ValueError(
            f"{path} is not a readable PyTorch checkpoint ({type(error).__name__}: {detail})."
        ) from None
    return obj


def _read(source):
    obj = source if isinstance(source, collections.abc.Mapping) else _load_file(source)
    obj = _unwrap(obj, _describe_source(source))
    state = {}
    for key, value in obj.items():
        if not isinstance(key, str):
            raise ValueError(f"Checkpoint tensor names must be strings; got {key!r}.")
        state[key] = _to_numpy(key, value)
    if state and all(key.startswith(_PREFIX) for key in state):
        return {key[len(_PREFIX):]: value for key, value in state.items()}, _PREFIX
    return state, ""


def _unwrap(obj, source):
    if not isinstance(obj, collections.abc.Mapping):
        raise ValueError(
            f"{source} holds a {type(obj).__name__}, not a state dict (a mapping from "
            "tensor names to tensors). Save it with torch.save(model.state_dict(), path)."
        )
    for key in _WRAPPER_KEYS:
        if key in obj and isinstance(obj[key], collections.abc.Mapping):
            return obj[key]
    return obj


def _to_numpy(key, value):
    if hasattr(value, "detach"):  # a torch tensor; bfloat16/float16 go through float32
        import torch

        value = value.detach().to(device="cpu", dtype=torch.float32).numpy()
    try:
        array = np.asarray(value, dtype="float32")
    except (TypeError, ValueError):
        raise ValueError(
            f"Checkpoint entry '{key}' is a {type(value).__name__}, not a tensor."
        ) from None
    return array


def _describe_source(source):
    if isinstance(source, collections.abc.Mapping):
        return "the state dict"
    return os.fspath(source)


# === Architecture inference ===


def _inspect_state(state, prefix, source):
    prefixes = {key.split(".", 1)[0] for key in state}
    if "conv_layers" in prefixes:
        cls, config, spec = _bfcnn_spec(state, source)
    elif "encoder" in prefixes:
        cls, config, spec = _unet_spec(state, source)
    else:
        shown = ", ".join(sorted(state)[:8]) or "(none)"
        raise ValueError(
            f"{source} is not a checkpoint of the authors' UNet or BF-CNN: expected "
            "tensor names starting with 'encoder.' (UNet) or 'conv_layers.' (BF-CNN), "
            f"got {shown}{' ...' if len(state) > 8 else ''}."
        )
    _check_against_spec(state, spec, source, cls)
    trainable = sum(
        int(np.prod(shape)) for key, (shape, _) in spec.items() if not key.endswith("running_sd")
    )
    _check_values(state, source)
    return {
        "class": cls,
        "config": config,
        "num_tensors": len(spec),
        "trainable_params": trainable,
        "prefix": prefix,
        "mapping": {key: target for key, (_, target) in spec.items()},
    }


def _required(state, key, source, ndim=4):
    if key not in state:
        raise ValueError(f"{source} has no tensor '{key}', which every such checkpoint has.")
    shape = state[key].shape
    if len(shape) != ndim:
        raise ValueError(f"Tensor '{key}' in {source} has shape {shape}; expected {ndim} dimensions.")
    return shape


def _unet_spec(state, source):
    indices = {
        int(match.group(1))
        for key in state
        if (match := re.match(r"encoder\.(\d+)\.", key))
    }
    levels = max(indices) + 1 if indices else 0
    if indices != set(range(levels)):
        raise ValueError(
            f"{source}: encoder blocks must be numbered 0..B-1; got {sorted(indices)}."
        )
    kernels, channels = _required(state, "encoder.0.0.weight", source)[:2]
    k, c = int(kernels), int(channels)
    spec = {}

    def conv(key, cin, cout, layer):
        spec[f"{key}.weight"] = ((cout, cin, 3, 3), (layer, "kernel", "conv"))

    def bn(key, width, layer):
        spec[f"{key}.gammas"] = ((1, width, 1, 1), (layer, "gamma", "bn"))
        spec[f"{key}.running_sd"] = ((1, width, 1, 1), (layer, "moving_std", "bn"))

    conv("encoder.0.0", c, k, "encoder_0_conv0")
    conv("encoder.0.2", k, k, "encoder_0_conv1")
    bn("encoder.0.3", k, "encoder_0_bn1")
    for b in range(1, levels):
        cin, cout = k * 2 ** (b - 1), k * 2**b
        conv(f"encoder.{b}.0", cin, cout, f"encoder_{b}_conv0")
        bn(f"encoder.{b}.1", cout, f"encoder_{b}_bn0")
        conv(f"encoder.{b}.3", cout, cout, f"encoder_{b}_conv1")
        bn(f"encoder.{b}.4", cout, f"encoder_{b}_bn1")
    cin, cout = k * 2 ** (levels - 1), k * 2**levels
    conv("mid_block.0", cin, cout, "mid_conv0")
    bn("mid_block.1", cout, "mid_bn0")
    conv("mid_block.3", cout, cout, "mid_conv1")
    bn("mid_block.4", cout, "mid_bn1")
    for b in reversed(range(levels)):
        wide, narrow = k * 2 ** (b + 1), k * 2**b
        spec[f"upsample.{b}.weight"] = ((wide, narrow, 2, 2), (f"upsample_{b}", "kernel", "convT"))
        conv(f"decoder.{b}.0", wide, narrow, f"decoder_{b}_conv0")
        bn(f"decoder.{b}.1", narrow, f"decoder_{b}_bn0")
        if b > 0:
            conv(f"decoder.{b}.3", narrow, narrow, f"decoder_{b}_conv1")
            bn(f"decoder.{b}.4", narrow, f"decoder_{b}_bn1")
        else:
            conv("decoder.0.3", narrow, c, "decoder_0_conv1")
    config = {"levels": levels, "base_channels": k, "image_channels": c}
    return "BiasFreeUNet", config, spec


def _bfcnn_spec(state, source):
    indices = {
        int(match.group(1))
        for key in state
        if (match := re.match(r"conv_layers\.(\d+)\.", key))
    }
    num_layers = max(indices) + 1 if indices else 0
    if indices != set(range(num_layers)) or num_layers < 2:
        raise ValueError(
            f"{source}: BF-CNN convolutions must be numbered 0..L-1 with L >= 2; "
            f"got {sorted(indices)}."
        )
    kernels, channels = _required(state, "conv_layers.0.weight", source)[:2]
    k, c = int(kernels), int(channels)
    last = num_layers - 1
    spec = {"conv_layers.0.weight": ((k, c, 3, 3), ("conv_0", "kernel", "conv"))}
    for i in range(1, last):
        spec[f"conv_layers.{i}.weight"] = ((k, k, 3, 3), (f"hidden_conv{i}", "kernel", "conv"))
        spec[f"BN_layers.{i - 1}.gammas"] = ((1, k, 1, 1), (f"hidden_bn{i}", "gamma", "bn"))
        spec[f"BN_layers.{i - 1}.running_sd"] = ((1, k, 1, 1), (f"hidden_bn{i}", "moving_std", "bn"))
    spec[f"conv_layers.{last}.weight"] = ((c, k, 3, 3), (f"conv_{last}", "kernel", "conv"))
    config = {"num_layers": num_layers, "channels": k, "image_channels": c}
    return "BFCNN", config, spec


def _check_against_spec(state, spec, source, cls):
    unexpected = sorted(set(state) - set(spec))
    missing = sorted(set(spec) - set(state))
    wrong = [
        f"{key} {tuple(state[key].shape)} (expected {shape})"
        for key, (shape, _) in spec.items()
        if key in state and tuple(state[key].shape) != shape
    ]
    problems = []
    if unexpected:
        problems.append(f"unexpected tensors: {_listing(unexpected)}")
    if missing:
        problems.append(f"missing tensors: {_listing(missing)}")
    if wrong:
        problems.append(f"wrong shapes: {_listing(wrong)}")
    if problems:
        raise ValueError(
            f"{source} does not match the authors' {cls} layout inferred from its tensors; "
            + "; ".join(problems)
            + ". See docs/checkpoints.md for the expected names and shapes."
        )


def _check_values(state, source):
    bad = sorted(key for key, value in state.items() if not np.all(np.isfinite(value)))
    if bad:
        raise ValueError(f"{source} has non-finite values (NaN or inf) in {_listing(bad)}.")
    bad = sorted(
        key for key, value in state.items() if key.endswith("running_sd") and np.any(value <= 0)
    )
    if bad:
        raise ValueError(
            f"{source} has non-positive batch-norm running_sd in {_listing(bad)}; "
            "a trained model's running standard deviations are positive."
        )


def _listing(items, limit=10):
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


# === Layout conversion ===


def _to_keras(array, kind):
    if kind in ("conv", "convT"):
        # Conv2d (out, in, h, w) -> (h, w, in, out); ConvTranspose2d (in, out, h, w) -> (h, w, out, in).
        return np.ascontiguousarray(np.transpose(array, (2, 3, 1, 0)))
    return np.ascontiguousarray(array.reshape(-1))
