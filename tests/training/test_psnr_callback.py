"""PSNRCallback against direct numpy computations and closed forms."""

import keras
import numpy as np
import pytest

from keras_gahb.training import PSNRCallback, psnr_per_image


def _scaling_model(scale, size=8):
    inputs = keras.Input((size, size, 1))
    outputs = keras.layers.Rescaling(scale)(inputs)
    model = keras.Model(inputs, outputs)
    model.compile("adam", "mse")
    return model


def test_psnr_per_image_closed_form():
    clean = np.zeros((2, 4, 4, 1))
    estimate = np.stack([np.full((4, 4, 1), 0.1), np.full((4, 4, 1), 0.01)])
    np.testing.assert_allclose(psnr_per_image(estimate, clean), [20.0, 40.0])


def test_numbers_match_direct_numpy_computation(tiny_images):
    train_x, test_x = tiny_images
    sigmas = [0.05, 0.2]
    callback = PSNRCallback(train_x, test_x, sigmas, seed=3, batch_size=3)
    model = _scaling_model(0.5)
    curves = callback.evaluate(model)
    for name, clean in (("train", train_x), ("test", test_x)):
        for i, sigma in enumerate(sigmas):
            noisy = callback.sets[name][1][i]
            # The noise has the requested level and is fixed (same at every evaluation).
            assert np.std(noisy - clean) == pytest.approx(sigma, rel=0.15)
            mse = np.mean((0.5 * noisy.astype(np.float64) - clean) ** 2, axis=(1, 2, 3))
            expected = np.mean(10 * np.log10(1 / mse))  # per image, then averaged
            assert curves[name][i] == pytest.approx(expected, abs=1e-4)
    assert callback.evaluate(model) == curves


def test_identity_denoiser_reaches_input_psnr(tiny_images):
    train_x, test_x = tiny_images
    callback = PSNRCallback(None, np.concatenate([train_x, test_x] * 8), [0.1, 0.4])
    curves = callback.evaluate(_scaling_model(1.0))
    # E[PSNR_i] ~ -20 log10(sigma) (64 pixels per image, 96 images).
    np.testing.assert_allclose(curves["test"], [20.0, 20 * np.log10(1 / 0.4)], atol=0.3)
    np.testing.assert_allclose(curves["test"], callback.input_psnr["test"], atol=1e-4)


def test_logged_into_history_during_fit(tiny_images):
    train_x, test_x = tiny_images
    inputs = keras.Input((8, 8, 1))
    outputs = keras.layers.Conv2D(1, 1, use_bias=False, kernel_initializer="ones")(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.SGD(0.0), "mse")  # stays the identity
    callback = PSNRCallback(train_x[:2], test_x, [0.1], every=2)
    history = model.fit(train_x, train_x, epochs=3, batch_size=4, verbose=0,
                        callbacks=[callback])
    # Evaluated at epochs 2 and 3 (every=2, and always on the last epoch).
    assert [r["epoch"] for r in callback.records] == [2, 3]
    assert history.history["test_psnr_s0.1"] == pytest.approx(
        [r["test"][0] for r in callback.records])
    assert history.history["train_psnr_mean"] == pytest.approx(
        [r["train"][0] for r in callback.records])


def test_bad_arguments():
    x = np.zeros((2, 8, 8, 1), "float32")
    with pytest.raises(ValueError, match="sigmas"):
        PSNRCallback(x, x, [0.1, -1.0])
    with pytest.raises(ValueError, match="shape"):
        PSNRCallback(x[0], None, [0.1])
    with pytest.raises(ValueError, match="Give train_images"):
        PSNRCallback(None, None, [0.1])
