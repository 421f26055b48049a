"""Prepared datasets on disk: compressed .npz shards plus a manifest with SHA-256 checksums."""

import hashlib
import json
import os

import numpy as np

from keras_gahb.utils import atomic_path, atomic_write_json, read_json, save_npz_atomic

MANIFEST = "manifest.json"
_STATE = ".prepare_state.json"
FORMAT_VERSION = 1


def prepare_dataset(out, name, n, size, seed=0, channels=1, shard_size=10_000,
                    deduplicate=None, verbose=False, **options):
    """Write `get_images(name, n, size, seed, channels, **options)` to `out` as shards.

    `out` receives images-XXXXX-of-YYYYY.npz files (arrays "images", float32
    (m, size, size, channels), and "index", the position of each image in the
    generated sequence) and, last, manifest.json: source, parameters, counts
    and the SHA-256 of every shard. Every file is written atomically. Running
    the same preparation again on a finished folder does nothing; an
    interrupted one resumes, keeping the shards already written.

    Args:
        out: output folder.
        name, n, size, seed, channels, **options: as for `get_images`.
        shard_size: images per shard. Default 10,000.
        deduplicate: None, or a correlation threshold (0.95 in the paper): remove
            near duplicates (see `remove_near_duplicates`) before writing. Default None.
        verbose: show progress. Default False.

    Returns:
        The manifest (a dict).

    Example:

    >>> keras_gahb.data.prepare_dataset("data/discs80", "discs", n=1000, size=80, seed=0)
    """
    from keras_gahb.data import registry
    from keras_gahb.data.dedup import remove_near_duplicates
    from keras_gahb.version import __version__

    if isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1:
        raise ValueError(f"shard_size must be a positive int, got {shard_size!r}.")
    config = {
        "name": name, "n": n, "size": size, "seed": seed, "channels": channels,
        "options": options, "deduplicate": deduplicate, "shard_size": shard_size,
    }
    config = json.loads(json.dumps(config, default=_jsonable))  # as it will read back
    manifest_path = os.path.join(out, MANIFEST)
    if os.path.exists(manifest_path):
        manifest = read_json(manifest_path)
        if manifest.get("config") != config:
            raise ValueError(
                f"{out} already holds a different prepared dataset ({manifest.get('config')}). "
                "Choose another --out folder or delete this one."
            )
        _verify(out, manifest)
        return manifest

    images = registry.get_images(name, n, size, seed=seed, channels=channels, **options)
    index = np.arange(len(images), dtype=np.int64)
    if deduplicate is not None:
        index = remove_near_duplicates(images, threshold=float(deduplicate), verbose=verbose)
        images = images[index]
    count = len(images)
    os.makedirs(out, exist_ok=True)
    num_shards = max(1, -(-count // shard_size))
    state_path = os.path.join(out, _STATE)
    state = read_json(state_path) if os.path.exists(state_path) else {}
    done = state.get("shards", {}) if state.get("config") == config else {}
    shards = []
    progress = _progress(num_shards, verbose)
    for k in range(num_shards):
        file = f"images-{k:05d}-of-{num_shards:05d}.npz"
        path = os.path.join(out, file)
        part = slice(k * shard_size, (k + 1) * shard_size)
        if not (file in done and os.path.exists(path) and sha256_file(path) == done[file]):
            save_npz_atomic(path, images=images[part], index=index[part])
            done[file] = sha256_file(path)
            atomic_write_json(state_path, {"config": config, "shards": done})
        shards.append({"file": file, "count": int(len(images[part])), "sha256": done[file]})
        if progress is not None:
            progress.update(k + 1)

    source = registry.list_datasets()
    kind = next(row["kind"] for row in source if row["name"] == name)
    manifest = {
        "format_version": FORMAT_VERSION,
        "keras_gahb_version": __version__,
        "source": {"name": name, "kind": kind},
        "config": config,
        "counts": {"requested": int(n), "generated": int(n), "written": int(count),
                   "removed_duplicates": int(n - count)},
        "image_shape": [int(size), int(size), int(channels)],
        "dtype": "float32",
        "shards": shards,
    }
    atomic_write_json(manifest_path, manifest)
    if os.path.exists(state_path):
        os.remove(state_path)
    return manifest


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
        _verify(path, manifest)
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


def save_image_grid(images, path, columns=None, padding=1):
    """Write images (n, H, W, C) in [0, 1] as one PNG grid (gray or RGB), atomically."""
    import matplotlib.image

    images = np.clip(np.asarray(images, dtype=np.float32), 0, 1)
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or len(images) == 0:
        raise ValueError(f"Expected images (n, H, W, 1 or 3), got shape {images.shape}.")
    n, h, w, c = images.shape
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = -(-n // columns)
    grid = np.ones((rows * (h + padding) + padding, columns * (w + padding) + padding, c),
                   np.float32)
    for k, image in enumerate(images):
        top = padding + (k // columns) * (h + padding)
        left = padding + (k % columns) * (w + padding)
        grid[top:top + h, left:left + w] = image
    with atomic_path(path) as tmp:
        if c == 1:
            matplotlib.image.imsave(tmp, grid[..., 0], cmap="gray", vmin=0, vmax=1, format="png")
        else:
            matplotlib.image.imsave(tmp, grid, format="png")
    return path


def save_examples(out, name, n=16, size=32, seed=0, channels=1, columns=None, **options):
    """Write a PNG grid of `get_images(name, n, size, seed, channels, **options)` to `out`.

    Example:

    >>> keras_gahb.data.save_examples("discs.png", "discs", n=16, size=32)
    """
    from keras_gahb.data.registry import get_images

    images = get_images(name, n, size, seed=seed, channels=channels, **options)
    save_image_grid(images, out, columns=columns)
    return images


def _verify(path, manifest):
    for shard in manifest["shards"]:
        file = os.path.join(path, shard["file"])
        if not os.path.exists(file):
            raise FileNotFoundError(f"Shard {file} listed in the manifest is missing.")
        if sha256_file(file) != shard["sha256"]:
            raise ValueError(f"Shard {file} does not match its SHA-256 in the manifest "
                             "(corrupted or modified); prepare the dataset again.")


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"Option value {value!r} cannot be recorded in the manifest.")


def _progress(total, verbose):
    if not verbose:
        return None
    import keras

    return keras.utils.Progbar(total, unit_name="shard")
