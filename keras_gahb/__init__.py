"""keras_gahb: bias-free denoisers and geometry-adaptive harmonic bases in Keras 3.

Reproduces and extends Kadkhodaie, Guth, Simoncelli, Mallat, "Generalization
in diffusion models arises from geometry-adaptive harmonic representations"
(ICLR 2024, https://arxiv.org/abs/2310.02557).

The subpackages follow the flow of the work: `data` -> `models` (with
`layers`) -> `training` -> `sampling` -> `analysis` -> `experiments`.
"""

from keras_gahb import analysis, data, experiments, layers, models, sampling, training
from keras_gahb.version import __version__

__all__ = [
    "analysis",
    "data",
    "experiments",
    "layers",
    "models",
    "sampling",
    "training",
    "__version__",
]
