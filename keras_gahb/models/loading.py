"""Load a denoiser given by a .keras file, a run folder, a preset name or an object."""

import os

import keras

from keras_gahb import runs
from keras_gahb.models.presets import PRESETS


def load_denoiser(model, presets=True, best=False):
    """A denoiser and its display name, from a .keras file, a run folder, a preset name or a callable.

    Args:
        model: path to a .keras file; a run folder (of `gahb train`,
            `keras_gahb.training.train` or a reproduction's model: its
            model.keras, whose image size and training images
            `keras_gahb.runs` finds through the folder); a preset name (random
            weights; only with `presets=True`); or a Keras model / callable
            (returned as is).
        presets: accept preset names. Default True.
        best: with a run folder, load model_best.keras. Default False.

    Returns:
        (denoiser, name): the name is the path given (the run folder for a folder).

    Raises:
        FileNotFoundError: nothing at the path; the message names a close real
            path when there is one (the run folder `runs/x/` for `runs/x.keras`,
            a folder whose model.keras is not written yet, ...).

    Example:

    >>> denoiser, name = keras_gahb.models.load_denoiser("runs/faces")  # runs/faces/model.keras
    """
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if os.path.exists(path):
            model_path = runs.find_model(path, best=best)
            name = path.rstrip("/\\") if os.path.isdir(path) else path
            return keras.saving.load_model(model_path), name
        if presets and path in PRESETS:
            from keras_gahb.models import from_preset

            return from_preset(path), f"{path} (random weights)"
        hint = runs.path_hint(path)
        if presets:
            raise FileNotFoundError(
                f"Model not found: {path}.{hint} Pass a .keras file, a run folder or a preset name "
                f"({', '.join(sorted(PRESETS))})."
            )
        raise FileNotFoundError(f"Model file not found: {path}.{hint}")
    if not callable(model):
        raise ValueError(f"The model must be a .keras path, a run folder or a callable, got "
                         f"{type(model).__name__}.")
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
