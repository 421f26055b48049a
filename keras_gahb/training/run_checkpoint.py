"""Epoch checkpoints that make a run resumable and never leave a half-written file."""

import csv
import io
import math
import os
import time

import keras
import numpy as np

from keras_gahb import runs
from keras_gahb.training.recipe import current_learning_rate, ema_weights
from keras_gahb.utils import model_bytes


class RunCheckpoint(keras.callbacks.Callback):
    """Save everything needed to resume at the end of each epoch, through `keras_gahb.runs`.

    At the end of each epoch with a finite loss and finite weights it
    serializes, in memory, the checkpoint (weights and optimizer state: Adam
    moments, iteration count, EMA weights), `model.keras` (and
    `model_best.keras` when the monitored metric improved; with the EMA
    weights when the optimizer keeps them) and `history.csv`, and hands them
    to `keras_gahb.runs.save_epoch`, which checks the free space, writes the
    checkpoint with its checksum (fsynced, renamed), the files, then
    `state.json`, and keeps the last two checkpoints. A kill at any point
    leaves a run that resumes from the last recorded epoch; a full disk
    raises `keras_gahb.runs.NoSpaceLeftError` naming the file and that epoch.

    A non-finite loss or weight stops training (`model.stop_training`) and
    nothing of that epoch is saved; `nonfinite_epoch` tells which epoch, and
    `write_state("running", stopped=...)` records why, so that a rerun with a
    lower learning rate may resume from the last finite epoch.

    Args:
        run_dir: the run directory.
        state: the state dict of a previous (interrupted) run, or None.
        monitor: the log key whose maximum selects model_best.keras.
            Defaults to "test_psnr_mean".
        psnr_callback: optional `PSNRCallback` whose records are stored.
        images_per_epoch: images per epoch, for the logged throughput.
        replicas: devices the batch is split over (recorded in the state).
        write: False on the non-chief processes of a multi-process run: they
            serialize the same files (saving runs collective ops that every
            worker must join) and write nothing, so `run_dir` has one writer.
            Defaults to True.

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
        rows = self.rows + [row]
        records = list(self.records)
        if self.psnr_callback is not None and self.psnr_callback.records:
            last = self.psnr_callback.records[-1]
            if last["epoch"] == epoch + 1:
                records.append(last)
        improved = self.monitor in row and (
            self.best is None or row[self.monitor] > self.best[self.monitor]
        )
        best = {"epoch": epoch + 1, self.monitor: row[self.monitor]} if improved else self.best
        self._save(epoch + 1, improved, rows, records, best)

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

    def write_state(self, status, stopped=None):
        """Write state.json with `status` (and why the run stopped, a dict, if it did)."""
        if not self.write:
            return
        state = self.state(status)
        if stopped:
            state["stopped"] = dict(stopped)
        if status == "finished":
            runs.finish(self.run_dir, state)
        else:
            runs.write_state(self.run_dir, state)

    def _save(self, epoch, improved, rows, records, best):
        checkpoint = model_bytes(self.model)  # training weights + optimizer state
        with ema_weights(self.model):
            model = model_bytes(self.model)
        if self.write:
            files = {runs.MODEL_FILE: model}
            if improved:
                files[runs.BEST_MODEL_FILE] = model
            files[runs.HISTORY_FILE] = history_csv(rows)
            state = {**self.state("running"), "best": best, "history": rows,
                     "psnr_records": records}
            runs.save_epoch(self.run_dir, epoch, checkpoint, files, state,
                            resumable_epoch=self.epoch)
        self.rows, self.records, self.best = rows, records, best
        self.epoch, self.checkpoint = epoch, runs.checkpoint_name(epoch)


def history_csv(rows):
    """The epoch rows (dicts) as CSV text; columns = union of keys, epoch first."""
    columns = ["epoch"]
    for row in rows:
        columns += [key for key in row if key not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in row.items()})
    return buffer.getvalue()


def _as_float(value):
    try:
        return float(keras.ops.convert_to_numpy(value))
    except (TypeError, ValueError):
        return None


def _weights_finite(model):
    return all(
        np.all(np.isfinite(keras.ops.convert_to_numpy(v.value))) for v in model.trainable_variables
    )
