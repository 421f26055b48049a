"""Run folders: the one place that writes and reads what a training run leaves on disk.

A run folder (`gahb train --out DIR`, `keras_gahb.training.train(DIR)`, each
model of `gahb reproduce`) holds:

- config.json: the resolved options, the training data's fingerprints, the environment;
- split.json (the data source and the indices of the training and test sets)
  or images.npz (the images, for runs given arrays without a source);
- checkpoints/epoch-XXXXX.keras (weights + optimizer state, the last two) with a
  .sha256 beside each; state.json (the epoch to resume from, history, status);
- model.keras, model_best.keras, history.csv, psnr_curves.json/.png, denoised_grid.png;
- .lock while a process trains in it.

The API, in the order a run uses it:

- lock: `RunLock(run_dir, wait=False)` (a context manager), `lock_holder`;
- prepare/validate and write the settings: `prepare(run_dir, record, ...)`,
  `holds_training`, `record_training_images`, `image_source`, `fingerprint`;
- checkpoint: `save_epoch(run_dir, epoch, checkpoint, files, state)`;
- resume: `resume_point(run_dir)` -> `Resume`, `load_checkpoint(model, path)`,
  `clear_training(run_dir)` (restart);
- finish: `finish(run_dir, state)`; `read_state`, `write_state`, `saved_epoch`;
- a full disk: `reporting_full_disk(run_dir)` (a context manager) -> `NoSpaceLeftError`;
- read: `find_model(path)`, `trained_image_size`, `trained_channels`,
  `training_images(path)`, `read_config`, `run_folder`, `is_run_folder`.

It sits between `keras_gahb.data` and `keras_gahb.models` (it imports neither
at import time, nor `keras_gahb.training`), so that sampling, analysis and the
CLI read run folders without importing the training code; `training` writes
through it.
"""

from keras_gahb.runs.checkpoints import (
    KEEP,
    Resume,
    checkpoint_name,
    checkpoint_problem,
    clear_training,
    finish,
    list_checkpoints,
    load_checkpoint,
    prune,
    read_state,
    reporting_full_disk,
    resume_point,
    save_epoch,
    saved_epoch,
    write_state,
)
from keras_gahb.runs.errors import DamagedCheckpointError, NoSpaceLeftError, RunFolderBusyError
from keras_gahb.runs.layout import (
    BEST_MODEL_FILE,
    CHECKPOINT_DIR,
    CONFIG_FILE,
    HISTORY_FILE,
    IMAGES_FILE,
    LOCK_FILE,
    MODEL_FILE,
    SPLIT_FILE,
    STATE_FILE,
    TRAINING_OUTPUTS,
)
from keras_gahb.runs.reading import (
    find_model,
    fingerprint,
    image_source,
    is_run_folder,
    path_hint,
    record_training_images,
    run_folder,
    trained_channels,
    trained_image_size,
    training_images,
)
from keras_gahb.runs.run_lock import RunLock, lock_holder
from keras_gahb.runs.settings import config_differences, holds_training, prepare, read_config

__all__ = [
    "BEST_MODEL_FILE",
    "CHECKPOINT_DIR",
    "CONFIG_FILE",
    "DamagedCheckpointError",
    "HISTORY_FILE",
    "IMAGES_FILE",
    "KEEP",
    "LOCK_FILE",
    "MODEL_FILE",
    "NoSpaceLeftError",
    "Resume",
    "RunFolderBusyError",
    "RunLock",
    "SPLIT_FILE",
    "STATE_FILE",
    "TRAINING_OUTPUTS",
    "checkpoint_name",
    "checkpoint_problem",
    "clear_training",
    "config_differences",
    "find_model",
    "fingerprint",
    "finish",
    "holds_training",
    "image_source",
    "is_run_folder",
    "list_checkpoints",
    "load_checkpoint",
    "lock_holder",
    "path_hint",
    "prepare",
    "prune",
    "read_config",
    "read_state",
    "reporting_full_disk",
    "record_training_images",
    "resume_point",
    "run_folder",
    "save_epoch",
    "saved_epoch",
    "trained_channels",
    "trained_image_size",
    "training_images",
    "write_state",
]
