"""Reading a run folder: its model file, the image size and channels it trained on, its images.

This is what sampling, analysis and the CLI need from a training run, without
importing `keras_gahb.training`.
"""

import difflib
import hashlib
import os

import numpy as np

from keras_gahb.runs.layout import (
    BEST_MODEL_FILE,
    CONFIG_FILE,
    IMAGES_FILE,
    MODEL_FILE,
    SPLIT_FILE,
    STATE_FILE,
)
from keras_gahb.runs.settings import read_config
from keras_gahb.utils import atomic_write_json, read_json, save_npz_atomic


def is_run_folder(path):
    """Whether `path` is a folder written by a training run (it holds config.json or state.json)."""
    path = os.fspath(path)
    return os.path.isdir(path) and any(
        os.path.exists(os.path.join(path, name)) for name in (CONFIG_FILE, STATE_FILE))


def run_folder(path):
    """The run folder of `path` (a run folder, or a model file inside one), or None."""
    if not isinstance(path, (str, os.PathLike)):
        return None
    path = os.path.abspath(os.fspath(path))
    if os.path.isdir(path):
        return path if is_run_folder(path) else None
    folder = os.path.dirname(path)
    return folder if is_run_folder(folder) else None


def find_model(path, best=False):
    """The .keras model file that `path` names: a model file, or a run folder's model.keras.

    Args:
        path: a .keras file, or a run folder (its model.keras; with `best`,
            model_best.keras).
        best: take model_best.keras of a run folder. Default False.

    Returns:
        str, the path of an existing .keras file.

    Raises:
        FileNotFoundError: nothing there; the message says which real path is
            close when one is (`runs/x.keras` for the folder `runs/x/`, a run
            folder whose model is not written yet, a reproduction's folder
            that holds model folders).
        ValueError: a file that is not a .keras model.

    Example:

    >>> keras_gahb.runs.find_model("runs/faces")
    'runs/faces/model.keras'
    """
    path = os.fspath(path)
    name = BEST_MODEL_FILE if best else MODEL_FILE
    if os.path.isfile(path):
        if not path.endswith(".keras"):
            raise ValueError(f"Expected a .keras model file or a run folder, got {path}.")
        return path
    if os.path.isdir(path):
        model = os.path.join(path, name)
        if os.path.isfile(model):
            return model
        raise FileNotFoundError(_folder_without_model(path, name))
    raise FileNotFoundError(f"Model not found: {path}.{path_hint(path)}")


def path_hint(path):
    """A sentence naming the real model path close to a missing `path` (" Did you mean ...?"), or ""."""
    path = os.fspath(path).rstrip("/\\") or os.fspath(path)
    stem = path[: -len(".keras")] if path.endswith(".keras") else path
    if stem != path and os.path.isdir(stem):  # runs/x.keras for the run folder runs/x/
        if os.path.isfile(os.path.join(stem, MODEL_FILE)):
            return (f" Did you mean the run folder {stem}/ (its model is "
                    f"{os.path.join(stem, MODEL_FILE)})?")
        return f" {stem}/ is a folder: {_folder_without_model(stem, MODEL_FILE)}"
    if os.path.isfile(path + ".keras"):
        return f" Did you mean {path}.keras?"
    if os.path.basename(path) == MODEL_FILE and os.path.isdir(os.path.dirname(path) or "."):
        return " " + _folder_without_model(os.path.dirname(path) or ".", MODEL_FILE)
    parent = os.path.dirname(path) or "."
    if not os.path.isdir(parent):
        return ""
    entries = {}
    for entry in os.listdir(parent):
        full = os.path.join(parent, entry) if parent != "." else entry
        if os.path.isfile(os.path.join(full, MODEL_FILE)):
            entries[entry] = f"{full}/"
        elif entry.endswith(".keras") and os.path.isfile(full):
            entries[entry[: -len(".keras")]] = full
    close = difflib.get_close_matches(os.path.basename(stem), list(entries), n=3, cutoff=0.75)
    if close:
        return f" Did you mean {' or '.join(entries[c] for c in close)}?"
    return ""


def trained_image_size(path):
    """The image_size of the training run of `path` (a run folder or a model file in one), or None.

    A model that accepts any input size does not record the size it was
    trained at; its run folder's config.json does.

    Example:

    >>> keras_gahb.runs.trained_image_size("runs/faces/model.keras")
    32
    """
    shape = _train_shape(path)
    if shape is not None:
        return int(shape[1]) if shape[1] == shape[2] else None
    config = _run_config(path)
    size = config.get("image_size")
    return int(size) if isinstance(size, int) and not isinstance(size, bool) else None


def trained_channels(path):
    """The image channels of the training images of `path`'s run, or None when unknown."""
    shape = _train_shape(path)
    if shape is not None:
        return int(shape[-1])
    channels = _run_config(path).get("channels")
    return int(channels) if isinstance(channels, int) and not isinstance(channels, bool) else None


def fingerprint(images):
    """{"shape", "sha256"} of an image array (float32 bytes), as recorded in config.json."""
    digest = hashlib.sha256(np.ascontiguousarray(images, dtype=np.float32).tobytes())
    return {"shape": list(np.shape(images)), "sha256": digest.hexdigest()[:16]}


def image_source(dataset, num, image_size, seed=0, channels=1, **options):
    """A record of a `keras_gahb.data.get_images` call: how to draw a pool of images again.

    Example:

    >>> source = keras_gahb.runs.image_source("calpha", 528, 16, seed=0, alpha=2.0)
    >>> keras_gahb.runs.record_training_images("runs/a", {"source": source,
    ...     "train": list(range(512)), "test": list(range(512, 528))})
    """
    return {"dataset": str(dataset), "num": int(num), "image_size": int(image_size),
            "seed": int(seed), "channels": int(channels), "options": dict(options)}


def record_training_images(run_dir, split=None, train_images=None, test_images=None):
    """Record in `run_dir` how to get its training and test images back (if not recorded yet).

    With `split` (a dict with "source" from `image_source` and the "train" and
    "test" indices into that pool, plus any other keys worth keeping), it is
    written as split.json; otherwise the arrays themselves are written as
    images.npz ("train", "test").

    Returns:
        The path written, or None when the folder already held a record.
    """
    run_dir = os.fspath(run_dir)
    split_path, images_path = os.path.join(run_dir, SPLIT_FILE), os.path.join(run_dir, IMAGES_FILE)
    if os.path.exists(split_path) or os.path.exists(images_path):
        return None
    if split is not None:
        if "source" not in split or "train" not in split or "test" not in split:
            raise ValueError("A split record needs 'source' (image_source(...)), 'train' and 'test'.")
        atomic_write_json(split_path, split)
        return split_path
    if train_images is None or test_images is None:
        raise ValueError("Pass a split record, or both train_images and test_images.")
    save_npz_atomic(images_path, train=np.asarray(train_images, np.float32),
                    test=np.asarray(test_images, np.float32))
    return images_path


def training_images(path):
    """The training and test images of the run of `path` (a run folder or a model file in one).

    Read from images.npz, or drawn again from the data source and indices of
    split.json (an older split.json without a source is completed from
    config.json), and checked against the fingerprints that config.json
    recorded when the run trained.

    Returns:
        (train, test): float32 arrays (n, H, W, C) in [0, 1].

    Raises:
        FileNotFoundError: `path` is not in a run folder, or the folder has no record.
        ValueError: the images drawn again differ from those the run trained on.

    Example:

    >>> train, test = keras_gahb.runs.training_images("runs/faces")
    >>> train.shape
    (40, 32, 32, 1)
    """
    folder = run_folder(path)
    if folder is None:
        raise FileNotFoundError(
            f"{os.fspath(path)} is not a run folder (nor a model file in one): no config.json "
            "or state.json there, so its training images are not recorded.")
    images_path, split_path = os.path.join(folder, IMAGES_FILE), os.path.join(folder, SPLIT_FILE)
    if os.path.exists(images_path):
        with np.load(images_path) as stored:
            train, test = stored["train"], stored["test"]
    elif os.path.exists(split_path):
        train, test = _from_split(folder, read_json(split_path))
    else:
        raise FileNotFoundError(
            f"{folder} records no training images (no {SPLIT_FILE} or {IMAGES_FILE}): it was "
            "trained on arrays by a version of keras_gahb that did not save them.")
    recorded = (read_config(folder) or {}).get("data", {})
    for name, images in (("train", train), ("test", test)):
        expected = recorded.get(name)
        if isinstance(expected, dict) and expected.get("sha256") not in (None, fingerprint(images)["sha256"]):
            raise ValueError(
                f"The {name} images drawn again for {folder} differ from those it trained on "
                f"(fingerprint {fingerprint(images)['sha256']}, recorded {expected['sha256']}): "
                "its data source changed since (e.g. files added to an image folder).")
    return train, test


def _from_split(folder, split):
    from keras_gahb.data import get_images

    source = split.get("source")
    if source is None:  # written before split.json recorded its source: config.json has it
        config = (read_config(folder) or {}).get("config", {})
        if not config.get("dataset") or config.get("dataset") == "arrays":
            raise ValueError(f"{folder}/{SPLIT_FILE} does not say which images it indexes.")
        num = int(split.get("num_images", 2 * config["n"] + len(split.get("test", []))))
        source = image_source(config["dataset"], num, config["image_size"], seed=config.get("seed", 0),
                              channels=config.get("channels", 1), **config.get("dataset_options", {}))
    train_indices = split.get("train")
    if train_indices is None:
        train_indices = split[split.get("used", "s1")]
    pool = get_images(source["dataset"], source["num"], source["image_size"], seed=source["seed"],
                      channels=source["channels"], **source.get("options", {}))
    return pool[np.asarray(train_indices, np.int64)], pool[np.asarray(split["test"], np.int64)]


def _run_config(path):
    folder = run_folder(path)
    if folder is None:
        return {}
    try:
        record = read_config(folder) or {}
    except ValueError:
        return {}
    config = record.get("config", {})
    return config if isinstance(config, dict) else {}


def _train_shape(path):
    folder = run_folder(path)
    if folder is None:
        return None
    try:
        shape = ((read_config(folder) or {}).get("data", {}).get("train") or {}).get("shape")
    except (ValueError, AttributeError):
        return None
    return shape if isinstance(shape, list) and len(shape) == 4 else None


def _folder_without_model(folder, name):
    """Why a folder has no model file, and where one is."""
    if is_run_folder(folder):
        state_path = os.path.join(folder, STATE_FILE)
        progress = "no epoch of its training has finished yet"
        if os.path.exists(state_path):
            try:
                epoch = int(read_json(state_path).get("epoch", 0))
            except (ValueError, TypeError):
                epoch = 0
            if epoch:
                progress = f"its state.json records epoch {epoch}, but the file is missing"
        return (f"{folder} is a run folder without {name}: {progress}. Rerun the command that "
                "trains it (`gahb train --out ...` or `gahb reproduce`: it resumes), or pass a .keras file.")
    inside = sorted(entry for entry in os.listdir(folder)
                    if os.path.isfile(os.path.join(folder, entry, MODEL_FILE)))
    nested = os.path.join(folder, "models")
    if not inside and os.path.isdir(nested):  # a reproduction's folder
        inside = sorted(os.path.join("models", entry) for entry in os.listdir(nested)
                        if os.path.isfile(os.path.join(nested, entry, MODEL_FILE)))
    if inside:
        shown = ", ".join(os.path.join(folder, entry) for entry in inside[:3])
        more = f" and {len(inside) - 3} more" if len(inside) > 3 else ""
        return f"{folder} holds no {name} but run folders that do: pass one of {shown}{more}."
    models = sorted(entry for entry in os.listdir(folder) if entry.endswith(".keras"))
    if models:
        return f"{folder} holds no {name}; did you mean {os.path.join(folder, models[0])}?"
    return f"{folder} holds no {name} (it is not a run folder: no config.json or state.json)."
