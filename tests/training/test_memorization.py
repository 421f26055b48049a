"""Memorization over training time: tau_gen / tau_mem read-off, the power-law fit, and the callback
on a model that is known to memorize (the empirical optimum wrapped as a Keras model)."""

import keras
import numpy as np
import pytest

import keras_gahb
from keras_gahb.analysis import EmpiricalOptimalDenoiser
from keras_gahb.training import MemorizationCallback, fit_power_law, memorization_times


def _records(test_losses, ratios, every=100):
    return [{"step": every * (i + 1), "test_loss": loss, "memorization_ratio": ratio}
            for i, (loss, ratio) in enumerate(zip(test_losses, ratios))]


def test_memorization_times():
    times = memorization_times(_records([0.05, 0.0201, 0.02, 0.03, 0.05], [0, 0, 0.25, 0.5, 0.75]))
    assert times["tau_gen"] == 200          # within 1% of the minimum 0.02
    assert times["tau_mem_ratio"] == 500    # first ratio strictly above 0.5
    assert times["tau_mem_loss"] == 400     # test loss > 1.05 x minimum after the minimum
    assert times["tau_mem"] == 500
    late = memorization_times(_records([0.05, 0.02, 0.0205], [0, 0, 0]))
    assert late["tau_mem"] is None and late["tau_mem_ratio"] is None
    with pytest.raises(ValueError):
        memorization_times([])


def test_power_law_fit_recovers_exponent():
    ns = np.array([8, 16, 32, 64])
    rng = np.random.default_rng(0)
    taus = 30 * ns**1.0 * np.exp(0.05 * rng.standard_normal(4))
    fit = fit_power_law(ns, taus)
    assert fit["ci_low"] <= 1.0 <= fit["ci_high"] and fit["t_ci_low"] <= 1.0 <= fit["t_ci_high"]
    assert abs(fit["exponent"] - 1.0) < 0.1
    exact = fit_power_law([10, 20, 40], [5, 20, 80])
    assert exact["exponent"] == pytest.approx(2.0) and exact["prefactor"] == pytest.approx(0.05)
    with pytest.raises(ValueError, match="3 or more"):
        fit_power_law([1, 2], [1, 2])


class _Memorizer(keras.layers.Layer):
    """The empirical optimal denoiser of a training set as a Keras layer (a perfect memorizer)."""

    def __init__(self, train, **kwargs):
        super().__init__(**kwargs)
        self.denoiser = EmpiricalOptimalDenoiser(train)

    def call(self, y):
        return self.denoiser(y)


def test_callback_on_a_perfect_memorizer():
    images = keras_gahb.data.get_images("faces", 24, 12)
    train, test = images[:16], images[16:]
    inputs = keras.Input((12, 12, 1))
    model = keras.Model(inputs, _Memorizer(train)(inputs))
    model.compile(optimizer="adam", loss="mse")
    callback = MemorizationCallback(train, test, every=1, num_samples=4, use_ema=False)
    record = callback.evaluate(model)
    assert record["memorization_ratio"] == 1.0
    assert record["train_loss"] < record["test_loss"] and record["loss_gap"] > 0
    assert callback.records == [record]


@pytest.mark.slow
def test_callback_records_during_fit():
    images = keras_gahb.data.get_images("faces", 12, 8)
    model = keras_gahb.models.from_preset("unet_tiny")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    callback = MemorizationCallback(images[:8], images[8:], every=4, num_samples=2,
                                    sampler_options={"max_steps": 3, "compiled": False})
    pairs = keras_gahb.data.noisy_pairs(images[:8], 4, seed=0, images_per_epoch=16)
    history = model.fit(pairs, epochs=2, callbacks=[callback], verbose=0)
    assert [r["step"] for r in callback.records] == [4, 8]
    assert all(np.isfinite(r["test_loss"]) and 0 <= r["memorization_ratio"] <= 1 for r in callback.records)
    assert "memorization_ratio" in history.history
    with pytest.raises(ValueError, match="differ in shape"):
        MemorizationCallback(images[:8], np.zeros((2, 4, 4, 1)))


def test_train_and_test_losses_share_noise_levels_and_noise():
    """Same images in both sets -> identical losses at every N (the gap is due to the images alone)."""
    images = keras_gahb.data.get_images("faces", 6, 8)
    for n in (2, 6):
        callback = MemorizationCallback(images[:n], images[:n], num_samples=1, num_loss_images=12)
        (train_clean, train_noisy), (test_clean, test_noisy) = (callback.loss_sets["train"],
                                                                callback.loss_sets["test"])
        np.testing.assert_array_equal(train_noisy - train_clean, test_noisy - test_clean)
        assert len(train_clean) == 12 and len(np.unique(train_clean.reshape(12, -1), axis=0)) == n
    other = MemorizationCallback(images[:2], images[2:6], num_samples=1, num_loss_images=12)
    # Other images, the same sigma_i z_i (up to float32 rounding of x + sigma z - x).
    np.testing.assert_allclose(other.loss_sets["test"][1] - other.loss_sets["test"][0],
                               other.loss_sets["train"][1] - other.loss_sets["train"][0], atol=1e-6)


def test_callback_stops_training_when_the_threshold_is_exceeded():
    images = keras_gahb.data.get_images("faces", 12, 8)
    model = keras_gahb.models.from_preset("unet_tiny")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    callback = MemorizationCallback(images[:8], images[8:], every=2, num_samples=2, stop_threshold=-1.0,
                                    sampler_options={"max_steps": 3, "compiled": False})
    pairs = keras_gahb.data.noisy_pairs(images[:8], 4, seed=0, images_per_epoch=16)
    history = model.fit(pairs, epochs=3, callbacks=[callback], verbose=0)
    assert [r["step"] for r in callback.records] == [2] and len(history.history["loss"]) == 1
    assert 0 <= callback.records[0]["median_distance_ratio"] <= 1
