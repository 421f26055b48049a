"""Epoch checkpoints that make a run resumable and never leave a half-written file."""

import csv
import io
import math
import os
import tempfile
import time

import keras
import numpy as np

from keras_gahb.training.recipe import current_learning_rate, ema_weights
from keras_gahb.utils import atomic_write_json, atomic_write_text, read_json, save_model_atomic

STATE_FILE = "state.json"
CHECKPOINT_DIR = "checkpoints"


class RunCheckpoint(keras.callbacks.Callback):
    """Save everything needed to resume at the end of each epoch, atomically.

    At the end of each epoch with a finite loss and finite weights it writes,
    in this order (each file atomically; a kill at any point leaves a
    consistent run):

    1. `checkpoints/epoch-XXXXX.weights.h5`: weights and optimizer state
       (Adam moments, iteration count, EMA weights);
    2. `model.keras` (and `model_best.keras` when the monitored metric
       improved), with the EMA weights when the optimizer keeps them;
    3. `history.csv`: every epoch so far (earlier runs' rows included);
    4. `state.json`: the completed epoch, the checkpoint to resume from,
       the history rows and the PSNR records; then older checkpoints are removed.

    A non-finite loss or weight stops training (`model.stop_training`) and
    nothing of that epoch is saved; `nonfinite_epoch` tells which epoch.

    Args:
        run_dir: the run directory.
        state: the state dict of a previous (interrupted) run, or None.
        monitor: the log key whose maximum selects model_best.keras.
            Defaults to "test_psnr_mean".
        psnr_callback: optional `PSNRCallback` whose records are stored.
        images_per_epoch: images per epoch, for the logged throughput.
        replicas: devices the batch is split over (recorded in the state).
        write: False on the non-chief processes of a multi-process run: they
            save the same files into a temporary folder that is then deleted
            (saving runs collective ops that every worker must join), and
            `run_dir` has one writer. Defaults to True.

    Example:

    >>> checkpoint = keras_gahb.training.RunCheckpoint("runs/a")
    >>> model.fit(pairs, epochs=5, callbacks=[checkpoint])
    """

    def __init__(self, run_dir, state=None, monitor="test_psnr_mean", psnr_callback=None,
                 images_per_epoch=None, replicas=1, write=True):
        super().__init__()
        self.run_dir = os.fspath(run_dir)
        state = state or {}
        self.epoch = int(state.get("epoch", 0))
        self.checkpoint = state.get("checkpoint")
        self.rows = list(state.get("history", []))
        self.records = list(state.get("psnr_records", []))
        self.best = state.get("best")
        self.monitor = monitor
        self.psnr_callback = psnr_callback
        self.images_per_epoch = images_per_epoch
        self.replicas = int(replicas)
        self.write = bool(write)
        self.nonfinite_epoch = None
        self._begin = None
        self._train_seconds = None

    # --- called by the timing callback placed first in the list ---
    def mark_train_end(self):
        self._train_seconds = time.perf_counter() - self._begin

    def on_epoch_begin(self, epoch, logs=None):
        self._begin = time.perf_counter()
        self._train_seconds = None

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        loss = _as_float(logs.get("loss", math.nan))
        if not math.isfinite(loss) or not _weights_finite(self.model):
            self.nonfinite_epoch = epoch + 1
            self.model.stop_training = True
            return
        row = {"epoch": epoch + 1}
        for key, value in logs.items():
            value = _as_float(value)
            if value is not None:
                row[key] = value
        row["lr"] = current_learning_rate(self.model.optimizer)
        if self._train_seconds is not None:
            row["train_seconds"] = self._train_seconds
            if self.images_per_epoch:
                row["images_per_second"] = self.images_per_epoch / self._train_seconds
        row["epoch_seconds"] = time.perf_counter() - self._begin
        self.rows.append(row)
        if self.psnr_callback is not None and self.psnr_callback.records:
            last = self.psnr_callback.records[-1]
            if last["epoch"] == epoch + 1:
                self.records.append(last)
        improved = self.monitor in row and (
            self.best is None or row[self.monitor] > self.best[self.monitor]
        )
        if improved:
            self.best = {"epoch": epoch + 1, self.monitor: row[self.monitor]}
        self._save(epoch + 1, improved)

    def state(self, status="running"):
        """The JSON-ready state of the run."""
        return {
            "status": status,
            "epoch": self.epoch,
            "checkpoint": self.checkpoint,
            "best": self.best,
            "replicas": self.replicas,
            "history": self.rows,
            "psnr_records": self.records,
        }

    def write_state(self, status):
        if not self.write:
            return
        atomic_write_json(os.path.join(self.run_dir, STATE_FILE), self.state(status))

    def _save(self, epoch, improved):
        name = os.path.join(CHECKPOINT_DIR, f"epoch-{epoch:05d}.weights.h5")
        if not self.write:
            with tempfile.TemporaryDirectory() as scratch:
                self._save_models(scratch, name, improved)
            self.epoch, self.checkpoint = epoch, name
            return
        folder = os.path.join(self.run_dir, CHECKPOINT_DIR)
        self._save_models(self.run_dir, name, improved)
        write_history_csv(os.path.join(self.run_dir, "history.csv"), self.rows)
        self.epoch, self.checkpoint = epoch, name
        self.write_state("running")
        for old in os.listdir(folder):
            if old.endswith(".weights.h5") and os.path.join(CHECKPOINT_DIR, old) != name:
                os.remove(os.path.join(folder, old))

    def _save_models(self, root, name, improved):
        os.makedirs(os.path.join(root, CHECKPOINT_DIR), exist_ok=True)
        save_weights_atomic(self.model, os.path.join(root, name))
        with ema_weights(self.model):
            save_model_atomic(self.model, os.path.join(root, "model.keras"))
            if improved:
                save_model_atomic(self.model, os.path.join(root, "model_best.keras"))


def load_state(run_dir):
    """The state.json of `run_dir`, or None if there is none."""
    path = os.path.join(os.fspath(run_dir), STATE_FILE)
    return read_json(path) if os.path.exists(path) else None


def save_weights_atomic(model, path):
    """`model.save_weights(path)` (weights and optimizer state) written atomically."""
    path = os.fspath(path)
    if not path.endswith(".weights.h5"):
        raise ValueError(f"Weight files must end in .weights.h5, got {path}.")
    folder, base = os.path.split(path)
    tmp = os.path.join(folder, f".tmp-{os.getpid()}-{base}")
    try:
        model.save_weights(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_history_csv(path, rows):
    """Write the epoch rows (dicts) as CSV, atomically; columns = union of keys, epoch first."""
    columns = ["epoch"]
    for row in rows:
        columns += [key for key in row if key not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in row.items()})
    atomic_write_text(path, buffer.getvalue())


def _as_float(value):
    try:
        return float(keras.ops.convert_to_numpy(value))
    except (TypeError, ValueError):
        return None


def _weights_finite(model):
    return all(
        np.all(np.isfinite(keras.ops.convert_to_numpy(v.value))) for v in model.trainable_variables
    )
