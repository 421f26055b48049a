"""keras_gahb.metrics: one PSNR convention, checked against numpy and shared by training/analysis."""

import keras
import numpy as np
import pytest

from keras_gahb import analysis, metrics
from keras_gahb.training import PSNRCallback


@pytest.fixture
def tiny_images():
    x = np.random.default_rng(0).uniform(0.2, 0.8, size=(12, 8, 8, 1)).astype("float32")
    return x[:8], x[8:]


def test_psnr_closed_forms_and_cap():
    clean = np.zeros((3, 4, 4, 1))
    estimate = np.stack([np.full((4, 4, 1), 0.1), np.full((4, 4, 1), 0.01), np.zeros((4, 4, 1))])
    np.testing.assert_allclose(metrics.psnr(estimate, clean), [20.0, 40.0, metrics.PSNR_CAP_DB])
    # The set's PSNR is the mean of the per-image PSNRs, not the PSNR of the mean MSE.
    assert metrics.mean_psnr(estimate[:2], clean[:2]) == pytest.approx(30.0)
    assert metrics.mean_psnr(estimate[:2], clean[:2]) != pytest.approx(-10 * np.log10(0.00505))
    np.testing.assert_allclose(metrics.psnr(2 * estimate[:1], clean[:1], data_range=2.0), [20.0])
    assert np.isnan(metrics.psnr(np.full((1, 2, 2, 1), np.nan), np.zeros((1, 2, 2, 1)))[0])


def test_noisy_versions_share_one_noise():
    x = np.random.default_rng(0).random((2, 8, 8, 1)).astype(np.float32)
    low, high = metrics.noisy_versions(x, [0.1, 0.3], seed=4)
    np.testing.assert_allclose(3 * (low - x), high - x, atol=1e-5)
    np.testing.assert_array_equal(metrics.noisy_versions(x, [0.1], seed=4)[0], low)


def test_callback_and_psnr_curve_report_the_same_psnr(tiny_images):
    train_x, test_x = tiny_images
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, keras.layers.Rescaling(0.7)(inputs))
    sigmas = [0.05, 0.2]
    curves = PSNRCallback(train_x, test_x, sigmas, seed=5).evaluate(model)
    for name, images in (("train", train_x), ("test", test_x)):
        curve = analysis.psnr_curve(model, images, sigmas, seed=5)
        np.testing.assert_allclose(curves[name], curve["output_psnr"], atol=1e-4)
        # and both equal a direct numpy computation with the documented convention
        z = np.random.default_rng(5).standard_normal(images.shape).astype(np.float32)
        for sigma, value in zip(sigmas, curves[name]):
            mse = np.mean((0.7 * (images + np.float32(sigma) * z) - images) ** 2, axis=(1, 2, 3))
            assert value == pytest.approx(np.mean(10 * np.log10(1 / mse)), abs=1e-4)
