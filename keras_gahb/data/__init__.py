"""Datasets and input pipelines: synthetic and natural images, disjoint splits, noise.

Every generator takes an explicit seed and is deterministic; images are float32
in [0, 1] with shape (n, H, W, C).
"""

from keras_gahb.data.builtin import lfw_faces, photo_patches
from keras_gahb.data.calpha import calpha_images
from keras_gahb.data.discs import DISC_PARAMETERS, disc_images, render_discs
from keras_gahb.data.gaussian_images import GaussianImages
from keras_gahb.data.manifolds import ray_images, sinusoid_images
from keras_gahb.data.noise import SIGMA_DISTRIBUTIONS, add_noise, noisy_pairs, sample_sigmas
from keras_gahb.data.registry import get_images, image_dataset, list_datasets, register_source
from keras_gahb.data.split import Split, disjoint_subsets
from keras_gahb.data.transforms import pixel_shuffle, resize_images, to_channels

__all__ = [
    "DISC_PARAMETERS",
    "GaussianImages",
    "SIGMA_DISTRIBUTIONS",
    "Split",
    "add_noise",
    "calpha_images",
    "disc_images",
    "disjoint_subsets",
    "get_images",
    "image_dataset",
    "lfw_faces",
    "list_datasets",
    "noisy_pairs",
    "photo_patches",
    "pixel_shuffle",
    "ray_images",
    "register_source",
    "render_discs",
    "resize_images",
    "sample_sigmas",
    "sinusoid_images",
    "to_channels",
]
