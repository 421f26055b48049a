"""Atomic file output: a reader never sees a half-written file.

Each writer writes to a temporary file in the destination folder and renames
it over the destination (`os.replace` is atomic on POSIX and Windows), so an
interrupted run leaves either the old file or the new one.
"""

import contextlib
import json
import os
import tempfile

import numpy as np


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; rename it to `path` on success.

    Example:

    >>> with atomic_path("out/figure.png") as tmp:
    ...     fig.savefig(tmp, format="png")
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    base, ext = os.path.splitext(os.path.basename(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=f".tmp{ext}", dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_write_text(path, text):
    """Write `text` to `path` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)


def atomic_write_json(path, obj):
    """Write `obj` as indented JSON to `path` atomically (numpy values allowed)."""
    atomic_write_text(path, json.dumps(obj, indent=2, default=_to_builtin) + "\n")


def read_json(path):
    """Read a JSON file, with a clear error when it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"File not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None


def save_npz_atomic(path, **arrays):
    """`np.savez_compressed` to `path` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)


def save_model_atomic(model, path):
    """`model.save(path)` (a .keras file) atomically."""
    if not os.fspath(path).endswith(".keras"):
        raise ValueError(f"Model files must end in .keras, got {path}.")
    with atomic_path(path) as tmp:
        model.save(tmp)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _to_builtin(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"Cannot write {type(value).__name__} as JSON.")
