"""`train_stacked`: several independent denoisers trained in one `fit`, one run folder each."""

import contextlib
import os

import keras
import numpy as np

from keras_gahb import runs
from keras_gahb.training import run_steps
from keras_gahb.training.denoised_grid_callback import DenoisedGridCallback
from keras_gahb.training.precision import check_precision
from keras_gahb.training.psnr_callback import PSNRCallback
from keras_gahb.training.recipe import denoiser_optimizer, learning_rate_schedule
from keras_gahb.training.run_checkpoint import RunCheckpoint
from keras_gahb.training.train_config import TrainConfig

# Options that may differ between the stacked models (the data and its randomness);
# every other option shapes the shared training step and must be equal.
PER_MODEL_OPTIONS = ("dataset", "dataset_options", "n", "split", "test_size", "seed",
                     "eval_sigmas", "eval_train_size", "grid_images", "grid_sigma")

# Adam's per-variable slots (Keras 3), copied between the stacked and the per-model optimizers.
_SLOTS = ("_momentums", "_velocities", "_model_variables_moving_average")


class StackedDenoisers(keras.Model):
    """The K models as one functional model whose train step clears every member's gradient.

    On torch, Keras registers a model's weights with torch by their paths
    ("encoder_0_conv0/kernel", ...), which repeat from one member to the next, so
    the outer model's `parameters()` holds only the last member's; `zero_grad`
    (called by Keras' torch train step) left the others' gradients in place and
    they accumulated from step to step: every member but the last trained with
    the sum of all its past gradients (measured: 1.1% weight difference after two
    SGD steps, 0.9% loss difference after two epochs). Clearing the gradient of
    every trainable variable fixes it; on TensorFlow and JAX this is never called.
    """

    def zero_grad(self, set_to_none=True):
        for variable in self.trainable_variables:
            variable.value.grad = None


def train_stacked(run_dirs, train_images=None, test_images=None, per_model=None, callbacks=(),
                  verbose=1, wait=False, restart=False, data_sources=None, **options):
    """Train K independent denoisers side by side in one compiled step; one `train` folder each.

    The K models (e.g. the S1 model, the S2 model and a control of one N) are
    built and initialised exactly as `keras_gahb.training.train` builds each
    alone, then joined into one Keras model with K inputs and K outputs; its
    loss is the sum of the K MSE losses. The models share no weight, so the
    gradient of the sum with respect to model k's weights is the gradient of
    its own loss, and Adam, its EMA and the batch-norm statistics act per
    variable: each model follows the same trajectory as when trained alone,
    up to float rounding. What is shared is the per-step cost of the
    framework (one call into the backend, one optimizer update for all), and
    on TensorFlow the K branches run concurrently on the CPU's cores.

    Every run folder receives what `train` writes (config.json, model.keras,
    model_best.keras, history.csv, psnr_curves.json, checkpoints/, state.json),
    with each model's own optimizer state, so a later `train(run_dir, ...)`
    with the same options finds the run finished, or resumes it. Folders
    whose run is already finished are skipped; models interrupted at
    different epochs are trained in groups of equal progress. The folders
    are locked, written, checkpointed and resumed as `train` does
    (`keras_gahb.runs`).

    Args:
        run_dirs: list of K output folders.
        train_images: None (each model draws its data from `dataset`), or a
            list of K float arrays (n_k, H, W, C) in [0, 1].
        test_images: None, one array shared by all models, or a list of K arrays.
        per_model: optional list of K dicts of options that differ between the
            models: any of PER_MODEL_OPTIONS (e.g. [{"seed": 0}, {"seed": 1}]).
        callbacks: extra Keras callbacks of the stacked `fit` (their model is
            the stacked network).
        verbose: 0 silent, 1 progress bar, 2 one line per epoch. Defaults to 1.
        wait: wait for other processes that train in one of the folders. Default False.
        restart: train every folder again from epoch 0. Default False.
        data_sources: None, or one `data_source` of `train` per model (where
            its arrays come from, recorded in its split.json).
        **options: the options of `TrainConfig` shared by all models.

    Returns:
        A list of K `TrainResult`, in the order of `run_dirs`.

    Example:

    >>> results = keras_gahb.training.train_stacked(
    ...     ["runs/s1", "runs/s2"], [s1_images, s2_images], test_images,
    ...     preset="unet_tiny", image_size=16, epochs=2, batch_size=16)
    >>> [r.metrics["loss"] for r in results]
    """
    run_dirs = [os.fspath(d) for d in run_dirs]
    k = len(run_dirs)
    if k < 1 or len(set(os.path.abspath(d) for d in run_dirs)) != k:
        raise ValueError(f"run_dirs must be a list of distinct folders, got {run_dirs!r}.")
    per_model = _per_model(per_model, k)
    trains = _per_model_arrays(train_images, k, "train_images")
    tests = _per_model_arrays(test_images, k, "test_images", shared_ok=True)
    sources = [None] * k if data_sources is None else list(data_sources)
    if len(sources) != k:
        raise ValueError(f"data_sources must hold one entry per run_dir ({k}), got {len(sources)}.")
    configs = [TrainConfig.from_dict({**options, **overrides}) for overrides in per_model]
    _check_shared(configs)
    channels = configs[0].channels if trains[0] is None else np.shape(trains[0])[-1]
    check_precision(configs[0].precision, channels)  # before any folder is written
    for config, images in zip(configs, trains):
        run_steps.check_model_options(config, images)

    with contextlib.ExitStack() as stack:
        stack.enter_context(runs.reporting_full_disk(*run_dirs))
        for run_dir in sorted(run_dirs, key=os.path.abspath):  # one order: no deadlock with wait
            stack.enter_context(runs.RunLock(run_dir, wait=wait))
        loaded = [run_steps.load_data(config, trains[i], tests[i], sources[i])
                  for i, config in enumerate(configs)]
        steps = [run_steps.epoch_steps(config, len(data.train))
                 for config, data in zip(configs, loaded)]
        if len(set(steps)) != 1:  # checked before any folder is written
            raise ValueError(
                f"Stacked models must take the same steps per epoch; got {steps} (training sets "
                f"of {[len(data.train) for data in loaded]} images). Set images_per_epoch."
            )
        jobs, results = [], [None] * k
        for index, (run_dir, config) in enumerate(zip(run_dirs, configs)):
            resume = run_steps.open_run(run_dir, config, loaded[index], restart=restart,
                                        verbose=verbose)
            if resume.finished:
                results[index] = run_steps.run_result(run_dir, resume.state, resumed=False,
                                                      already_finished=True)
                continue
            jobs.append(_Job(index, run_dir, config, loaded[index], resume))
        for epoch in sorted({job.resume.epoch for job in jobs}):
            group = [job for job in jobs if job.resume.epoch == epoch]
            for job, result in zip(group, _train_group(group, callbacks, verbose)):
                results[job.index] = result
    return results


class _Job:
    def __init__(self, index, run_dir, config, data, resume):
        self.index, self.run_dir, self.config = index, run_dir, config
        self.train_x, self.test_x = data.train, data.test
        self.resume = resume


def _train_group(jobs, callbacks, verbose):
    """Train the jobs (same initial epoch) as one stacked model; their TrainResults."""
    config = jobs[0].config
    initial_epoch = jobs[0].resume.epoch
    per_epoch = config.images_per_epoch
    steps = run_steps.epoch_steps(config, len(jobs[0].train_x))  # equal for all
    ema_momentum = run_steps.ema_momentum(config, steps)
    if initial_epoch and verbose:
        print(f"Resuming {len(jobs)} stacked runs after epoch {initial_epoch}/{config.epochs}.")

    models = []
    jit_compile = None
    for job in jobs:  # each model exactly as `train` builds, compiles and resumes it
        keras.utils.set_random_seed(job.config.seed)
        model = run_steps.build_model(job.config, job.train_x.shape[-1])
        # No XLA by default here: TensorFlow runs the K branches concurrently without it
        # (947 vs 757 images/s for 3 unet_small, docs/performance.md).
        jit_compile = config.jit_compile
        run_steps.compile_run_model(model, config, steps, jit_compile)
        model.optimizer.build(model.trainable_variables)
        if initial_epoch:
            runs.load_checkpoint(model, job.resume.checkpoint)
        models.append(model)

    inputs = [keras.Input(shape=model.input_shape[1:], name=f"noisy_{i}")
              for i, model in enumerate(models)]
    outputs = [keras.layers.Identity(name=f"denoised_{i}")(model(x))
               for i, (model, x) in enumerate(zip(models, inputs))]
    stacked = StackedDenoisers(inputs, outputs, name="stacked_denoisers")
    learning_rate = learning_rate_schedule(config.schedule, steps, config.epochs, config.lr,
                                           config.halve_every, config.warmup_steps)
    stacked.compile(optimizer=denoiser_optimizer(learning_rate, ema_momentum),
                    loss=["mean_squared_error"] * len(models), jit_compile=jit_compile)
    stacked.optimizer.build(stacked.trainable_variables)
    for model in models:  # a resumed model's Adam moments, EMA and step count
        copy_optimizer_state(stacked.optimizer, model.optimizer, model.trainable_variables)

    # The recipe's loss weight goes in as one sample weight per output: the stacked loss is the
    # sum of the K models' weighted losses, each model's gradient that of its own.
    datasets = [run_steps.training_pairs(config, job.train_x, job.config.seed, initial_epoch)
                for job in jobs]
    pairs = _zip_pairs(datasets)

    groups = []
    for job, model in zip(jobs, models):
        cfg = job.config
        eval_batch = max(1, min(64, config.batch_size * 4))
        psnr = PSNRCallback(job.train_x[: cfg.eval_train_size], job.test_x, cfg.eval_sigmas,
                            seed=cfg.seed, batch_size=eval_batch, every=config.eval_every)
        checkpoint = RunCheckpoint(job.run_dir, job.resume.state, psnr_callback=psnr,
                                   images_per_epoch=per_epoch or len(job.train_x))
        inner = [psnr]
        if cfg.grid_images:
            inner.append(DenoisedGridCallback(
                job.test_x[: cfg.grid_images], os.path.join(job.run_dir, "denoised_grid.png"),
                sigma=cfg.grid_sigma, seed=cfg.seed, every=config.eval_every))
        inner.append(checkpoint)
        # Keras logs "<output>_loss" per output only when there are several outputs.
        loss_key = f"denoised_{len(groups)}_loss" if len(models) > 1 else "loss"
        groups.append(_ModelCallbacks(model, stacked, loss_key, inner, checkpoint))
    built_in = [run_steps.EpochTimer([g.checkpoint for g in groups]), run_steps.NonFiniteGuard(),
                *groups]
    if initial_epoch < config.epochs:
        stacked.fit(pairs, epochs=config.epochs, initial_epoch=initial_epoch,
                    callbacks=built_in + list(callbacks), verbose=verbose, shuffle=False)

    stopped = [group.checkpoint for group in groups if group.checkpoint.nonfinite_epoch is not None]
    for checkpoint in stopped:  # every stopped run records why before the first error is raised
        checkpoint.write_state("running", stopped={"reason": "non-finite loss",
                                                   "epoch": checkpoint.nonfinite_epoch})
    if stopped:
        raise run_steps.nonfinite_error(stopped[0].run_dir, stopped[0], config)
    results = []
    for job, group in zip(jobs, groups):
        checkpoint = group.checkpoint
        if checkpoint.epoch < config.epochs:
            results.append(run_steps.run_result(job.run_dir, checkpoint.state("running"),
                                                resumed=bool(initial_epoch)))
            continue
        run_steps.write_curves(job.run_dir, group.inner[0], checkpoint)
        checkpoint.write_state("finished")
        results.append(run_steps.run_result(job.run_dir, checkpoint.state("finished"),
                                            resumed=bool(initial_epoch)))
    return results


def copy_optimizer_state(target, source, variables):
    """Copy Adam's iteration count and per-variable slots of `variables` from `source`.

    The two optimizers must be built over (possibly different) lists that both
    hold `variables`: this moves one model's state between its own optimizer
    and the optimizer of a stacked network that contains it.
    """
    target.iterations.assign(source.iterations)
    for slot in _SLOTS:
        if getattr(source, slot, None) is None or getattr(target, slot, None) is None:
            continue
        source_slots, target_slots = getattr(source, slot), getattr(target, slot)
        for variable in variables:
            value = source_slots[source._get_variable_index(variable)]
            target_slots[target._get_variable_index(variable)].assign(value)


class _ModelCallbacks(keras.callbacks.Callback):
    """Runs one model's callbacks (PSNR, grid, checkpoint) inside the stacked fit.

    Before the epoch-end callbacks, the model's own optimizer receives its part
    of the stacked optimizer's state, so checkpoints, EMA evaluation and the
    saved .keras file are exactly those of the model trained alone.
    """

    def __init__(self, model, stacked, loss_key, inner, checkpoint):
        super().__init__()
        self.sub_model, self.stacked, self.loss_key = model, stacked, loss_key
        self.inner, self.checkpoint = inner, checkpoint
        for callback in inner:
            callback.set_model(model)

    def set_model(self, model):
        super().set_model(model)
        for callback in self.inner:
            callback.set_model(self.sub_model)

    def set_params(self, params):
        super().set_params(params)
        for callback in self.inner:
            callback.set_params(params)

    def on_train_begin(self, logs=None):
        for callback in self.inner:
            callback.on_train_begin(None)

    def on_epoch_begin(self, epoch, logs=None):
        for callback in self.inner:
            callback.on_epoch_begin(epoch, None)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        own = {"loss": logs[self.loss_key]} if self.loss_key in logs else {}
        copy_optimizer_state(self.sub_model.optimizer, self.stacked.optimizer,
                             self.sub_model.trainable_variables)
        for callback in self.inner:
            callback.on_epoch_end(epoch, own)
        if self.sub_model.stop_training:
            self.stacked.stop_training = True

    def on_train_end(self, logs=None):
        for callback in self.inner:
            callback.on_train_end(None)


def _zip_pairs(datasets):
    import tensorflow as tf

    @tf.autograph.experimental.do_not_convert
    def join(*pairs):
        noisy = tuple([pair[0] for pair in pairs])
        clean = tuple([pair[1] for pair in pairs])
        if len(pairs[0]) == 3:  # (noisy, clean, weight): one sample weight per output
            return noisy, clean, tuple([pair[2] for pair in pairs])
        return noisy, clean

    zipped = tf.data.Dataset.zip(tuple(datasets)).map(join)
    zipped._gahb_parts = datasets  # keep the epoch counters alive with the dataset
    return zipped.prefetch(tf.data.AUTOTUNE)


def _per_model(per_model, k):
    if per_model is None:
        return [{} for _ in range(k)]
    per_model = list(per_model)
    if len(per_model) != k or not all(isinstance(item, dict) for item in per_model):
        raise ValueError(f"per_model must be a list of {k} dicts (one per run_dir).")
    for item in per_model:
        unknown = sorted(set(item) - set(PER_MODEL_OPTIONS))
        if unknown:
            raise ValueError(
                f"per_model options {', '.join(unknown)} must be the same for all stacked "
                f"models; per-model options are {', '.join(PER_MODEL_OPTIONS)}."
            )
    return per_model


def _per_model_arrays(arrays, k, name, shared_ok=False):
    if arrays is None:
        return [None] * k
    if shared_ok and hasattr(arrays, "shape"):
        return [arrays] * k
    arrays = list(arrays)
    if len(arrays) != k:
        raise ValueError(f"{name} must hold one array per run_dir ({k}), got {len(arrays)}.")
    return arrays


def _check_shared(configs):
    if configs[0].strategy is not None:
        raise ValueError("train_stacked runs on one device; use strategy=None.")
    if configs[0].precision == "mixed_float16":
        raise ValueError(
            "train_stacked does not support precision='mixed_float16' (one loss scale would be "
            "shared by the models); use float32 or mixed_bfloat16, or train them separately."
        )
    shared = [key for key in TrainConfig.keys() if key not in PER_MODEL_OPTIONS]
    first = configs[0].to_dict()
    for config in configs[1:]:
        other = config.to_dict()
        differ = [key for key in shared if first[key] != other[key]]
        if differ:
            raise ValueError(f"Stacked models must share the options {', '.join(differ)}.")
