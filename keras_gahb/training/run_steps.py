"""The steps every training run shares: `train`, `train_stacked` and the multi-worker path.

Data, model, epoch length, EMA momentum, the epoch clock, the non-finite-loss
guard and its message, the PSNR curves and the result: written once here, so
that a stacked model trains, stops and reports exactly as a model alone.
What a run writes in its folder goes through `keras_gahb.runs`.
"""

import dataclasses
import math
import os

import keras
import numpy as np

from keras_gahb import runs
from keras_gahb.data import NotEnoughImagesError, check_pool_size, disjoint_subsets, get_images
from keras_gahb.data.noise import as_image_array, noisy_pairs
from keras_gahb.training import plots
from keras_gahb.training.psnr_callback import sigma_key
from keras_gahb.training.recipe import auto_ema_momentum
from keras_gahb.training.train_config import TrainConfig
from keras_gahb.training.train_result import TrainResult
from keras_gahb.utils import atomic_write_json


@dataclasses.dataclass
class RunData:
    """The images of a run and how to get them back.

    Attributes:
        train, test: float32 arrays (n, H, W, C).
        split: the split.json record (data source and indices), or None: the
            caller's arrays without a source, recorded as images.npz.
    """

    train: np.ndarray
    test: np.ndarray
    split: dict = None


def load_data(config, train_images=None, test_images=None, data_source=None):
    """The training and test images of a run (drawn from `config.dataset`, or the caller's arrays).

    Args:
        config: a `TrainConfig`.
        train_images, test_images: the caller's arrays (both or neither).
        data_source: with arrays, optional {"source": keras_gahb.runs.image_source(...),
            "train": indices, "test": indices}: where they come from, recorded
            as split.json instead of storing the images.

    Returns:
        A `RunData`.
    """
    if train_images is not None or test_images is not None:
        if train_images is None or test_images is None:
            raise ValueError("Pass both train_images and test_images (or neither).")
        train_x = as_image_array(train_images, "train_images")
        test_x = as_image_array(test_images, "test_images")
        if train_x.shape[1:] != test_x.shape[1:]:
            raise ValueError(
                f"train_images {train_x.shape[1:]} and test_images {test_x.shape[1:]} "
                "must have the same image shape."
            )
        if data_source is not None:
            for name, array in (("train", train_x), ("test", test_x)):
                if len(data_source.get(name, ())) != len(array):
                    raise ValueError(f"data_source[{name!r}] must hold one index per {name} image "
                                     f"({len(array)}), got {len(data_source.get(name, ()))}.")
        return RunData(train_x, test_x, dict(data_source) if data_source is not None else None)
    if data_source is not None:
        raise ValueError("data_source describes the caller's arrays: pass train_images and test_images.")
    try:
        pool = get_images(config.dataset, config.pool_size, config.image_size, seed=config.seed,
                          channels=config.channels, **config.dataset_options)
        shortfall = None
    except NotEnoughImagesError as error:
        shortfall = error
    if shortfall is not None:  # say what 2N + test means and what N fits
        check_pool_size(shortfall.available, config.n, config.test_size,
                        source=f"Dataset {config.dataset!r}")
        raise shortfall
    split = disjoint_subsets(len(pool), config.n, config.test_size, seed=config.seed)
    indices = split.s1 if config.split == "s1" else split.s2
    source = runs.image_source(config.dataset, config.pool_size, config.image_size,
                               seed=config.seed, channels=config.channels, **config.dataset_options)
    record = {"source": source, "train": [int(i) for i in indices], "dataset": config.dataset,
              "used": config.split, **split.to_dict()}
    return RunData(pool[indices], pool[split.test], record)


def run_record(config, data):
    """What config.json records: the resolved options, the data's fingerprints, the environment."""
    import keras_gahb

    if data.split is None or "dataset" not in data.split:  # the caller's arrays
        config = dataclasses.replace(config, dataset="arrays", dataset_options={},
                                     n=len(data.train), test_size=len(data.test))
    return {
        "config": config.to_dict(),
        "data": {"train": runs.fingerprint(data.train), "test": runs.fingerprint(data.test)},
        "environment": {"backend": keras.backend.backend(), "keras": keras.__version__,
                        "keras_gahb": keras_gahb.__version__},
    }


def open_run(run_dir, config, data, *, write=True, restart=False, verbose=0):
    """Prepare a (locked) run folder: restart, check or write its settings, record its images.

    After a run stopped on a non-finite loss, the learning rate may change (a
    rerun with a lower `lr` resumes from the last finite checkpoint); any other
    change of settings in a folder that holds trained epochs is refused.

    Returns:
        The `keras_gahb.runs.Resume` point of the folder.
    """
    if restart and write:
        runs.clear_training(run_dir)
    state = runs.read_state(run_dir) or {}
    stopped = state.get("stopped") or {}
    changeable = ("lr",) if stopped.get("reason") == "non-finite loss" else ()
    defaults = TrainConfig.defaults()
    saved = (runs.read_config(run_dir) or {}).get("config", {})
    if "noise" in saved and "sigma_distribution" not in saved:  # written before recipes
        defaults["sigma_distribution"] = saved["noise"]
    runs.prepare(run_dir, run_record(config, data), defaults={"config": defaults},
                 ignore=("noise",), changeable=changeable,
                 change_note={"after_epoch": state.get("epoch", 0)}, write=write,
                 verbose=verbose)
    if write:
        runs.record_training_images(run_dir, data.split, data.train, data.test)
    return runs.resume_point(run_dir)


def check_model_options(config, train_images):
    """Preset, model_overrides and image size, checked without building the model."""
    from keras_gahb.models import check_preset

    if train_images is not None:
        image_size = tuple(int(side) for side in np.shape(train_images)[1:3])
    else:
        image_size = config.image_size
    check_preset(config.preset, image_size=image_size, **config.model_overrides)


def check_tensorboard():
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise ImportError(
            "tensorboard=True needs the tensorboard package: pip install tensorboard "
            "(or run without --tensorboard)."
        ) from None


def build_model(config, channels):
    """The run's model: `config.preset` with its overrides, `channels` and precision."""
    from keras_gahb.models import from_preset

    overrides = dict(config.model_overrides)
    overrides.setdefault("image_channels", int(channels))
    if config.precision != "float32":
        overrides["dtype"] = config.precision
    return from_preset(config.preset, **overrides)


def synchronize_batch_norm(model):
    from keras_gahb.layers import BiasFreeBatchNormalization

    for layer in model._flatten_layers():
        if isinstance(layer, BiasFreeBatchNormalization):
            layer.synchronized = True  # read when the train step is traced


def epoch_steps(config, num_images, drop_remainder=False):
    """Optimizer steps per epoch (`images_per_epoch` or one pass); a ValueError when none."""
    per_epoch = config.images_per_epoch or num_images
    steps = (per_epoch // config.batch_size if drop_remainder
             else math.ceil(per_epoch / config.batch_size))
    if steps < 1:
        raise ValueError(
            f"An epoch of {per_epoch} images makes no full batch of {config.batch_size}; "
            "lower batch_size or raise images_per_epoch."
        )
    return steps


def training_pairs(config, images, seed, initial_epoch=0, drop_remainder=False):
    """The run's training batches: `noisy_pairs` with the config's recipe (noise levels, weight).

    Batches are (noisy, clean) for loss_weight "none", else (noisy, clean, weight) with
    the weight of each image's drawn sigma (Keras sample weights).
    """
    weighted = config.loss_weight != "none"
    return noisy_pairs(
        images, config.batch_size, sigma=config.sigma_distribution, sigma_max=config.sigma_max,
        sigma_min=config.sigma_min if isinstance(config.sigma_distribution, str) else None,
        images_per_epoch=config.images_per_epoch, seed=seed, initial_epoch=initial_epoch,
        drop_remainder=drop_remainder, loss_weight=config.loss_weight if weighted else None,
        sigma_data=config.sigma_data,
    )


def compile_run_model(model, config, steps, jit_compile):
    """`compile_denoiser` with the run's optimizer settings (lr, schedule, warm-up, EMA)."""
    from keras_gahb.training.recipe import compile_denoiser

    return compile_denoiser(model, learning_rate=config.lr, schedule=config.schedule,
                            steps_per_epoch=steps, epochs=config.epochs,
                            halve_every=config.halve_every,
                            ema_momentum=ema_momentum(config, steps), jit_compile=jit_compile,
                            warmup_steps=config.warmup_steps)


def ema_momentum(config, steps):
    """The EMA momentum of the run: None without EMA, else the option or `auto_ema_momentum`."""
    if not config.ema:
        return None
    if config.ema_momentum is not None:
        return config.ema_momentum
    return auto_ema_momentum(steps * config.epochs)


def nonfinite_error(run_dir, checkpoint, config):
    """The ValueError of a run stopped by a non-finite loss: which epoch is kept, what to do."""
    if checkpoint.epoch:
        kept = (f"The last finite epoch, epoch {checkpoint.epoch}, is kept "
                f"({os.path.join(run_dir, runs.MODEL_FILE)} and its checkpoint): a rerun resumes "
                "from it")
    else:
        kept = "No epoch finished, so nothing was saved"
    return ValueError(
        f"Training of {run_dir} stopped in epoch {checkpoint.nonfinite_epoch}: the loss became "
        f"non-finite (NaN or inf). {kept}. Rerun with a lower learning rate (e.g. --lr "
        f"{config.lr / 2:g} or lr={config.lr / 2:g}; it was {config.lr:g}), use "
        "precision='float32', or check the images."
    )


class EpochTimer(keras.callbacks.Callback):
    """First in the list: stops the epoch clocks of the runs' checkpoints before evaluation runs."""

    def __init__(self, checkpoints):
        super().__init__()
        self.checkpoints = list(checkpoints)

    def on_epoch_end(self, epoch, logs=None):
        if logs and "loss" in logs:
            float(keras.ops.convert_to_numpy(logs["loss"]))  # wait for the last step
        for checkpoint in self.checkpoints:
            checkpoint.mark_train_end()


class NonFiniteGuard(keras.callbacks.Callback):
    """Stop training when the running loss is NaN or inf, looking every `every` steps.

    Like `keras.callbacks.TerminateOnNaN`, but reading the loss (a device-to-host
    sync) only every `every` steps keeps the asynchronous dispatch of the
    backends; the end of every epoch is checked by `RunCheckpoint` anyway,
    and nothing of the epoch in which the loss became non-finite is saved.
    """

    def __init__(self, every=25):
        super().__init__()
        self.every = every

    def on_train_batch_end(self, batch, logs=None):
        if (batch + 1) % self.every or not logs or "loss" not in logs:
            return
        if not np.isfinite(float(keras.ops.convert_to_numpy(logs["loss"]))):
            self.model.stop_training = True


def write_curves(run_dir, psnr, checkpoint):
    """psnr_curves.json and psnr_curves.png of a finished run (Fig 1's data)."""
    records = checkpoint.records
    if not records:
        return
    best_epoch = (checkpoint.best or {}).get("epoch")
    best = next((r for r in records if r["epoch"] == best_epoch), records[-1])
    curves = {
        "psnr": "mean over images of 10 log10(1 / MSE_i) (peak 1), dB",
        "sigmas": psnr.sigmas,
        "input_psnr": psnr.input_psnr,
        "last": records[-1],
        "best": best,
        "epochs": records,
    }
    atomic_write_json(os.path.join(run_dir, "psnr_curves.json"), curves)
    last = records[-1]
    plots.plot_psnr_curves(
        os.path.join(run_dir, "psnr_curves.png"), psnr.sigmas, psnr.input_psnr,
        {name: last[name] for name in psnr.input_psnr},
        title=f"{os.path.basename(os.path.abspath(run_dir))}, epoch {last['epoch']}",
    )


def run_result(run_dir, state, resumed, already_finished=False):
    """The `TrainResult` of a run folder from its state and psnr_curves.json."""
    from keras_gahb.utils import read_json

    rows = state.get("history", [])
    metrics = dict(rows[-1]) if rows else {}
    metrics.pop("epoch", None)
    curves_path = os.path.join(run_dir, "psnr_curves.json")
    curves = read_json(curves_path) if os.path.exists(curves_path) else {}
    for name, values in curves.get("input_psnr", {}).items():
        for sigma, value in zip(curves["sigmas"], values):
            key = sigma_key(sigma)
            metrics[f"{name}_input_psnr_{key}"] = value
            if f"{name}_psnr_{key}" in metrics and name == "test":
                metrics[f"test_gain_{key}"] = metrics[f"test_psnr_{key}"] - value
    return TrainResult(
        run_dir=run_dir,
        model_path=os.path.join(run_dir, runs.MODEL_FILE),
        best_model_path=os.path.join(run_dir, runs.BEST_MODEL_FILE),
        epochs_completed=int(state.get("epoch", 0)),
        history=rows,
        metrics=metrics,
        best=state.get("best") or {},
        psnr_curves=curves,
        resumed=resumed,
        already_finished=already_finished,
        replicas=int(state.get("replicas", 1)),
    )
