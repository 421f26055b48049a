"""A run folder's settings (config.json): checked against the new ones, replaced, or written."""

import json
import os

from keras_gahb.runs.layout import (
    BEST_MODEL_FILE,
    CONFIG_FILE,
    IMAGES_FILE,
    MODEL_FILE,
    SPLIT_FILE,
    STATE_FILE,
)
from keras_gahb.utils import atomic_write_json, read_json

#: Keys of a record that describe where and how it ran, never compared.
UNCOMPARED = ("environment", "changes")


def prepare(run_dir, record, *, defaults=None, ignore=(), changeable=(), change_note=None,
            holds_results=None, write=True, verbose=0, what="a run",
            advice="Use a new output directory, or pass --restart (restart=True) to train this "
                   "one again from epoch 0 (it deletes the trained epochs)."):
    """Check `record` against the run folder's config.json, or write it there.

    - No config.json: `record` is written.
    - The same settings (keys of `ignore` and "environment" aside): nothing changes.
    - Other settings while the folder holds no results yet (an earlier command
      failed before finishing an epoch): the new settings replace the old, and
      the files derived from the old ones (split.json, images.npz) are removed.
    - Other settings in a folder that holds results: a ValueError naming the
      differences (so a run is never mixed from two settings), unless every
      difference is in `changeable`: then the new record is written with the
      change appended to its "changes" list (with `change_note`).

    Args:
        run_dir: the run folder (must exist when `write`).
        record: the JSON-ready dict to record; its "config" sub-dict is shown
            without a prefix in messages, other sub-dicts as "key.sub".
        defaults: optional dict merged under the saved record before comparing
            (e.g. {"config": TrainConfig.defaults()}: an option absent from an
            older config.json had its default value then).
        ignore: top-level or dotted keys that may differ (execution options).
        changeable: keys that may differ even once the folder holds results.
        change_note: dict recorded with an accepted change (e.g. {"after_epoch": 3}).
        holds_results: callable(run_dir) -> bool; defaults to `holds_training`.
        write: False on processes that only check (the non-chief workers).
        verbose: say when settings are replaced or changed.
        what: how the folder's content is named in the error ("a run", "a reproduction").
        advice: the error's last sentence, what to do.

    Returns:
        The list of differences ("key: saved X, now Y"), empty when none.

    Example:

    >>> keras_gahb.runs.prepare("runs/a", {"config": {"lr": 1e-3}})
    []
    """
    run_dir = os.fspath(run_dir)
    path = os.path.join(run_dir, CONFIG_FILE)
    holds_results = holds_results or holds_training
    current = json.loads(json.dumps(record, default=_builtin))  # the values as JSON reads them
    differences = []
    if os.path.exists(path):
        saved = read_json(path)
        differences = config_differences(_merged(defaults or {}, saved), current, ignore)
        if not differences:
            return []
        if holds_results(run_dir):
            fixed = [d for d in differences if d.split(":")[0] not in changeable]
            if fixed:
                raise ValueError(
                    f"{run_dir} holds {what} with other settings ({'; '.join(fixed[:6])}). {advice}"
                )
            if write:
                if verbose:
                    print(f"{run_dir}: continuing with {'; '.join(differences)}.", flush=True)
                current["changes"] = list(saved.get("changes", [])) + [
                    {"change": d, **(change_note or {})} for d in differences]
                atomic_write_json(path, current)
            return differences
        if not write:  # the writing process replaces them
            return differences
        if verbose:
            print(f"{run_dir} holds no finished epoch yet: replacing its settings "
                  f"({'; '.join(differences[:3])}).", flush=True)
        for name in (SPLIT_FILE, IMAGES_FILE):
            if os.path.exists(os.path.join(run_dir, name)):
                os.remove(os.path.join(run_dir, name))
    if write:
        atomic_write_json(path, current)
    return differences


def config_differences(saved, current, ignore=()):
    """The differences between two records as "key: saved X, now Y" strings.

    Nested dicts are compared key by key ("data.train: ..."), the "config" sub-dict
    without a prefix; keys of `UNCOMPARED` and `ignore` are skipped.
    """
    return _differences(saved, current, "", set(UNCOMPARED) | set(ignore))


def holds_training(run_dir):
    """Whether `run_dir` holds a finished epoch of training (a checkpoint or a saved model)."""
    run_dir = os.fspath(run_dir)
    path = os.path.join(run_dir, STATE_FILE)
    if os.path.exists(path):
        state = read_json(path)
        if state.get("checkpoint") or state.get("status") == "finished":
            return True
    return any(os.path.exists(os.path.join(run_dir, name)) for name in (MODEL_FILE, BEST_MODEL_FILE))


def read_config(run_dir):
    """The config.json of a run folder as a dict, or None when there is none."""
    path = os.path.join(os.fspath(run_dir), CONFIG_FILE)
    return read_json(path) if os.path.isfile(path) else None


def _differences(saved, current, prefix, ignore):
    out = []
    for key in sorted(set(saved) | set(current)):
        name = f"{prefix}{key}"
        if name in ignore or key in ignore and not prefix:
            continue
        a, b = saved.get(key), current.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, "" if name == "config" else f"{name}.", ignore)
        elif a != b:
            out.append(f"{name}: {a!r} saved, {b!r} now")
    return out


def _merged(defaults, saved):
    out = dict(saved)
    for key, value in defaults.items():
        if isinstance(value, dict) and isinstance(saved.get(key), dict):
            out[key] = {**value, **saved[key]}
        elif key not in out:
            out[key] = value
    return out


def _builtin(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"Cannot record {type(value).__name__} in config.json.")
