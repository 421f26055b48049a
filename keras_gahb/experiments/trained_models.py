"""Training the reproduction's denoisers through `keras_gahb.training.train` (and `train_stacked`).

Each model folder is a run folder (`keras_gahb.runs`): `keras_gahb.models.load_denoiser(folder)`
loads its model and `keras_gahb.runs.training_images(folder)` returns its images.
"""

import os
import time

from keras_gahb import training


def _options(config, images_per_model, channels, verbose):
    """The `keras_gahb.training.train` options shared by every model of the reproduction."""
    return dict(
        image_size=config.image_size,
        channels=int(channels),
        preset=config.preset,
        model_overrides=dict(config.model_overrides),
        epochs=config.epochs,
        batch_size=config.batch_size,
        images_per_epoch=max(config.batch_size, images_per_model // config.epochs),
        **config.training_recipe(),
        lr=config.learning_rate,
        schedule=config.schedule,
        precision=config.precision,
        eval_sigmas=sorted(set(config.eval_sigmas) | {0.1}),
        eval_every=config.epochs,
        grid_images=0,
        tensorboard=False,
        verbose=2 if verbose else 0,
    )


def _announce(label, train_images, images_per_model, config, seed, model_dir):
    print(f"[train] {label}: {len(train_images)} images, {images_per_model:,} seen "
          f"({config.epochs} epochs, seed {seed}) -> {model_dir}", flush=True)


def train_models(model_dirs, config, train_sets, test_sets, images_per_model, seeds, verbose=1,
                 labels=None, sources=None):
    """Train (or resume, or reuse) several denoisers of the reproduction that share a recipe.

    With `config.stack` (the default) they are trained side by side in one
    step by `keras_gahb.training.train_stacked` (the same trajectories as
    alone, up to float rounding; three stacked `unet_small` train 1,281
    images/s against 536 for one alone on a 2-core AVX2 CPU, docs/performance.md);
    otherwise one after the other by `train_model`.
    Either way each folder is a complete `train` run folder, so a later call
    of either kind resumes or reuses it. `sources` (one `data_source` of
    `train` per model: the pool and indices of its images) goes to split.json.
    """
    labels = list(labels or [os.path.basename(d) for d in model_dirs])
    sources = list(sources) if sources is not None else [None] * len(model_dirs)
    if not config.stack or len(model_dirs) == 1:
        return [train_model(d, config, x, t, images_per_model, s, verbose=verbose, label=name,
                            source=source)
                for d, x, t, s, name, source in zip(model_dirs, train_sets, test_sets, seeds,
                                                    labels, sources)]
    start = time.time()
    if verbose:
        for d, x, s, name in zip(model_dirs, train_sets, seeds, labels):
            _announce(name, x, images_per_model, config, s, d)
        print(f"[train] {len(model_dirs)} models stacked in one step", flush=True)
    channels = int(train_sets[0].shape[-1])
    results = training.train_stacked(
        list(model_dirs), train_images=list(train_sets), test_images=list(test_sets),
        per_model=[{"seed": int(s)} for s in seeds], data_sources=sources,
        **_options(config, images_per_model, channels, verbose))
    if verbose and not all(r.already_finished for r in results):
        print(f"[train] {', '.join(labels)}: done in {time.time() - start:.0f} s", flush=True)
    return results


def train_model(model_dir, config, train_images, test_images, images_per_model, seed,
                verbose=1, label="", source=None):
    """Train (or resume, or reuse) one denoiser of the reproduction in `model_dir`.

    Every model sees `images_per_model` noisy training images whatever its N
    (the set is tiled, as in the paper). `seed` (from
    `keras_gahb.experiments.plan`) draws its initial weights and its noise
    stream; it is recorded in the model's config.json.
    """
    start = time.time()
    if verbose:
        _announce(label, train_images, images_per_model, config, seed, model_dir)
    result = training.train(
        model_dir, train_images=train_images, test_images=test_images, seed=int(seed),
        data_source=source, **_options(config, images_per_model, train_images.shape[-1], verbose))
    if verbose and not result.already_finished:
        print(f"[train] {label}: done in {time.time() - start:.0f} s", flush=True)
    return result
