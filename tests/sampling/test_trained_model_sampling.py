"""Sampling a briefly trained denoiser (the docs' recipe at a tiny scale) with the defaults."""

import keras
import numpy as np
import pytest

import keras_gahb
from keras_gahb.sampling import sample


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="trains a model (~1 CPU-minute): once, on TensorFlow; the floor rule "
                           "itself is tested on every backend in test_sampler.py")
def test_briefly_trained_model_converges_with_default_settings():
    """A unet_small trained as docs/training.md trains (faces, sigma = U^2, Adam + cosine), for
    800 steps at 16x16, is worse than the identity at low noise; with it the paper's loop leaves
    some images wandering until max_steps, while the default sampler stops them at the model's
    noise floor: every image reached sigma_final or stopped at the floor, none diverged, values
    near the data range."""
    pool = keras_gahb.data.get_images("faces", 64, size=16, seed=0)
    pairs = keras_gahb.data.noisy_pairs(pool, 16, images_per_epoch=3200, seed=0)
    model = keras_gahb.models.from_preset("unet_small")
    keras_gahb.training.compile_denoiser(model, learning_rate=2e-3, schedule="cosine",
                                         steps_per_epoch=200, epochs=4)
    model.fit(pairs, epochs=4, verbose=0, shuffle=False)

    clean = pool[:16]
    noisy = keras_gahb.data.add_noise(clean, 0.01, seed=1)
    error = np.sqrt(np.mean((model.predict(noisy, verbose=0) - clean) ** 2))
    assert error > 0.01  # the floor: at sigma = 0.01 the model adds error instead of removing it

    shape = (8, 16, 16, 1)
    plain = sample(model, shape, seed=0, floor_factor=None, max_steps=300)
    assert not plain.converged.all()  # the paper's loop alone does not converge with this model
    assert plain.images.max() > 2.0  # and its unconverged images leave the data range
    result = sample(model, shape, seed=0, max_steps=300)
    assert result.usable.all() and not result.diverged.any(), result.summary()
    assert np.all(result.steps < 300)
    assert np.all(np.isfinite(result.images))
    assert result.at_floor.any() and np.all(result.final_sigmas[result.at_floor] > 0.01)
    assert result.images.min() > -0.5 and result.images.max() < 1.5
