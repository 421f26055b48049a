"""Load a denoiser given by a .keras file, a preset name or an object, and read its channels."""

import os

import keras

from keras_gahb.models.presets import PRESETS


def load_denoiser(model, presets=True):
    """A denoiser and its display name, from a .keras path, a preset name or a callable.

    Args:
        model: path to a .keras file, a preset name (random weights; only with
            `presets=True`), or a Keras model / callable (returned as is).
        presets: accept preset names. Default True.

    Returns:
        (denoiser, name).
    """
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if os.path.exists(path):
            if not path.endswith(".keras"):
                raise ValueError(f"Expected a .keras model file, got {path}.")
            return keras.saving.load_model(path), path
        if presets and path in PRESETS:
            from keras_gahb.models import from_preset

            return from_preset(path), f"{path} (random weights)"
        if presets:
            raise FileNotFoundError(
                f"Model not found: {path}. Pass a .keras file or a preset name "
                f"({', '.join(sorted(PRESETS))})."
            )
        raise FileNotFoundError(f"Model file not found: {path}")
    if not callable(model):
        raise ValueError(f"The model must be a .keras path or a callable, got {type(model).__name__}.")
    return model, getattr(model, "name", type(model).__name__)


def image_channels(denoiser, default=1):
    """The number of image channels a denoiser takes (its `image_channels` or input shape)."""
    channels = getattr(denoiser, "image_channels", None)
    if channels is None and isinstance(denoiser, keras.Model):
        try:
            channels = denoiser.input_shape[-1]
        except (AttributeError, ValueError):
            channels = None
    return int(channels or default)
