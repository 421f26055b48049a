import numpy as np
import pytest

from keras_gahb.data import GaussianImages, get_images


def test_samples_have_the_prescribed_power_spectrum_and_covariance():
    prior = GaussianImages(8, spectrum_exponent=2.0, std=0.2, mean=0.5)
    x = prior.sample(20_000, seed=0)[..., 0].astype(np.float64)
    np.testing.assert_allclose(x.mean(), 0.5, atol=0.005)
    np.testing.assert_allclose(x.std(axis=0).mean(), 0.2, rtol=0.02)
    empirical = (np.abs(np.fft.fft2(x - 0.5)) ** 2).mean(axis=0) / 64
    np.testing.assert_allclose(empirical, prior.power_spectrum(), rtol=0.06)
    # The circulant covariance agrees with the sample covariance, and its
    # eigenvalues are the power spectrum.
    cov = prior.covariance()
    sample_cov = np.cov(x.reshape(len(x), -1), rowvar=False)
    np.testing.assert_allclose(sample_cov, cov, atol=0.003)
    np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(cov)),
                               np.sort(prior.power_spectrum().ravel()), rtol=1e-8, atol=1e-12)


def test_wiener_filter_is_the_posterior_mean_and_its_mse():
    prior = GaussianImages(8, spectrum_exponent=1.5, channels=1)
    sigma = 0.1
    x = prior.sample(4000, seed=1).astype(np.float64)
    y = x + sigma * np.random.default_rng(2).standard_normal(x.shape)
    x_hat = prior.optimal_denoiser(y, sigma)
    # Closed form from the covariance matrix: m + C (C + sigma^2 I)^-1 (y - m).
    cov = prior.covariance()
    gain = cov @ np.linalg.inv(cov + sigma**2 * np.eye(64))
    direct = 0.5 + (y.reshape(4000, -1) - 0.5) @ gain.T
    np.testing.assert_allclose(x_hat.reshape(4000, -1), direct, atol=1e-5)
    np.testing.assert_allclose(((x_hat - x) ** 2).mean(), prior.optimal_mse(sigma), rtol=0.03)
    np.testing.assert_allclose(prior.optimal_mse(sigma),
                               sigma**2 * np.trace(gain) / 64, rtol=1e-9)  # MSE* = s^2 tr J*/D
    # Per-image sigma, and small/large-noise limits of the MSE.
    mixed = prior.optimal_denoiser(y[:2], np.array([0.1, 0.3]))
    np.testing.assert_allclose(mixed[0], x_hat[0], atol=1e-6)
    assert prior.optimal_mse(1e-4) == pytest.approx(1e-8, rel=0.01)
    assert prior.optimal_mse(100.0) == pytest.approx(prior.std**2, rel=0.01)


def test_color_channels_registry_and_errors():
    prior = GaussianImages(4, channels=3)
    assert prior.sample(2, seed=0).shape == (2, 4, 4, 3)
    assert prior.covariance().shape == (48, 48)
    assert get_images("gaussian", 3, 8, spectrum_exponent=1.0).shape == (3, 8, 8, 1)
    with pytest.raises(ValueError, match="Expected images"):
        prior.optimal_denoiser(np.zeros((2, 4, 4, 1)), 0.1)
    with pytest.raises(ValueError, match="std > 0"):
        GaussianImages(4, std=0)
