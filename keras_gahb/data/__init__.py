"""Datasets and input pipelines: synthetic and natural images, disjoint splits, noise.

Every generator takes an explicit seed and is deterministic; images are float32
in [0, 1] with shape (n, H, W, C).
"""

from keras_gahb.data.builtin import lfw_faces, photo_patches
from keras_gahb.data.calpha import calpha_images
from keras_gahb.data.dedup import near_duplicate_pairs, remove_near_duplicates
from keras_gahb.data.discs import DISC_PARAMETERS, disc_images, render_discs
from keras_gahb.data.folder import folder_images, list_image_files
from keras_gahb.data.gaussian_images import GaussianImages
from keras_gahb.data.manifolds import ray_images, sinusoid_images
from keras_gahb.data.noise import (
    LOSS_WEIGHTS,
    SIGMA_DISTRIBUTIONS,
    add_noise,
    loss_weights,
    noisy_pairs,
    sample_sigmas,
)
from keras_gahb.data.prepare import prepare_dataset, save_examples
from keras_gahb.data.prepared import load_prepared
from keras_gahb.data.registry import get_images, image_dataset, list_datasets, register_source
from keras_gahb.data.not_enough_images_error import NotEnoughImagesError
from keras_gahb.data.split import Split, check_pool_size, disjoint_subsets
from keras_gahb.data.tfds_sources import CELEBA_CROP, tfds_dataset, tfds_images
from keras_gahb.data.transforms import pixel_shuffle, resize_images, to_channels
from keras_gahb.utils.images import save_image_grid

__all__ = [
    "CELEBA_CROP",
    "DISC_PARAMETERS",
    "GaussianImages",
    "LOSS_WEIGHTS",
    "NotEnoughImagesError",
    "SIGMA_DISTRIBUTIONS",
    "Split",
    "add_noise",
    "calpha_images",
    "check_pool_size",
    "disc_images",
    "disjoint_subsets",
    "folder_images",
    "get_images",
    "image_dataset",
    "lfw_faces",
    "list_datasets",
    "list_image_files",
    "load_prepared",
    "loss_weights",
    "near_duplicate_pairs",
    "noisy_pairs",
    "photo_patches",
    "pixel_shuffle",
    "prepare_dataset",
    "ray_images",
    "register_source",
    "remove_near_duplicates",
    "render_discs",
    "resize_images",
    "sample_sigmas",
    "save_examples",
    "save_image_grid",
    "sinusoid_images",
    "tfds_dataset",
    "tfds_images",
    "to_channels",
]
