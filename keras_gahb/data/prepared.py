"""Read prepared datasets: .npz shards listed in a manifest with SHA-256 checksums.

Written by `keras_gahb.data.prepare_dataset` (`gahb data prepare`); read by
`load_prepared` and by the "prepared" source of the dataset registry.
"""

import hashlib
import os

import numpy as np

from keras_gahb.utils import read_json

MANIFEST = "manifest.json"
FORMAT_VERSION = 1


def load_prepared(path, verify=True):
    """Read a prepared folder: returns (images float32 (N, H, W, C), manifest).

    Args:
        path: a folder written by `prepare_dataset` / `gahb data prepare`.
        verify: check every shard's SHA-256 against the manifest. Default True.

    Example:

    >>> images, manifest = keras_gahb.data.load_prepared("data/discs80")
    """
    manifest_path = os.path.join(os.path.expanduser(os.fspath(path)), MANIFEST)
    if not os.path.exists(manifest_path):
        raise FileNotFoundError(
            f"No {MANIFEST} in {path}: not a prepared dataset, or its preparation did not "
            "finish (run `gahb data prepare` again to resume)."
        )
    manifest = read_json(manifest_path)
    if verify:
        verify_shards(path, manifest)
    parts = []
    for shard in manifest["shards"]:
        with np.load(os.path.join(path, shard["file"])) as data:
            parts.append(data["images"])
    return np.concatenate(parts), manifest


def sha256_file(path, chunk=1 << 20):
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_shards(path, manifest):
    """Check that every shard listed in `manifest` exists in `path` and matches its SHA-256."""
    for shard in manifest["shards"]:
        file = os.path.join(path, shard["file"])
        if not os.path.exists(file):
            raise FileNotFoundError(f"Shard {file} listed in the manifest is missing.")
        if sha256_file(file) != shard["sha256"]:
            raise ValueError(f"Shard {file} does not match its SHA-256 in the manifest "
                             "(corrupted or modified); prepare the dataset again.")
