"""Atomic file output: a reader never sees a half-written file.

Each writer writes to a temporary file in the destination folder and renames
it over the destination (`os.replace` is atomic on POSIX and Windows), so an
interrupted run leaves either the old file or the new one. A full disk raises
an OSError with errno ENOSPC that names the destination file.
"""

import contextlib
import errno
import io
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
    except OSError as error:
        _raise_no_space(error, path)
        raise
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_write_bytes(path, data, fsync=True):
    """Write `data` (bytes) to `path` atomically, flushed to the disk before the rename.

    The bytes go to a hidden temporary file beside `path` whose name ends in
    ".partial-<pid>" (so that no pattern of the destination's extension matches
    it), are fsynced, then renamed over `path`; the folder is fsynced too, so
    the rename survives a power cut.

    Example:

    >>> keras_gahb.utils.atomic_write_bytes("out/model.keras", model_bytes(model))
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.partial-{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        if fsync:
            _fsync_folder(folder)
    except OSError as error:
        _raise_no_space(error, path)
        raise
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def model_bytes(model):
    """The .keras file of `model` (architecture, weights, optimizer state) as bytes, in memory.

    Serializing in memory first means that a full disk fails in a plain
    `os.write` (an OSError) rather than inside HDF5's writer, which can crash
    the process when a write fails.
    """
    buffer = _KerasBuffer()
    model.save(buffer)  # Keras saves a .keras archive into a file object given one
    return buffer.getvalue()


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


def save_npz_atomic(path, compress=True, **arrays):
    """`np.savez_compressed` (or `np.savez` with `compress=False`) to `path` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            (np.savez_compressed if compress else np.savez)(f, **arrays)


def save_model_atomic(model, path):
    """`model.save(path)` (a .keras file) atomically, serialized in memory first (`model_bytes`)."""
    if not os.fspath(path).endswith(".keras"):
        raise ValueError(f"Model files must end in .keras, got {path}.")
    atomic_write_bytes(path, model_bytes(model))


class _KerasBuffer(io.BytesIO):
    """An in-memory file that `keras.Model.save` accepts: it checks str(path) for ".keras"."""

    def __str__(self):
        return "in-memory.keras"


def _raise_no_space(error, path):
    """Re-raise a full-disk error as OSError(ENOSPC) naming `path` (h5py, zipfile omit it)."""
    if getattr(error, "errno", None) == errno.ENOSPC and error.filename != path:
        raise OSError(errno.ENOSPC, "No space left on device", path) from None


def _fsync_folder(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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
