"""keras_gahb: bias-free denoisers and geometry-adaptive harmonic bases in Keras 3.

Reproduces and extends Kadkhodaie, Guth, Simoncelli, Mallat, "Generalization
in diffusion models arises from geometry-adaptive harmonic representations"
(ICLR 2024, https://arxiv.org/abs/2310.02557).

The subpackages follow the flow of the work: `data` -> `models` (with
`layers`) -> `training` -> `sampling` -> `analysis` -> `experiments`, with
`metrics` (PSNR, cosine similarity) shared by training, sampling and analysis,
and `runs` (run folders: written by training, read by the others) between
`data` and `models`. docs/package_map.md says where each concern lives.
`layers` and `models` are imported with the package (so that `.keras` files
of its models load after `import keras_gahb`; `keras_gahb.load_model(path)`
loads one); the others are imported on first use (`keras_gahb.analysis`,
...), which keeps `import keras_gahb` about as cheap as `import keras`.
"""

import importlib

from keras_gahb import layers, models
from keras_gahb.version import __version__

_LAZY_SUBPACKAGES = ("analysis", "data", "experiments", "metrics", "runs", "sampling", "training")

__all__ = [
    "analysis",
    "data",
    "experiments",
    "layers",
    "metrics",
    "models",
    "runs",
    "sampling",
    "training",
    "load_model",
    "__version__",
]


def load_model(path):
    """Load a keras_gahb model from a .keras file or a run folder (its model.keras).

    `keras.saving.load_model(path)` only finds the classes of keras_gahb
    (BiasFreeUNet, BFCNN, their layers) once `import keras_gahb` has registered
    them; without it Keras raises "Could not locate class 'BiasFreeUNet'".
    This function imports them and loads the model.

    Args:
        path: a .keras file, or a run folder of `gahb train` / `gahb reproduce`
            (e.g. ".../models/transition_n10000_s1") holding a model.keras.

    Returns:
        The Keras model.

    Example:

    >>> model = keras_gahb.load_model("gahb_runs/reproduce_quick/models/transition_n10000_s1")
    """
    return models.load_denoiser(path, presets=False)[0]


def __getattr__(name):
    if name in _LAZY_SUBPACKAGES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_SUBPACKAGES))
