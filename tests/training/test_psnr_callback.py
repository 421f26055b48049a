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


def _affine_model(scale, offset, size=8):
    """f(y) = scale y + offset: the identity (1, 0), a shrinkage, or a constant (0, c)."""
    inputs = keras.Input((size, size, 1))
    model = keras.Model(inputs, keras.layers.Rescaling(scale, offset=offset)(inputs))
    model.compile(keras.optimizers.SGD(0.0), "mse")  # fit leaves it as it is
    return model


def _fit(model, callback, x):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(x, x, epochs=1, batch_size=4, verbose=0, callbacks=[callback])
    return history, [w for w in caught if "worse than the identity" in str(w.message)]


def test_input_psnr_is_logged_beside_the_output_psnr(tiny_images):
    train_x, test_x = tiny_images
    callback = PSNRCallback(train_x[:4], test_x, [0.1, 0.3])
    history, _ = _fit(_affine_model(1.0, 0.0), callback, train_x)
    for name in ("train", "test"):
        for sigma, value in zip([0.1, 0.3], callback.input_psnr[name]):
            assert history.history[f"{name}_input_psnr_s{sigma:g}"] == pytest.approx([value])
            # The input PSNR is the noisy images' own: -20 log10(sigma) up to the draw.
            assert value == pytest.approx(-20 * np.log10(sigma), abs=1.5)


def test_warns_when_worse_than_the_identity_at_every_sigma(tiny_images):
    train_x, test_x = tiny_images
    # Halving the image (what a net far from trained may do) loses at sigma 0.05 and 0.1.
    callback = PSNRCallback(train_x[:4], test_x, [0.05, 0.1])
    _, warned = _fit(_affine_model(0.5, 0.0), callback, train_x)
    assert len(warned) == 1
    message = str(warned[0].message)
    assert "\n" not in message and "at sigma 0.05" in message and "test PSNR" in message
    assert all(out < inp for out, inp in zip(callback.curves["test"], callback.input_psnr["test"]))


def test_no_warning_for_the_oracle_or_when_better_at_some_sigma():
    """For a prior holding one image (constant 0.3) the oracle denoiser returns that image: it
    beats the identity at every sigma. A shrinkage to the mean, f(y) = 0.3 + 0.5 (y - 0.3),
    loses at small sigma and wins at large sigma: not worse everywhere, so no warning either."""
    x = np.full((8, 8, 8, 1), 0.3, "float32")
    callback = PSNRCallback(x[:4], x[4:], [0.05, 0.1, 0.4])
    _, warned = _fit(_affine_model(0.0, 0.3), callback, x)
    assert not warned and min(callback.curves["test"]) > max(callback.input_psnr["test"])
    rng = np.random.default_rng(1)
    x = rng.uniform(0.0, 0.6, size=(8, 8, 8, 1)).astype("float32")
    callback = PSNRCallback(x[:4], x[4:], [0.02, 0.4])
    _, warned = _fit(_affine_model(0.5, 0.15), callback, x)
    gains = np.subtract(callback.curves["test"], callback.input_psnr["test"])
    assert gains[0] < 0 < gains[1] and not warned
    # The same model on the small sigma alone is worse everywhere: the warning comes back.
    callback = PSNRCallback(x[:4], x[4:], [0.02])
    assert _fit(_affine_model(0.5, 0.15), callback, x)[1]
