"""Epoch checkpoints and progress of a run folder: written so that they can be trusted.

Why not `keras.callbacks.BackupAndRestore(double_checkpoint=True)`: it keeps
two backups and falls back to the older when the newer cannot be opened, but
it overwrites its files in place (a kill during the save leaves a damaged
file), does not fsync, checks nothing (a truncated file that still opens is
loaded), writes HDF5 straight to the disk (h5py can crash the process when the
disk fills), restores only the epoch number (not the history, the PSNR
records or the best model that a run folder also holds) and sets it in
`on_train_begin`, after the noise stream of the epoch to resume must already
be known. So a run folder does what it does, in this order, for every epoch:

1. everything the epoch writes is serialized in memory (the checkpoint: the
   weights and optimizer state as a .keras archive; model.keras;
   model_best.keras; history.csv; state.json) and the free space is checked
   against its size: a full disk is refused before any file is touched;
2. the checkpoint's SHA-256 is written beside it (`epoch-00002.keras.sha256`,
   the format of `sha256sum -c`), then the checkpoint to a hidden temporary
   name (`.epoch-00002.keras.partial-<pid>`, which no pattern of real
   checkpoints matches), fsynced and renamed;
3. the models and history.csv (each atomically), then state.json, which
   makes the epoch the one a rerun resumes from;
4. checkpoints older than the last two are removed.

On resume, the newest checkpoint up to state.json's epoch whose checksum
matches is used; a damaged newer one is named in a warning.
"""

import contextlib
import dataclasses
import errno
import hashlib
import json
import os
import re
import shutil
import warnings

from keras_gahb.runs.errors import DamagedCheckpointError, NoSpaceLeftError
from keras_gahb.runs.layout import CHECKPOINT_DIR, STATE_FILE, TRAINING_OUTPUTS
from keras_gahb.utils import atomic_write_bytes, read_json

#: Checkpoints kept: the newest and the one before it, to fall back to.
KEEP = 2
#: Bytes kept free beyond what an epoch writes (file-system blocks, metadata).
SPACE_MARGIN = 64 * 1024

_NAME = re.compile(r"^epoch-(\d+)\.(keras|weights\.h5)$")


@dataclasses.dataclass
class Resume:
    """Where a run continues: `epoch` 0 (from the start) or the epoch of `checkpoint`.

    Attributes:
        epoch: the completed epoch to continue after.
        checkpoint: path of the checkpoint to load (None with epoch 0).
        state: state.json's content, cut to `epoch` (history and PSNR records
            of later epochs removed), or None when there is none.
        finished: the run is finished (nothing to train).
        damaged: [(path, reason)] of newer checkpoints that were skipped.
    """

    epoch: int = 0
    checkpoint: str = None
    state: dict = None
    finished: bool = False
    damaged: list = dataclasses.field(default_factory=list)


def checkpoint_name(epoch):
    """The checkpoint of `epoch`, relative to the run folder: checkpoints/epoch-00002.keras."""
    return os.path.join(CHECKPOINT_DIR, f"epoch-{int(epoch):05d}.keras")


def read_state(run_dir):
    """The state.json of `run_dir`, or None if there is none."""
    path = os.path.join(os.fspath(run_dir), STATE_FILE)
    return read_json(path) if os.path.exists(path) else None


def write_state(run_dir, state):
    """Write state.json (atomically, fsynced)."""
    _write(os.path.join(os.fspath(run_dir), STATE_FILE), _json(state), epoch=state.get("epoch", 0))


def finish(run_dir, state):
    """Mark the run finished: state.json with status "finished"; returns the state written."""
    state = {**state, "status": "finished"}
    state.pop("stopped", None)
    write_state(run_dir, state)
    return state


def save_epoch(run_dir, epoch, checkpoint, files, state, resumable_epoch=0, keep=KEEP):
    """Write one finished epoch: its checkpoint, its files, then state.json (see the module).

    Args:
        run_dir: the run folder.
        epoch: the epoch just finished.
        checkpoint: bytes of the checkpoint (`keras_gahb.utils.model_bytes(model)`).
        files: {name: bytes or str} written in this order before state.json
            (model.keras, model_best.keras, history.csv).
        state: the state to record; its "epoch" and "checkpoint" are set here.
        resumable_epoch: the epoch a rerun resumes from until this one is
            saved (named when the disk is full).
        keep: checkpoints kept. Defaults to 2.

    Returns:
        The state written.

    Raises:
        NoSpaceLeftError: the disk cannot hold the epoch; nothing of it is
            recorded and the run can resume from `resumable_epoch`.
    """
    run_dir = os.fspath(run_dir)
    name = checkpoint_name(epoch)
    state = {**state, "epoch": int(epoch), "checkpoint": name}
    state.pop("stopped", None)
    payload = [(os.path.join(run_dir, name), checkpoint)]
    payload += [(os.path.join(run_dir, key), value) for key, value in files.items()]
    state_text = _json(state)
    folder = os.path.join(run_dir, CHECKPOINT_DIR)
    os.makedirs(folder, exist_ok=True)
    _check_space(folder, payload + [(os.path.join(run_dir, STATE_FILE), state_text)],
                 resumable_epoch)
    digest = hashlib.sha256(checkpoint).hexdigest()
    path = os.path.join(run_dir, name)
    _write(path + ".sha256", f"{digest}  {os.path.basename(path)}\n", resumable_epoch)
    for target, value in payload:
        _write(target, value, resumable_epoch)
    _write(os.path.join(run_dir, STATE_FILE), state_text, resumable_epoch)
    prune(run_dir, int(epoch), keep)
    return state


def resume_point(run_dir):
    """Where a run in `run_dir` continues, from state.json and intact checkpoints.

    The newest checkpoint up to state.json's epoch whose SHA-256 matches its
    .sha256 file is chosen (a checkpoint written before checksums existed is
    taken as it is); each damaged newer one is named in a warning ("checkpoint
    .../epoch-00002.keras is damaged (checksum mismatch); resuming from epoch 1"),
    and the history of the epochs after the chosen one is dropped.

    Returns:
        A `Resume`.

    Raises:
        DamagedCheckpointError: state.json records an epoch but no checkpoint is intact.

    Example:

    >>> keras_gahb.runs.resume_point("runs/faces").epoch
    2
    """
    run_dir = os.fspath(run_dir)
    state = read_state(run_dir)
    if state is None:
        return Resume()
    if state.get("status") == "finished":
        return Resume(epoch=int(state.get("epoch", 0)), state=state, finished=True)
    saved = int(state.get("epoch", 0)) if state.get("checkpoint") else 0
    if not saved:
        return Resume(state=state)
    candidates = {epoch: path for epoch, path in list_checkpoints(run_dir) if epoch <= saved}
    recorded = os.path.join(run_dir, state["checkpoint"])
    candidates.setdefault(saved, recorded)  # missing: reported as such
    damaged = []
    for epoch in sorted(candidates, reverse=True):
        path = candidates[epoch]
        problem = checkpoint_problem(path)
        if problem is None:
            for bad, reason in damaged:
                warnings.warn(f"checkpoint {bad} is damaged ({reason}); resuming from epoch {epoch}",
                              stacklevel=2)
            return Resume(epoch=epoch, checkpoint=path, state=_cut(state, epoch, path, run_dir),
                          damaged=damaged)
        damaged.append((path, problem))
    raise DamagedCheckpointError(run_dir, damaged)


def saved_epoch(run_dir):
    """The epoch recorded in state.json with a checkpoint (what a rerun resumes after), or 0."""
    try:
        state = read_state(run_dir) or {}
    except (OSError, ValueError):
        return 0
    return int(state.get("epoch", 0)) if state.get("checkpoint") else 0


@contextlib.contextmanager
def reporting_full_disk(*run_dirs):
    """Turn a full disk met inside the block into `NoSpaceLeftError` (file, epoch to resume from).

    The epoch is the one state.json records in the run folder (of `run_dirs`)
    that holds the file that could not be written.

    Example:

    >>> with keras_gahb.runs.reporting_full_disk("runs/a"):
    ...     fig.savefig("runs/a/figure.png")
    """
    try:
        yield
    except NoSpaceLeftError:
        raise
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        path = error.filename or run_dirs[0]
        inside = [d for d in run_dirs
                  if os.path.abspath(os.fspath(path)).startswith(os.path.abspath(d) + os.sep)]
        raise NoSpaceLeftError(path, saved_epoch((inside or run_dirs)[0])) from None


def checkpoint_problem(path):
    """Why the checkpoint at `path` cannot be trusted ("missing", "checksum mismatch", ...), or None."""
    if not os.path.isfile(path):
        return "missing"
    checksum = path + ".sha256"
    if not os.path.exists(checksum):
        return None if path.endswith(".weights.h5") else "no checksum file"
    try:
        with open(checksum, encoding="utf-8") as f:
            expected = f.read().split()[0]
    except (OSError, IndexError, UnicodeDecodeError):
        return "unreadable checksum file"
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return None if digest.hexdigest() == expected else "checksum mismatch"


def list_checkpoints(run_dir):
    """[(epoch, path)] of the checkpoint files in run_dir/checkpoints, oldest first."""
    folder = os.path.join(os.fspath(run_dir), CHECKPOINT_DIR)
    if not os.path.isdir(folder):
        return []
    found = []
    for name in os.listdir(folder):
        match = _NAME.match(name)
        if match:
            found.append((int(match.group(1)), os.path.join(folder, name)))
    return sorted(found)


def load_checkpoint(model, path):
    """Load a checkpoint's weights and optimizer state into `model` (compiled, its optimizer built).

    Raises a ValueError naming the file when it cannot be read.
    """
    try:
        model.load_weights(path)
    except Exception as error:  # noqa: BLE001 (any failure to read the file is the answer)
        first = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        raise ValueError(
            f"checkpoint {path} cannot be read ({first}); rerun with --restart (restart=True) to "
            "train the run again from epoch 0."
        ) from None


def prune(run_dir, epoch, keep=KEEP):
    """Remove checkpoints older than the `keep` newest up to `epoch`, later ones, and leftovers."""
    folder = os.path.join(os.fspath(run_dir), CHECKPOINT_DIR)
    if not os.path.isdir(folder):
        return
    kept = [path for e, path in list_checkpoints(run_dir) if e <= epoch][-keep:]
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        base = path[: -len(".sha256")] if name.endswith(".sha256") else path
        if base in kept or not os.path.isfile(path):
            continue
        if _NAME.match(os.path.basename(base)) or ".partial-" in name or name.startswith(".tmp-"):
            os.remove(path)


def clear_training(run_dir):
    """Remove what training wrote in `run_dir` (checkpoints, models, history, state; not the settings).

    What `--restart` does before training again from epoch 0.
    """
    run_dir = os.fspath(run_dir)
    for name in TRAINING_OUTPUTS:
        path = os.path.join(run_dir, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)


def _cut(state, epoch, path, run_dir):
    """The state as it was after `epoch`: later history and records dropped."""
    state = dict(state)
    if int(state.get("epoch", 0)) == epoch:
        return state
    state["epoch"] = epoch
    state["checkpoint"] = os.path.relpath(path, run_dir)
    state["history"] = [row for row in state.get("history", []) if row.get("epoch", 0) <= epoch]
    state["psnr_records"] = [r for r in state.get("psnr_records", []) if r.get("epoch", 0) <= epoch]
    best = state.get("best")
    if best and best.get("epoch", 0) > epoch:
        monitor = next((key for key in best if key != "epoch"), None)
        rows = [row for row in state["history"] if monitor in row]
        state["best"] = ({"epoch": max(rows, key=lambda r: r[monitor])["epoch"],
                          monitor: max(r[monitor] for r in rows)} if rows else None)
    return state


def _check_space(folder, payload, resumable_epoch):
    needed = sum(len(value if isinstance(value, bytes) else value.encode()) for _, value in payload)
    needed += SPACE_MARGIN + 4096 * len(payload)
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise NoSpaceLeftError(payload[0][0], resumable_epoch, needed=needed, free=free)


def _write(path, value, epoch):
    data = value if isinstance(value, bytes) else value.encode("utf-8")
    try:
        atomic_write_bytes(path, data)
    except OSError as error:
        if error.errno == errno.ENOSPC:
            raise NoSpaceLeftError(path, epoch) from None
        raise


def _json(obj):
    import numpy as np

    def builtin(value):
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
        raise TypeError(f"Cannot write {type(value).__name__} as JSON.")

    return json.dumps(obj, indent=2, default=builtin) + "\n"
