"""Prepared datasets on disk: compressed .npz shards plus a manifest with SHA-256 checksums."""

import json
import os
import re

import numpy as np

from keras_gahb.data import registry
from keras_gahb.data.dedup import remove_near_duplicates
from keras_gahb.data.prepared import FORMAT_VERSION, MANIFEST, sha256_file, verify_shards
from keras_gahb.utils import atomic_write_json, read_json, save_image_grid, save_npz_atomic
from keras_gahb.version import __version__

# What keras_gahb.utils.atomic_path names its temporary files: .<base>.<random>.tmp<ext>.
_TEMPORARY = re.compile(r"^\.(images-\d+-of-\d+|manifest|\.prepare_state)\..+\.tmp\.(npz|json)$")
_STATE = ".prepare_state.json"


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
    if isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1:
        raise ValueError(f"shard_size must be a positive int, got {shard_size!r}.")
    config = {
        "name": name, "n": n, "size": size, "seed": seed, "channels": channels,
        "options": options, "deduplicate": deduplicate, "shard_size": shard_size,
    }
    config = json.loads(json.dumps(config, default=_jsonable))  # as it will read back
    remove_stale_temporary_files(out)
    manifest_path = os.path.join(out, MANIFEST)
    if os.path.exists(manifest_path):
        manifest = read_json(manifest_path)
        if manifest.get("config") != config:
            raise ValueError(
                f"{out} already holds a different prepared dataset ({manifest.get('config')}). "
                "Choose another --out folder or delete this one."
            )
        verify_shards(out, manifest)
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
            # Uncompressed: float32 images compress to 0.88 of their size, and deflate ran at
            # 1,100 images/s at 80x80, slower than the generator (benchmarks/data_throughput.py).
            save_npz_atomic(path, compress=False, images=images[part], index=index[part])
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


def remove_stale_temporary_files(out):
    """Delete the hidden `.NAME.XXXX.tmp.npz/json` files an interrupted preparation left in `out`.

    The atomic writers rename a temporary file over its destination; a kill
    (SIGKILL, power loss) between writing and renaming leaves the temporary
    file behind. Not safe while another process prepares into the same folder.

    Returns:
        The names of the removed files.
    """
    if not os.path.isdir(out):
        return []
    removed = []
    for name in sorted(os.listdir(out)):
        if _TEMPORARY.match(name) and os.path.isfile(os.path.join(out, name)):
            os.remove(os.path.join(out, name))
            removed.append(name)
    return removed


def save_examples(out, name, n=16, size=32, seed=0, channels=1, columns=None, **options):
    """Write a PNG grid of `get_images(name, n, size, seed, channels, **options)` to `out`.

    Example:

    >>> keras_gahb.data.save_examples("discs.png", "discs", n=16, size=32)
    """
    images = registry.get_images(name, n, size, seed=seed, channels=channels, **options)
    save_image_grid(images, out, columns=columns)
    return images


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
