"""`train`: a resumable training run of a denoiser in a run directory (what `gahb train` calls)."""

import dataclasses
import hashlib
import math
import os

import keras
import numpy as np

from keras_gahb.data import (
    NotEnoughImagesError,
    check_pool_size,
    disjoint_subsets,
    get_images,
    noisy_pairs,
)
from keras_gahb.data.noise import as_image_array
from keras_gahb.training import plots
from keras_gahb.training.denoised_grid_callback import DenoisedGridCallback
from keras_gahb.training.distribution import (
    distribution_scope,
    initialize_cluster,
    is_chief,
    num_replicas,
    process_shard,
)
from keras_gahb.training.precision import check_precision
from keras_gahb.training.psnr_callback import PSNRCallback, sigma_key
from keras_gahb.training.recipe import auto_ema_momentum, compile_denoiser, resolve_jit_compile
from keras_gahb.training.run_checkpoint import RunCheckpoint, load_state
from keras_gahb.training.train_config import TrainConfig
from keras_gahb.training.train_result import TrainResult
from keras_gahb.utils import atomic_write_json, read_json

CONFIG_FILE = "config.json"


def train(run_dir, train_images=None, test_images=None, callbacks=(), verbose=1, **options):
    """Train a bias-free denoiser in `run_dir`; resumable, with PSNR curves and best/last models.

    The run: build `preset`, compile it with Adam (peak `lr`, `schedule`),
    optional EMA of the weights and MSE loss, and `model.fit` it on
    `keras_gahb.data.noisy_pairs` of the training images (per-image noise
    sigma = U^2 sigma_max for noise="quadratic"). After every epoch the PSNR
    at `eval_sigmas` on a fixed train subset and the test set is logged, and
    everything needed to resume is saved atomically. Calling `train` again
    with the same `run_dir` and options continues after the last completed
    epoch (weights, Adam state, EMA, noise stream and history), or returns at
    once when the run is finished. Different options in the same `run_dir`
    raise a ValueError once it holds a finished epoch (before that, the new
    options replace the old); so does a non-finite loss (the last good model
    is kept). Options (preset, model_overrides, image size against
    2**levels, dataset size for 2N + test images) are checked before
    anything is written.
    The initial weights come from `keras.utils.set_random_seed(seed)` (which
    also seeds Python's, NumPy's and TensorFlow's global generators).

    Files in `run_dir`: config.json (resolved options, data fingerprint,
    environment), split.json (indices of S1, S2 and test in the pool),
    model.keras (last epoch), model_best.keras (best mean test PSNR),
    history.csv (one row per epoch: loss, lr, PSNRs, seconds), psnr_curves.json
    and psnr_curves.png (output vs input PSNR, train and test: Fig 1),
    denoised_grid.png, logs/ (TensorBoard), checkpoints/, state.json.

    Args:
        run_dir: output folder (created).
        train_images: optional float array (n, H, W, C) in [0, 1]; with it,
            `dataset`, `n`, `split` and `test_size` are not used (config.json
            records dataset "arrays" and the arrays' sizes and fingerprints).
        test_images: optional float array (m, H, W, C) in [0, 1]; needed with
            `train_images`.
        callbacks: extra Keras callbacks (run after the built-in ones).
        verbose: 0 silent, 1 progress bar, 2 one line per epoch. Defaults to 1.
        **options: the fields of `TrainConfig` (dataset, n, split, test_size,
            image_size, channels, preset, model_overrides, epochs, batch_size,
            images_per_epoch, noise, sigma_max, lr, schedule, halve_every,
            ema, ema_momentum, precision, strategy, seed, eval_sigmas,
            eval_train_size, eval_every, grid_images, grid_sigma, tensorboard,
            jit_compile); unknown names raise a ValueError listing the valid ones.

    Returns:
        A `TrainResult`.

    Example:

    >>> result = keras_gahb.training.train("runs/faces", dataset="faces", n=40,
    ...                                    image_size=32, preset="unet_small", epochs=20)
    >>> print(result.summary())

    Reference:
        Kadkhodaie et al., ICLR 2024, https://arxiv.org/abs/2310.02557
    """
    config = TrainConfig.from_dict(options)
    processes = initialize_cluster(config.strategy)  # before any op (the precision probe too)
    chief = is_chief(config.strategy)  # across processes, only the chief writes run_dir
    channels = config.channels if train_images is None else np.shape(train_images)[-1]
    check_precision(config.precision, channels)
    run_dir = os.fspath(run_dir)
    # Everything a user can get wrong is checked before the run folder is written.
    _check_model_options(config, train_images)
    if config.tensorboard:
        _check_tensorboard()
    train_x, test_x, split_record = _load_data(config, train_images, test_images)
    if split_record is None:  # the caller's arrays: record what was used
        config = dataclasses.replace(config, dataset="arrays", dataset_options={},
                                     n=len(train_x), test_size=len(test_x))
    record = {
        "config": config.to_dict(),
        "data": {"train": _fingerprint(train_x), "test": _fingerprint(test_x)},
    }
    if chief:
        os.makedirs(run_dir, exist_ok=True)
    _check_or_write_config(run_dir, record, verbose=verbose, write=chief)
    split_path = os.path.join(run_dir, "split.json")
    if chief and split_record is not None and not os.path.exists(split_path):
        atomic_write_json(split_path, split_record)

    state = load_state(run_dir)
    if state is not None and state.get("status") == "finished":
        return _result(run_dir, state, resumed=False, already_finished=True)
    initial_epoch = int(state["epoch"]) if state and state.get("checkpoint") else 0
    if initial_epoch and verbose:
        print(f"Resuming {run_dir} after epoch {initial_epoch}/{config.epochs}.")

    with distribution_scope(config.strategy) as engine:
        replicas = num_replicas(engine)
        if config.batch_size % replicas:
            raise ValueError(
                f"batch_size={config.batch_size} must be divisible by the {replicas} devices of "
                f"strategy={config.strategy!r}."
            )
        drop_remainder = engine is not None
        per_epoch = config.images_per_epoch or len(train_x)
        steps = per_epoch // config.batch_size if drop_remainder else math.ceil(
            per_epoch / config.batch_size)
        if steps < 1:
            raise ValueError(
                f"An epoch of {per_epoch} images makes no full batch of {config.batch_size}; "
                "lower batch_size or raise images_per_epoch."
            )
        ema_momentum = None
        if config.ema:
            ema_momentum = config.ema_momentum
            if ema_momentum is None:
                ema_momentum = auto_ema_momentum(steps * config.epochs)

        keras.utils.set_random_seed(config.seed)
        model = _build_model(config, train_x)
        if config.sync_batch_norm:
            _synchronize_batch_norm(model)
        compile_denoiser(model, learning_rate=config.lr, schedule=config.schedule,
                         steps_per_epoch=steps, epochs=config.epochs,
                         halve_every=config.halve_every, ema_momentum=ema_momentum,
                         jit_compile=config.jit_compile if engine is not None else
                         resolve_jit_compile(config.jit_compile, model, steps * config.epochs))
        if initial_epoch:
            model.optimizer.build(model.trainable_variables)
            model.load_weights(os.path.join(run_dir, state["checkpoint"]))

        pairs = noisy_pairs(
            train_x, config.batch_size, sigma=config.noise, sigma_max=config.sigma_max,
            images_per_epoch=config.images_per_epoch, seed=config.seed,
            initial_epoch=initial_epoch, drop_remainder=drop_remainder,
        )
        if processes > 1 and config.strategy == "data_parallel":
            pairs = process_shard(pairs, config.batch_size, steps, engine)
        eval_batch = max(replicas, (min(64, config.batch_size * 4) // replicas) * replicas)
        psnr = PSNRCallback(
            train_x[: config.eval_train_size], test_x, config.eval_sigmas,
            seed=config.seed, batch_size=eval_batch, every=config.eval_every,
        )
        checkpoint = RunCheckpoint(run_dir, state, psnr_callback=psnr,
                                   images_per_epoch=steps * config.batch_size
                                   if drop_remainder else per_epoch, replicas=replicas,
                                   write=chief)
        log_dir = os.path.join(run_dir, "logs")
        built_in = [_TrainTimer(checkpoint), _NonFiniteGuard(), psnr]
        if config.grid_images:
            built_in.append(DenoisedGridCallback(
                test_x[: config.grid_images],
                os.path.join(run_dir, "denoised_grid.png") if chief else None,
                sigma=config.grid_sigma, seed=config.seed, every=config.eval_every,
                log_dir=log_dir if config.tensorboard and chief else None,
            ))
        built_in.append(checkpoint)
        if config.tensorboard and chief:
            built_in.append(keras.callbacks.TensorBoard(log_dir, write_graph=False,
                                                        profile_batch=0))
        if initial_epoch < config.epochs:
            model.fit(pairs, epochs=config.epochs, initial_epoch=initial_epoch,
                      callbacks=built_in + list(callbacks), verbose=verbose, shuffle=False)

    if checkpoint.nonfinite_epoch is not None:
        checkpoint.write_state("running")
        kept = (f"The last good model (epoch {checkpoint.epoch}) is kept in "
                f"{os.path.join(run_dir, 'model.keras')}" if checkpoint.epoch
                else "No epoch finished, so no model was saved")
        raise ValueError(
            f"Training stopped in epoch {checkpoint.nonfinite_epoch}: the loss became non-finite "
            f"(NaN or inf). {kept}. Lower the learning rate (lr={config.lr:g}), use "
            "precision='float32', or check the images."
        )
    if checkpoint.epoch < config.epochs:
        # A callback stopped training early (e.g. EarlyStopping): keep the run resumable.
        return _result(run_dir, checkpoint.state("running"), resumed=bool(initial_epoch))
    if chief:
        _write_curves(run_dir, psnr, checkpoint)
    checkpoint.write_state("finished")
    return _result(run_dir, checkpoint.state("finished"), resumed=bool(initial_epoch))


class _TrainTimer(keras.callbacks.Callback):
    """First in the list: stops the epoch clock before evaluation callbacks run."""

    def __init__(self, checkpoint):
        super().__init__()
        self.checkpoint = checkpoint

    def on_epoch_end(self, epoch, logs=None):
        if logs and "loss" in logs:
            float(keras.ops.convert_to_numpy(logs["loss"]))  # wait for the last step
        self.checkpoint.mark_train_end()


class _NonFiniteGuard(keras.callbacks.Callback):
    """Stop training when the running loss is NaN or inf, looking every `every` steps.

    Like `keras.callbacks.TerminateOnNaN`, but reading the loss (a device-to-host
    sync) only every `every` steps keeps the asynchronous dispatch of the
    backends; the end of every epoch is checked by `RunCheckpoint` anyway.
    """

    def __init__(self, every=25):
        super().__init__()
        self.every = every

    def on_train_batch_end(self, batch, logs=None):
        if (batch + 1) % self.every or not logs or "loss" not in logs:
            return
        if not np.isfinite(float(keras.ops.convert_to_numpy(logs["loss"]))):
            self.model.stop_training = True


def _check_tensorboard():
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise ImportError(
            "tensorboard=True needs the tensorboard package: pip install tensorboard "
            "(or run without --tensorboard)."
        ) from None


def _load_data(config, train_images, test_images):
    """Training and test arrays, and the split record (None for arrays given by the caller)."""
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
        return train_x, test_x, None
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
    record = {"dataset": config.dataset, "used": config.split, **split.to_dict()}
    return pool[indices], pool[split.test], record


def trained_image_size(model_path):
    """The image_size of the training run whose folder holds `model_path`, or None.

    A model saved by `train` sits next to the run's config.json; a model that
    accepts any input size does not record the size it was trained at, so
    sampling and analysis read it from there.

    Example:

    >>> keras_gahb.training.trained_image_size("runs/faces/model.keras")
    32
    """
    if not isinstance(model_path, (str, os.PathLike)):
        return None
    path = os.path.join(os.path.dirname(os.path.abspath(os.fspath(model_path))), CONFIG_FILE)
    if not os.path.isfile(path):
        return None
    try:
        size = read_json(path).get("config", {}).get("image_size")
    except (ValueError, AttributeError):
        return None
    return int(size) if isinstance(size, int) and not isinstance(size, bool) else None


def _check_model_options(config, train_images):
    """Preset, model_overrides and image size, checked without building the model."""
    from keras_gahb.models import check_preset

    if train_images is not None:
        image_size = tuple(int(side) for side in np.shape(train_images)[1:3])
    else:
        image_size = config.image_size
    check_preset(config.preset, image_size=image_size, **config.model_overrides)


def _build_model(config, train_x):
    from keras_gahb.models import from_preset

    overrides = dict(config.model_overrides)
    overrides.setdefault("image_channels", int(train_x.shape[-1]))
    if config.precision != "float32":
        overrides["dtype"] = config.precision
    return from_preset(config.preset, **overrides)


def _synchronize_batch_norm(model):
    from keras_gahb.layers import BiasFreeBatchNormalization

    for layer in model._flatten_layers():
        if isinstance(layer, BiasFreeBatchNormalization):
            layer.synchronized = True  # read when the train step is traced


def _fingerprint(images):
    digest = hashlib.sha256(np.ascontiguousarray(images, dtype=np.float32).tobytes())
    return {"shape": list(images.shape), "sha256": digest.hexdigest()[:16]}


def _check_or_write_config(run_dir, record, verbose=0, write=True):
    path = os.path.join(run_dir, CONFIG_FILE)
    if os.path.exists(path):
        saved = read_json(path)
        # An option absent from an older config.json had its default value then.
        saved_config = {**TrainConfig.defaults(), **saved.get("config", {})}
        differences = _differences(saved_config, record["config"], "")
        differences += _differences(saved.get("data", {}), record["data"], "data.")
        if not differences:
            return
        if _holds_training(run_dir):
            raise ValueError(
                f"{run_dir} holds a run with different settings ({'; '.join(differences[:6])}). "
                "Use a new output directory, or delete this one to start over."
            )
        if not write:  # the chief replaces them
            return
        # Nothing was trained here yet (e.g. an earlier command failed): the new settings win.
        if verbose:
            print(f"{run_dir} holds no finished epoch yet: replacing its settings "
                  f"({'; '.join(differences[:3])}).")
        split_path = os.path.join(run_dir, "split.json")
        if os.path.exists(split_path):
            os.remove(split_path)
    if not write:
        return
    import keras_gahb

    atomic_write_json(path, {
        **record,
        "environment": {"backend": keras.backend.backend(), "keras": keras.__version__,
                        "keras_gahb": keras_gahb.__version__},
    })


def _holds_training(run_dir):
    """Whether `run_dir` holds a finished epoch (a checkpoint or a saved model)."""
    state = load_state(run_dir)
    if state and (state.get("checkpoint") or state.get("status") == "finished"):
        return True
    return any(os.path.exists(os.path.join(run_dir, name))
               for name in ("model.keras", "model_best.keras"))


def _differences(saved, new, prefix):
    keys = sorted(set(saved) | set(new))
    return [f"{prefix}{key}: {saved.get(key)!r} saved, {new.get(key)!r} now"
            for key in keys if saved.get(key) != new.get(key)]


def _write_curves(run_dir, psnr, checkpoint):
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


def _result(run_dir, state, resumed, already_finished=False):
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
        model_path=os.path.join(run_dir, "model.keras"),
        best_model_path=os.path.join(run_dir, "model_best.keras"),
        epochs_completed=int(state.get("epoch", 0)),
        history=rows,
        metrics=metrics,
        best=state.get("best") or {},
        psnr_curves=curves,
        resumed=resumed,
        already_finished=already_finished,
        replicas=int(state.get("replicas", 1)),
    )



