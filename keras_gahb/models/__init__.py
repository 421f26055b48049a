"""Bias-free denoisers: the paper's UNet and BF-CNN, with presets."""

from keras_gahb.models.bfcnn import BFCNN
from keras_gahb.models.bias_free_denoiser import BiasFreeDenoiser, check_image_size
from keras_gahb.models.bias_free_unet import BiasFreeUNet
from keras_gahb.models.loading import image_channels, load_denoiser, model_title
from keras_gahb.models.official_checkpoint import load_official_checkpoint
from keras_gahb.models.presets import PRESETS, get_preset
from keras_gahb.models.pretrained import (
    build_architecture,
    export_pretrained,
    get_pretrained,
    load_pretrained,
    pretrained_presets,
    pretrained_test_psnr,
)

_CLASSES = {"BiasFreeUNet": BiasFreeUNet, "BFCNN": BFCNN}


def from_preset(name, weights=False, **overrides):
    """Build any preset by name, e.g. `keras_gahb.models.from_preset("bfcnn_21")`.

    Args:
        name: an architecture preset (`PRESETS`: random weights) or a preset with shipped
            weights (`pretrained_presets()`, e.g. "calpha2_medium").
        weights: load the shipped weights (only for the latter). Default False: a preset
            with weights is then built untrained, with its architecture.
        **overrides: constructor arguments replacing the preset's.

    Raises:
        ValueError: an unknown name, or `weights=True` for a preset without weights (the
            message lists those with weights).
    """
    shipped = pretrained_presets()
    if name in shipped:
        if weights:
            return load_pretrained(name, **overrides)
        return build_architecture(shipped[name], **overrides)
    if weights:
        get_pretrained(name)  # raises, listing the presets with weights
    return _CLASSES[get_preset(name)["class"]].from_preset(name, **overrides)


def check_preset(name, image_size=None, **overrides):
    """Check a preset, its constructor overrides and an image size without building the model.

    Raises a ValueError naming the problem: an unknown preset (listing the
    valid ones), an unknown constructor argument (listing the valid ones) or
    an image side the model cannot take (a UNet needs sides divisible by
    2**levels).

    Args:
        name: str, a preset name.
        image_size: optional int or (height, width) to check.
        **overrides: constructor arguments replacing the preset's.

    Returns:
        int, what image sides must be divisible by.

    Example:

    >>> keras_gahb.models.check_preset("unet_rf90", image_size=32)
    8
    """
    spec = get_preset(name)
    cls = _CLASSES[spec["class"]]
    config = {**spec["config"], **overrides}
    cls.check_arguments(config)
    multiple = cls.size_multiple_of(config)
    if image_size is not None:
        check_image_size(image_size, multiple, f"preset {name!r} ({_describe(config)})")
    return multiple


def _describe(config):
    return ", ".join(f"{key}={value}" for key, value in config.items())


def list_presets():
    """One dict per preset: name, class, config, description, paper parameter count."""
    return [{"name": name, **spec} for name, spec in PRESETS.items()]


def describe_presets(image_channels=1):
    """Build every preset and report its trainable parameters and receptive field."""
    rows = []
    for name, spec in PRESETS.items():
        model = from_preset(name, image_channels=image_channels)
        params = int(sum(_size(w.shape) for w in model.trainable_weights))
        rows.append(
            {
                "name": name,
                "class": spec["class"],
                "params": params,
                "paper_params": spec["paper_params"] if image_channels == 1 else None,
                "receptive_field": model.receptive_field,
                "description": spec["description"],
            }
        )
    return rows


def _size(shape):
    size = 1
    for dim in shape:
        size *= int(dim)
    return size


__all__ = [
    "build_architecture",
    "check_image_size",
    "export_pretrained",
    "get_pretrained",
    "load_pretrained",
    "pretrained_presets",
    "pretrained_test_psnr",
    "check_preset",
    "describe_presets",
    "BFCNN",
    "BiasFreeDenoiser",
    "BiasFreeUNet",
    "PRESETS",
    "from_preset",
    "get_preset",
    "image_channels",
    "list_presets",
    "load_denoiser",
    "load_official_checkpoint",
    "model_title",
]
