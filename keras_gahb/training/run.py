"""`train`: a resumable training run of a denoiser in a run directory (what `gahb train` calls)."""

import contextlib
import os

import keras
import numpy as np

from keras_gahb import runs
from keras_gahb.training import run_steps
from keras_gahb.training.denoised_grid_callback import DenoisedGridCallback
from keras_gahb.training.distribution import (
    distribution_scope,
    initialize_cluster,
    is_chief,
    num_replicas,
    process_shard,
)
from keras_gahb.training.precision import check_precision
from keras_gahb.training.psnr_callback import PSNRCallback
from keras_gahb.training.recipe import resolve_jit_compile
from keras_gahb.training.run_checkpoint import RunCheckpoint
from keras_gahb.training.train_config import TrainConfig


def train(run_dir, train_images=None, test_images=None, callbacks=(), verbose=1, wait=False,
          restart=False, data_source=None, **options):
    """Train a bias-free denoiser in `run_dir`; resumable, with PSNR curves and best/last models.

    The run: build `preset`, compile it with Adam (peak `lr`, `schedule`),
    optional EMA of the weights and MSE loss, and `model.fit` it on
    `keras_gahb.data.noisy_pairs` of the training images with the noise levels
    and per-image loss weight of `recipe` ("paper": sigma = U^2 sigma_max and
    plain MSE; "cpu": log-uniform sigma, MSE weighted by 1/sigma; overridden by
    `sigma_distribution`, `sigma_min`, `loss_weight`). After every epoch the PSNR
    at `eval_sigmas` on a fixed train subset and the test set is logged, and
    everything needed to resume is saved (`keras_gahb.runs`: a checkpoint
    with its checksum, the last two kept). Calling `train` again with the same
    `run_dir` and options continues after the last completed epoch (weights,
    Adam state, EMA, noise stream and history), from the previous checkpoint
    when the newest is damaged, or returns at once when the run is finished.
    Different options in the same `run_dir` raise a ValueError once it holds
    a finished epoch (before that, the new options replace the old). Options
    (preset, model_overrides, image size against 2**levels, dataset size for
    2N + test images) are checked before anything is written.

    One process at a time trains in a folder (`keras_gahb.runs.RunLock`):
    another raises `keras_gahb.runs.RunFolderBusyError` naming the holder's
    process id, or waits with `wait=True`. A full disk raises
    `keras_gahb.runs.NoSpaceLeftError` (the file, and the epoch the run
    resumes from once there is room). A non-finite loss stops the run at once
    with a ValueError naming the last finite epoch, which stays the resume
    point; a rerun with a lower `lr` continues from it.
    The initial weights come from `keras.utils.set_random_seed(seed)` (which
    also seeds Python's, NumPy's and TensorFlow's global generators).

    Files in `run_dir`: config.json (resolved options, data fingerprint,
    environment), split.json (data source and indices of S1, S2 and test in
    the pool) or images.npz (the caller's arrays), model.keras (last epoch),
    model_best.keras (best mean test PSNR), history.csv (one row per epoch:
    loss, lr, PSNRs, seconds), psnr_curves.json and psnr_curves.png (output vs
    input PSNR, train and test: Fig 1), denoised_grid.png, logs/
    (TensorBoard), checkpoints/, state.json; `keras_gahb.runs.training_images`
    returns the images again.

    Args:
        run_dir: output folder (created).
        train_images: optional float array (n, H, W, C) in [0, 1]; with it,
            `dataset`, `n`, `split` and `test_size` are not used (config.json
            records dataset "arrays" and the arrays' sizes and fingerprints).
        test_images: optional float array (m, H, W, C) in [0, 1]; needed with
            `train_images`.
        callbacks: extra Keras callbacks (run after the built-in ones).
        verbose: 0 silent, 1 progress bar, 2 one line per epoch. Defaults to 1.
        wait: when another process trains in `run_dir`, wait for it instead
            of raising. Defaults to False.
        restart: delete what was trained in `run_dir` (checkpoints, models,
            history) and train from epoch 0, e.g. when no checkpoint is
            intact. Defaults to False.
        data_source: with arrays, optional {"source":
            `keras_gahb.runs.image_source(...)`, "train": indices, "test":
            indices}: the pool they were drawn from, recorded in split.json
            instead of writing the arrays to images.npz.
        **options: the fields of `TrainConfig` (dataset, n, split, test_size,
            image_size, channels, preset, model_overrides, epochs, batch_size,
            images_per_epoch, recipe, sigma_distribution, sigma_min,
            loss_weight, sigma_data, sigma_max, lr, schedule, halve_every, warmup_steps,
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
    run_steps.check_model_options(config, train_images)
    if config.tensorboard:
        run_steps.check_tensorboard()
    # The chief alone holds the folder's lock (the other workers write nothing).
    lock = runs.RunLock(run_dir, wait=wait) if chief else contextlib.nullcontext()
    with runs.reporting_full_disk(run_dir), lock:
        data = run_steps.load_data(config, train_images, test_images, data_source)
        resume = run_steps.open_run(run_dir, config, data, write=chief, restart=restart,
                                    verbose=verbose)
        if resume.finished:
            return run_steps.run_result(run_dir, resume.state, resumed=False,
                                        already_finished=True)
        return _fit(run_dir, config, data, resume, processes, chief, callbacks, verbose)


def _fit(run_dir, config, data, resume, processes, chief, callbacks, verbose):
    train_x, test_x = data.train, data.test
    initial_epoch = resume.epoch
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
        steps = run_steps.epoch_steps(config, len(train_x), drop_remainder)
        per_epoch = config.images_per_epoch or len(train_x)

        keras.utils.set_random_seed(config.seed)
        model = run_steps.build_model(config, train_x.shape[-1])
        if config.sync_batch_norm:
            run_steps.synchronize_batch_norm(model)
        run_steps.compile_run_model(
            model, config, steps,
            config.jit_compile if engine is not None else
            resolve_jit_compile(config.jit_compile, model, steps * config.epochs))
        if initial_epoch:
            model.optimizer.build(model.trainable_variables)
            runs.load_checkpoint(model, resume.checkpoint)

        pairs = run_steps.training_pairs(config, train_x, config.seed, initial_epoch,
                                         drop_remainder)
        if processes > 1 and config.strategy == "data_parallel":
            pairs = process_shard(pairs, config.batch_size, steps, engine)
        eval_batch = max(replicas, (min(64, config.batch_size * 4) // replicas) * replicas)
        psnr = PSNRCallback(
            train_x[: config.eval_train_size], test_x, config.eval_sigmas,
            seed=config.seed, batch_size=eval_batch, every=config.eval_every,
        )
        checkpoint = RunCheckpoint(run_dir, resume.state, psnr_callback=psnr,
                                   images_per_epoch=steps * config.batch_size
                                   if drop_remainder else per_epoch, replicas=replicas,
                                   write=chief)
        log_dir = os.path.join(run_dir, "logs")
        built_in = [run_steps.EpochTimer([checkpoint]), run_steps.NonFiniteGuard(), psnr]
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
        checkpoint.write_state("running", stopped={"reason": "non-finite loss",
                                                   "epoch": checkpoint.nonfinite_epoch})
        raise run_steps.nonfinite_error(run_dir, checkpoint, config)
    if checkpoint.epoch < config.epochs:
        # A callback stopped training early (e.g. EarlyStopping): keep the run resumable.
        return run_steps.run_result(run_dir, checkpoint.state("running"),
                                    resumed=bool(initial_epoch))
    if chief:
        run_steps.write_curves(run_dir, psnr, checkpoint)
    checkpoint.write_state("finished")
    return run_steps.run_result(run_dir, checkpoint.state("finished"), resumed=bool(initial_epoch))
