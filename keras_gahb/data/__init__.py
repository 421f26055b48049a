"""Datasets and input pipelines: synthetic and natural images, disjoint splits, noise.

Every generator takes an explicit seed and is deterministic; images are float32
in [0, 1] with shape (n, H, W, C).
"""

from keras_gahb.data.noise import SIGMA_DISTRIBUTIONS, add_noise, noisy_pairs, sample_sigmas
from keras_gahb.data.split import Split, disjoint_subsets

__all__ = [
    "SIGMA_DISTRIBUTIONS",
    "Split",
    "add_noise",
    "disjoint_subsets",
    "noisy_pairs",
    "sample_sigmas",
]
