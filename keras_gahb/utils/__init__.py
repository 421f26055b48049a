"""Small shared utilities (atomic file output, explicit numpy randomness, image arrays and files)."""

from keras_gahb.utils.io import (
    atomic_path,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    model_bytes,
    read_json,
    save_model_atomic,
    save_npz_atomic,
)
from keras_gahb.utils.images import (
    as_image_batch,
    image_grid,
    read_image_file,
    save_image,
    save_image_grid,
    upscale_factor,
    upscale_nearest,
)
from keras_gahb.utils.random import numpy_rng

__all__ = [
    "as_image_batch",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "image_grid",
    "model_bytes",
    "numpy_rng",
    "read_image_file",
    "read_json",
    "save_image",
    "save_image_grid",
    "save_model_atomic",
    "save_npz_atomic",
    "upscale_factor",
    "upscale_nearest",
]
