"""Load a denoiser given by a .keras file, a run folder, a preset name or an object."""

import os
import warnings

import keras

from keras_gahb import runs
from keras_gahb.models.presets import PRESETS


def load_denoiser(model, presets=True, best=False):
    """A denoiser and its display name, from a .keras file, a run folder, a preset name or a callable.

    Args:
        model: path to a .keras file; a run folder (of `gahb train`,
            `keras_gahb.training.train` or a reproduction's model: its
            model.keras, whose image size and training images
            `keras_gahb.runs` finds through the folder); a preset name (only with
            `presets=True`: a preset with shipped weights loads them, an architecture
            preset has random weights); or a Keras model / callable
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
        if presets:
            from keras_gahb.models.pretrained import load_pretrained, pretrained_presets

            if path in pretrained_presets():
                return load_pretrained(path), f"{path} (shipped weights)"
        if presets and path in PRESETS:
            from keras_gahb.models import from_preset

            return from_preset(path), f"{path} (random weights)"
        hint = runs.path_hint(path)
        if presets:
            raise FileNotFoundError(
                f"Model not found: {path}.{hint} Pass a .keras file, a run folder or a preset name "
                f"({', '.join(sorted(PRESETS))}; with shipped weights: "
                f"{', '.join(_shipped()) or 'none'})."
            )
        raise FileNotFoundError(f"Model file not found: {path}.{hint}")
    if not callable(model):
        raise ValueError(f"The model must be a .keras path, a run folder or a callable, got "
                         f"{type(model).__name__}.")
    return model, getattr(model, "name", type(model).__name__)


def _shipped():
    from keras_gahb.models.pretrained import pretrained_presets

    return sorted(pretrained_presets())


def image_channels(denoiser, default=1):
    """The number of image channels a denoiser takes (its `image_channels` or input shape)."""
    channels = getattr(denoiser, "image_channels", None)
    if channels is None and isinstance(denoiser, keras.Model):
        try:
            channels = denoiser.input_shape[-1]
        except (AttributeError, ValueError):
            channels = None
    return int(channels or default)


def model_title(model):
    """The name a figure or a log line gives a model: its run folder's, not its file's.

    Every run folder saves its model as `model.keras`, so a title from the file name
    says nothing: `.../transition_n10000_s1/model.keras` -> "transition_n10000_s1";
    a run folder -> its name; another .keras file -> its name without the
    extension; a model object -> its `name` (or its class name).

    Example:

    >>> keras_gahb.models.model_title("runs/reproduce_quick/models/transition_n10000_s1/model.keras")
    'transition_n10000_s1'
    """
    if isinstance(model, (str, os.PathLike)):
        path = os.path.normpath(os.path.abspath(os.fspath(model)))
        if os.path.isdir(path):
            return os.path.basename(path)
        folder, name = os.path.split(path)
        if name == "model.keras" and os.path.basename(folder):
            return os.path.basename(folder)
        return name[: -len(".keras")] if name.endswith(".keras") else name
    name = getattr(model, "name", None)
    return str(name) if name else type(model).__name__


def check_image_fits(image_size, denoiser, source, model_name="the model", trained_size=None):
    """Check that images of `image_size` (H, W) from `source` suit `denoiser`, naming `source`.

    Raises a ValueError when the denoiser cannot take that size (a UNet needs
    sides divisible by 2**levels), naming the user's file rather than an
    internal layer; issues a one-line UserWarning when `trained_size` (the
    side or (H, W) the model was trained on) is known and differs: a denoiser
    learns the statistics of its training size, so results at another size are
    not what it was trained and tested for.

    Args:
        image_size: (height, width) of the images.
        denoiser: the model (its `size_multiple` is read when it has one).
        source: what the images are, for the messages (a file name, "'faces' images").
        model_name: the model, for the messages.
        trained_size: optional int or (height, width).
    """
    height, width = (int(side) for side in image_size)
    multiple = int(getattr(denoiser, "size_multiple", 1) or 1)
    if height % multiple or width % multiple:
        fit = [f"{h}x{w}" for h, w in sorted({(_down(height, multiple), _down(width, multiple)),
                                               (_up(height, multiple), _up(width, multiple))})
               if h > 0 and w > 0]
        raise ValueError(
            f"{source} is {height}x{width}, but {model_name} needs image sides divisible by "
            f"{multiple} (2**levels of its UNet): crop or resize it to {' or '.join(fit)}."
        )
    if trained_size is not None:
        trained = (trained_size, trained_size) if isinstance(trained_size, int) else tuple(trained_size)
        if (height, width) != tuple(int(side) for side in trained):
            warnings.warn(
                f"{source} is {height}x{width}, but {model_name} was trained on "
                f"{trained[0]}x{trained[1]} images: a denoiser learns the statistics of its "
                "training size, so expect other numbers at this size.", UserWarning, stacklevel=2)


def _down(side, multiple):
    return side - side % multiple


def _up(side, multiple):
    return side - side % multiple + multiple
