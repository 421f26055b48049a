"""Small shared utilities (atomic file output)."""

from keras_gahb.utils.io import (
    atomic_path,
    atomic_write_json,
    atomic_write_text,
    read_json,
    save_model_atomic,
    save_npz_atomic,
)

__all__ = [
    "atomic_path",
    "atomic_write_json",
    "atomic_write_text",
    "read_json",
    "save_model_atomic",
    "save_npz_atomic",
]
