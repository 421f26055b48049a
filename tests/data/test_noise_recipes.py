"""Noise-level distributions and per-image loss weights against closed forms."""

import keras
import numpy as np
import pytest
from scipy import stats

from keras_gahb.data import LOSS_WEIGHTS, loss_weights, noisy_pairs, sample_sigmas
from keras_gahb.data.noise import WEIGHT_SIGMA_FLOOR


def _weights_formula(s, name, sigma_data=0.25):
    s = np.maximum(np.asarray(s, np.float64), WEIGHT_SIGMA_FLOOR)
    return {"none": np.ones_like(s), "inverse_sqrt_sigma": s**-0.5, "inverse_sigma": 1 / s,
            "inverse_variance": s**-2.0,
            "edm": (s**2 + sigma_data**2) / (s * sigma_data) ** 2}[name]


def test_log_uniform_draws_have_the_right_distribution():
    # log sigma ~ U(log a, log b): KS test on log sigma and its first two moments.
    a, b = 0.005, 1.0
    s = sample_sigmas(50_000, "log_uniform", sigma_min=a, sigma_max=b, seed=4)
    log_s = np.log(s.astype(np.float64))
    low, width = np.log(a), np.log(b) - np.log(a)
    assert stats.kstest(log_s, stats.uniform(low, width).cdf).pvalue > 0.01
    np.testing.assert_allclose(log_s.mean(), low + width / 2, atol=4 * width / np.sqrt(12 * 5e4))
    np.testing.assert_allclose(log_s.var(), width**2 / 12, rtol=0.02)
    # A different law fails the same test (the test has power).
    q = sample_sigmas(50_000, "quadratic", sigma_min=a, sigma_max=b, seed=4)
    assert stats.kstest(np.log(q), stats.uniform(low, width).cdf).pvalue < 1e-6


def test_mixture_is_half_quadratic_half_log_uniform():
    # P(sigma <= t) = (sqrt(t) + log(t / a) / log(1 / a)) / 2 on [a, 1].
    a = 0.005
    s = sample_sigmas(200_000, "mixture", sigma_min=a, sigma_max=1.0, seed=5)
    for t in (0.01, 0.05, 0.2, 0.6):
        expected = 0.5 * (np.sqrt(t) + np.log(t / a) / np.log(1 / a))
        np.testing.assert_allclose((s <= t).mean(), expected, atol=0.004)


@pytest.mark.parametrize("name", LOSS_WEIGHTS)
def test_weights_in_the_batches_are_the_formula_of_the_drawn_sigmas(name):
    # Constant images: each image's noise is sigma z, so sigma is read back from the batch
    # (exactly, through z's sample standard deviation up to its own error) and the weight
    # must be w(sigma) of that very sigma, not of another draw.
    x = np.full((64, 64, 64, 1), 0.5, "float32")
    noisy, clean, w = next(iter(noisy_pairs(x, 64, sigma="log_uniform", sigma_min=0.005,
                                            loss_weight=name, seed=3, shuffle=False)))
    noisy, clean, w = (np.asarray(t) for t in (noisy, clean, w))
    assert w.shape == (64, 1, 1, 1) and w.dtype == np.float32
    sigmas = (noisy - clean).std(axis=(1, 2, 3))
    # The weight's own sigma: invert w for the monotone weights, check it matches the data.
    np.testing.assert_allclose(w[:, 0, 0, 0], _weights_formula(sigmas, name), rtol=0.1)
    # And against the numpy function on the same sigma (the formula, 1e-6).
    s_exact = {"none": None, "inverse_sqrt_sigma": w[:, 0, 0, 0] ** -2.0,
               "inverse_sigma": 1 / w[:, 0, 0, 0], "inverse_variance": w[:, 0, 0, 0] ** -0.5,
               "edm": None}[name]
    if s_exact is not None:
        np.testing.assert_allclose(s_exact, sigmas, rtol=0.06)
        np.testing.assert_allclose(loss_weights(s_exact, name), w[:, 0, 0, 0], rtol=1e-5)


def test_loss_weights_closed_forms_and_floor():
    s = np.array([0.0, 0.001, 0.005, 0.02, 0.3, 1.0])
    for name in LOSS_WEIGHTS:
        np.testing.assert_allclose(loss_weights(s, name, sigma_data=0.5),
                                   _weights_formula(s, name, 0.5), rtol=1e-6)
    assert np.isfinite(loss_weights(s, "inverse_variance")).all()  # sigma = 0 floored at 0.005
    with pytest.raises(ValueError, match="Unknown loss_weight"):
        loss_weights(s, "inverse_cube")
    with pytest.raises(ValueError, match="sigma_data"):
        loss_weights(s, "edm", sigma_data=0)
    with pytest.raises(ValueError, match="Unknown loss_weight"):
        noisy_pairs(np.zeros((4, 8, 8, 1), "float32"), 2, loss_weight="cubic")


def test_fit_loss_is_the_hand_computed_weighted_mean():
    # Keras reduces sample-weighted MSE with "sum_over_batch_size": mean_i(w_i MSE_i).
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(8, 8, 8, 1)).astype("float32")
    def pairs():  # each iteration of a dataset is a new epoch (new noise): one dataset per use
        return noisy_pairs(x, 8, sigma="log_uniform", sigma_min=0.01,
                           loss_weight="inverse_sigma", seed=1, shuffle=False)

    noisy, clean, w = (np.asarray(t) for t in next(iter(pairs())))
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, keras.layers.Conv2D(1, 3, padding="same", use_bias=False)(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mean_squared_error")
    # fit on exactly that batch (JAX's trainer peeks at a dataset before its epoch, which
    # advances noisy_pairs' epoch counter: a second noisy_pairs would give the next epoch there).
    import tensorflow as tf

    batch = tf.data.Dataset.from_tensors((noisy, clean, w))
    history = model.fit(batch, epochs=1, verbose=0, shuffle=False)
    out = model.predict(noisy, verbose=0)
    per_image = ((out - clean) ** 2).mean(axis=(1, 2, 3))
    hand = (w[:, 0, 0, 0] * per_image).mean()
    np.testing.assert_allclose(history.history["loss"][0], hand, rtol=1e-5)
    # Not the sum-of-weights normalization, nor the unweighted mean.
    assert abs(hand - (w[:, 0, 0, 0] * per_image).sum() / w.sum()) > 1e-3 * hand
    assert abs(hand - per_image.mean()) > 1e-3 * hand
