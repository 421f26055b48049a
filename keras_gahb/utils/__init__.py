"""Small shared utilities (atomic file output, explicit numpy randomness)."""

from keras_gahb.utils.io import (
    atomic_path,
    atomic_write_json,
    atomic_write_text,
    read_json,
    save_model_atomic,
    save_npz_atomic,
)
from keras_gahb.utils.random import numpy_rng

__all__ = [
    "atomic_path",
    "atomic_write_json",
    "atomic_write_text",
    "numpy_rng",
    "read_json",
    "save_model_atomic",
    "save_npz_atomic",
]
