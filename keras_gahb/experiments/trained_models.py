"""Training and loading the reproduction's denoisers through `keras_gahb.training.train`."""

import os
import time

import keras

import keras_gahb.models  # noqa: F401  (registers the denoiser classes for loading)
from keras_gahb import training


def train_model(model_dir, config, train_images, test_images, images_per_model, seed,
                verbose=1, label=""):
    """Train (or resume, or reuse) one denoiser of the reproduction in `model_dir`.

    Every model sees `images_per_model` noisy training images whatever its N
    (the set is tiled, as in the paper). `seed` (from
    `keras_gahb.experiments.plan`) draws its initial weights and its noise
    stream; it is recorded in the model's config.json.
    """
    images_per_epoch = max(config.batch_size, images_per_model // config.epochs)
    start = time.time()
    if verbose:
        print(f"[train] {label}: {len(train_images)} images, {images_per_model:,} seen "
              f"({config.epochs} epochs, seed {seed}) -> {model_dir}", flush=True)
    result = training.train(
        model_dir,
        train_images=train_images,
        test_images=test_images,
        image_size=config.image_size,
        channels=int(train_images.shape[-1]),
        preset=config.preset,
        model_overrides=dict(config.model_overrides),
        epochs=config.epochs,
        batch_size=config.batch_size,
        images_per_epoch=images_per_epoch,
        noise=config.noise,
        lr=config.learning_rate,
        schedule=config.schedule,
        precision=config.precision,
        seed=int(seed),
        eval_sigmas=sorted(set(config.eval_sigmas) | {0.1}),
        eval_every=config.epochs,
        grid_images=0,
        tensorboard=False,
        verbose=2 if verbose else 0,
    )
    if verbose and not result.already_finished:
        print(f"[train] {label}: done in {time.time() - start:.0f} s", flush=True)
    return result


def load_denoiser(model_dir):
    """The trained model of `model_dir` (model.keras, EMA weights when EMA was on)."""
    path = os.path.join(model_dir, "model.keras")
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"No trained model at {path}. Run the part that trains it first "
            "(e.g. `gahb reproduce transition`)."
        )
    return keras.saving.load_model(path)
