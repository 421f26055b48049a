"""Training denoisers: the paper's recipe for model.fit, callbacks, and resumable runs.

Plain Keras: `compile_denoiser(model, ...)` (Adam + schedule + optional EMA,
MSE loss) and `model.fit(keras_gahb.data.noisy_pairs(...))`, with
`PSNRCallback` (PSNR vs noise level on train and test, Fig 1's data) and
`DenoisedGridCallback`; `MemorizationCallback` and `memorization_sweep` (when
memorization sets in, tau_mem vs N). `train(run_dir, **options)` is a whole resumable run
(what `gahb train` calls); `train_stacked` trains several such runs in one step. What a run
writes in its folder, and reading it back, is `keras_gahb.runs`.
"""

from keras_gahb.training.denoised_grid_callback import DenoisedGridCallback
from keras_gahb.training.distribution import (
    distribution_scope,
    initialize_cluster,
    is_chief,
    num_replicas,
    process_shard,
)
from keras_gahb.training.memorization import fit_power_law, memorization_sweep, memorization_times
from keras_gahb.training.memorization_callback import MemorizationCallback
from keras_gahb.training.precision import check_precision, precision_problem
from keras_gahb.training.psnr_callback import PSNRCallback, psnr_per_image
from keras_gahb.training.recipe import (
    auto_ema_momentum,
    compile_denoiser,
    cosine_schedule,
    current_learning_rate,
    denoiser_optimizer,
    detach_weights,
    ema_weights,
    learning_rate_schedule,
    native_bfloat16,
    paper_learning_rate_schedule,
    resolve_jit_compile,
    steps_per_epoch,
)
from keras_gahb.training.run import train
from keras_gahb.training.run_checkpoint import RunCheckpoint
from keras_gahb.training.train_config import RECIPES, TrainConfig, load_config_file
from keras_gahb.training.train_result import TrainResult
from keras_gahb.training.train_stacked import train_stacked

__all__ = [
    "DenoisedGridCallback",
    "MemorizationCallback",
    "PSNRCallback",
    "RECIPES",
    "RunCheckpoint",
    "TrainConfig",
    "TrainResult",
    "auto_ema_momentum",
    "check_precision",
    "compile_denoiser",
    "cosine_schedule",
    "current_learning_rate",
    "denoiser_optimizer",
    "detach_weights",
    "distribution_scope",
    "ema_weights",
    "fit_power_law",
    "initialize_cluster",
    "is_chief",
    "learning_rate_schedule",
    "load_config_file",
    "memorization_sweep",
    "memorization_times",
    "native_bfloat16",
    "num_replicas",
    "paper_learning_rate_schedule",
    "precision_problem",
    "process_shard",
    "psnr_per_image",
    "resolve_jit_compile",
    "steps_per_epoch",
    "train",
    "train_stacked",
]
