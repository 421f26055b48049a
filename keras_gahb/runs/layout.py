"""The names of the files of a run folder (one place, so that writers and readers agree)."""

#: The resolved options, the training data's fingerprints and the environment.
CONFIG_FILE = "config.json"
#: Progress: completed epoch, checkpoint to resume from, history rows, PSNR records, status.
STATE_FILE = "state.json"
#: How to get the training images back: the data source and the indices of the sets.
SPLIT_FILE = "split.json"
#: The training and test images themselves, for runs given arrays without a data source.
IMAGES_FILE = "images.npz"
#: The model after the last epoch (EMA weights when EMA is on).
MODEL_FILE = "model.keras"
#: The model of the epoch with the best mean test PSNR.
BEST_MODEL_FILE = "model_best.keras"
#: One row per epoch.
HISTORY_FILE = "history.csv"
#: Epoch checkpoints (weights and optimizer state), the last two, each with a .sha256 beside it.
CHECKPOINT_DIR = "checkpoints"
#: Held by the process that trains in the folder.
LOCK_FILE = ".lock"
#: What a training run writes besides its settings (removed by a restart).
TRAINING_OUTPUTS = (STATE_FILE, MODEL_FILE, BEST_MODEL_FILE, HISTORY_FILE, CHECKPOINT_DIR,
                    "psnr_curves.json", "psnr_curves.png", "denoised_grid.png", "logs")
