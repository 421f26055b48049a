"""keras_gahb: bias-free denoisers and geometry-adaptive harmonic bases in Keras 3.

Reproduces and extends Kadkhodaie, Guth, Simoncelli, Mallat, "Generalization
in diffusion models arises from geometry-adaptive harmonic representations"
(ICLR 2024, https://arxiv.org/abs/2310.02557).
"""

from keras_gahb import layers, models
from keras_gahb.version import __version__

__all__ = ["layers", "models", "__version__"]
