"""SURE against MSEs known in closed form: the Wiener filter of Gaussian images, linear maps."""

import keras
import numpy as np
import pytest

from keras_gahb import analysis
from keras_gahb.data import GaussianImages


def _linear(matrix, offset=None):
    """f(y) = A y (+ b) as a keras.ops callable on (B, H, W, C) batches."""
    a = keras.ops.convert_to_tensor(np.asarray(matrix, np.float32).T)
    b = None if offset is None else keras.ops.convert_to_tensor(np.asarray(offset, np.float32)[None])

    def f(y):
        flat = keras.ops.reshape(y, (keras.ops.shape(y)[0], -1))
        out = keras.ops.matmul(flat, a)
        if b is not None:
            out = out + b
        return keras.ops.reshape(out, keras.ops.shape(y))

    return f


def _within(values, expected, z=4.0):
    mean, se = float(np.mean(values)), float(np.std(values, ddof=1) / np.sqrt(len(values)))
    assert abs(mean - expected) < z * se + 1e-9, (mean, expected, se)
    return mean, se


def test_sure_of_the_wiener_filter_equals_its_known_mse():
    """The Wiener filter on the Gaussian images it is optimal for: E[SURE] = MSE* exactly."""
    sigma = 0.1
    prior = GaussianImages(8, spectrum_exponent=2.0, std=0.2, mean=0.5)
    wiener = analysis.WienerDenoiser(prior.sample(4, seed=0), sigma, mean=prior.mean,
                                     covariance=prior.covariance())
    x = prior.sample(3000, seed=1)
    y = x + sigma * np.random.default_rng(2).standard_normal(x.shape).astype(np.float32)
    f = analysis.denoise(wiener, y)
    # tr J from the Jacobian (exact) against the closed form sum_k P_k / (P_k + sigma^2).
    exact = analysis.sure_mse(wiener, y[:2], sigma)
    spectrum = prior.power_spectrum().ravel()
    np.testing.assert_allclose(exact["trace"], np.sum(spectrum / (spectrum + sigma**2)), rtol=1e-4)
    np.testing.assert_allclose(exact["sure"], analysis.sure_from_trace(y[:2], f[:2],
                                                                       exact["trace"], sigma),
                               rtol=1e-4)
    sure = analysis.sure_from_trace(y, f, exact["trace"][0], sigma)
    _within(sure, prior.optimal_mse(sigma))
    _within(np.mean((f - x) ** 2, axis=(1, 2, 3)), prior.optimal_mse(sigma))  # the reference
    # For the optimal denoiser sigma^2 tr J / D is the MSE too (and only for it).
    np.testing.assert_allclose(exact["optimal_mse_identity"], prior.optimal_mse(sigma), rtol=1e-3)


def test_sure_of_linear_maps_matches_the_closed_form():
    """f(y) = A y at a fixed x: E||A y - x||^2 / D = (||(A - I) x||^2 + sigma^2 ||A||_F^2) / D."""
    rng = np.random.default_rng(0)
    dim, sigma = 16, 0.2
    x = rng.random((1, 4, 4, 1)).astype(np.float32)
    y = x + sigma * rng.standard_normal((4000, 4, 4, 1)).astype(np.float32)
    for name, matrix in (("non-symmetric", 0.5 * np.eye(dim) + 0.1 * rng.standard_normal((dim, dim))),
                         ("zero", np.zeros((dim, dim))), ("identity", np.eye(dim))):
        f = _linear(matrix)
        closed = (np.sum(((matrix - np.eye(dim)) @ x.ravel()) ** 2)
                  + sigma**2 * np.sum(matrix**2)) / dim
        result = analysis.sure_mse(f, y[:1], sigma)
        np.testing.assert_allclose(result["trace"], np.trace(matrix), atol=1e-4)
        sure = analysis.sure_from_trace(y, analysis.denoise(f, y), np.trace(matrix), sigma)
        _within(sure, closed)
        if name == "zero":  # sigma^2 tr J / D says 0, the MSE is ||x||^2 / D
            assert result["optimal_mse_identity"][0] == 0 and closed > 0.1


def test_hutchinson_sure_agrees_with_the_exact_one():
    from keras_gahb.models import from_preset

    model = from_preset("unet_tiny")
    y = (0.5 + 0.1 * np.random.default_rng(3).standard_normal((1, 8, 8, 1))).astype(np.float32)
    exact = analysis.sure_mse(model, y, 0.1)
    probed = analysis.sure_mse(model, y, 0.1, method="hutchinson", num_probes=64)
    assert probed["sure_standard_error"][0] > 0 and exact["sure_standard_error"][0] == 0
    assert abs(probed["sure"][0] - exact["sure"][0]) < 4 * probed["sure_standard_error"][0] + 1e-6


def test_eigen_analysis_reports_sure_and_the_identity_apart():
    sigma, dim = 0.2, 16
    matrix = 0.5 * np.eye(dim)
    x = np.random.default_rng(0).random((4, 4, 1)).astype(np.float32)
    result = analysis.eigen_analysis(_linear(matrix), x, sigma=sigma, seed=1)
    y, f = result.noisy.ravel(), result.denoised.ravel()
    expected = (np.sum((y - f) ** 2) + 2 * sigma**2 * 8.0 - dim * sigma**2) / dim
    summary = result.summary()
    assert summary["sure_mse"] == pytest.approx(expected, rel=1e-4)
    assert summary["optimal_mse_identity"] == pytest.approx(sigma**2 * 8.0 / dim, rel=1e-5)
    assert summary["sure_mse_estimate"] == summary["optimal_mse_identity"]  # deprecated alias


def test_bad_inputs():
    f = _linear(np.eye(4))
    y = np.zeros((1, 2, 2, 1), np.float32)
    with pytest.raises(ValueError, match="sigma"):
        analysis.sure_mse(f, y, 0.0)
    with pytest.raises(ValueError, match="method"):
        analysis.sure_mse(f, y, 0.1, method="mc")
    with pytest.raises(ValueError, match="same shape"):
        analysis.sure_from_trace(y, y[..., :0], 1.0, 0.1)
