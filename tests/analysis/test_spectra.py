"""Eigen-analysis against closed forms: the Gaussian Wiener filter, matrix-free vs full."""

import keras
import numpy as np
import pytest

from keras_gahb import analysis
from keras_gahb.data import GaussianImages
from keras_gahb.models import from_preset


def wiener_denoiser(prior, sigma):
    """The optimal (Wiener) denoiser of a zero-mean Gaussian prior as a keras.ops linear map."""
    cov = prior.covariance()
    gain = (cov @ np.linalg.inv(cov + sigma**2 * np.eye(len(cov)))).astype("float32")
    matrix = keras.ops.convert_to_tensor(gain.T)

    def f(y):
        flat = keras.ops.reshape(y, (keras.ops.shape(y)[0], -1))
        return keras.ops.reshape(keras.ops.matmul(flat, matrix), keras.ops.shape(y))

    return f


@pytest.fixture(scope="module")
def prior():
    return GaussianImages(8, spectrum_exponent=2.0, std=0.2, mean=0.0)


def test_wiener_filter_eigenvalues_are_known(prior):
    sigma = 0.1
    x = prior.sample(1, seed=0)[0]
    result = analysis.eigen_analysis(wiener_denoiser(prior, sigma), x, sigma=sigma, seed=1)
    spectrum = prior.power_spectrum().ravel()
    expected = np.sort(spectrum / (spectrum + sigma**2))[::-1]
    np.testing.assert_allclose(result.eigenvalues, expected, atol=2e-5)
    np.testing.assert_allclose(result.trace, expected.sum(), rtol=1e-4)
    assert result.asymmetry < 1e-5  # a Wiener filter is symmetric
    assert result.bias_free_error < 1e-5  # zero mean: a linear, bias-free denoiser
    # The adaptive basis reconstructs x: sum_k <x, e_k> e_k == x (orthonormal basis).
    np.testing.assert_allclose(result.eigenvectors @ result.coefficients, x.ravel(), atol=1e-5)
    # Shrinkage form f(y) = sum_k lambda_k <y, e_k> e_k for a symmetric J.
    shrunk = result.eigenvectors @ (result.eigenvalues * result.noisy_coefficients)
    np.testing.assert_allclose(shrunk, result.denoised.ravel(), atol=1e-4)
    # For the optimal denoiser (and only for it) sigma^2 tr J* / D is the MSE.
    np.testing.assert_allclose(sigma**2 * result.trace / 64, prior.optimal_mse(sigma), rtol=1e-4)
    assert result.optimal_mse_identity == pytest.approx(prior.optimal_mse(sigma), rel=1e-4)
    # The Jacobian facts of a symmetric PSD J: no asymmetry, no negative mass, exact shrinkage.
    assert result.facts["negative_count"] == 0 and result.facts["sym_reconstruction_psnr"] > 80


@pytest.fixture(scope="module")
def unet_point():
    model = from_preset("unet_tiny")
    y = np.random.default_rng(3).random((8, 8, 1), dtype=np.float32)
    J = analysis.jacobian(model, y, chunk_size=64)[0]
    values, _ = analysis.symmetric_eigh(J)
    return model, y, J, values


@pytest.mark.parametrize("method", ["block", "lanczos"])
def test_matrix_free_top_eigenpairs_match_full(unet_point, method):
    model, y, J, values = unet_point
    top = analysis.top_eigenpairs(model, y, k=6, method=method, tol=1e-8, seed=0)
    np.testing.assert_allclose(top["eigenvalues"], values[:6], rtol=1e-3, atol=1e-4)
    sym = 0.5 * (J + J.T)
    # The stated accuracy: residuals ||A v - theta v|| are what they claim to be.
    actual = np.linalg.norm(sym @ top["eigenvectors"] - top["eigenvectors"] * top["eigenvalues"], axis=0)
    np.testing.assert_allclose(top["residuals"], actual, atol=1e-4)
    assert top["products"] > 0


def test_hutchinson_trace_within_its_standard_error(unet_point):
    model, y, J, _ = unet_point
    est = analysis.hutchinson_trace(model, y, num_probes=64, batch_size=32, seed=0)
    exact = np.trace(J)
    assert abs(est["trace"] - exact) < 4 * est["standard_error"] + 1e-4
    # The standard error matches its closed form for Rademacher probes:
    # Var(v^T J v) = 2 sum_{i != j} ((J_ij + J_ji) / 2)^2.
    sym = 0.5 * (J + J.T)
    expected = np.sqrt(2 * (np.sum(sym**2) - np.sum(np.diag(sym) ** 2)) / 64)
    assert 0.6 * expected < est["standard_error"] < 1.5 * expected


def test_checks_detect_asymmetry_and_bias():
    J = np.array([[[1.0, 2.0], [0.0, 1.0]]])
    np.testing.assert_allclose(analysis.asymmetry(J), [np.sqrt(8) / np.sqrt(6)])
    y = np.array([[1.0, 1.0]])
    np.testing.assert_allclose(analysis.bias_free_error(J, y, np.array([[3.0, 1.0]])), [0.0])
    np.testing.assert_allclose(analysis.bias_free_error(J, y, np.array([[4.0, 1.0]])), [1 / np.sqrt(17)])


def test_bad_inputs(unet_point):
    model, y, _, _ = unet_point
    with pytest.raises(ValueError, match="sigma"):
        analysis.eigen_analysis(model, y)
    with pytest.raises(ValueError, match="method"):
        analysis.top_eigenpairs(model, y, k=2, method="power")
    with pytest.raises(ValueError, match="k must be"):
        analysis.top_eigenpairs(model, y, k=64)
    with pytest.raises(ValueError, match="square"):
        analysis.symmetric_eigh(np.zeros((2, 3)))
