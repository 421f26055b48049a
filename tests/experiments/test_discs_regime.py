"""Discs: the spectrum checks apply only in the shrinkage regime, tested with known denoisers.

Each denoiser is an affine map f(y) = x + A (y - x) around a disc x with A built from the true
manifold's tangent basis U (the ideal small-noise denoiser has A = U U^T): its MSE is
sigma^2 ||A||_F^2 / D in expectation and its Jacobian spectrum is A's, both known.
"""

import keras
import numpy as np
import pytest

from keras_gahb import analysis
from keras_gahb.data.discs import render_discs
from keras_gahb.experiments.discs import (
    SPECTRUM_TOLERANCE,
    _mse_at,
    disc_regime,
    disc_spectrum_checks,
)
from keras_gahb.experiments.reproduction_config import PAPER_DISC_EIGENVALUES

SIZE, SIGMA = 16, 0.04
PARAMS = np.array([8.0, 8.0, 4.0, 0.8, 0.2])


def _affine(x, matrix, offset=0.0):
    center = keras.ops.convert_to_tensor(x.reshape(1, -1))
    a = keras.ops.convert_to_tensor(np.asarray(matrix, np.float32).T)

    def f(y):
        flat = keras.ops.reshape(y, (keras.ops.shape(y)[0], -1))
        return keras.ops.reshape(center + keras.ops.matmul(flat - center, a) + offset,
                                 keras.ops.shape(y))

    return f


@pytest.fixture(scope="module")
def disc():
    x = render_discs(PARAMS[None], SIZE)[0]
    tangent = analysis.disc_tangent_basis(PARAMS, SIZE)
    rng = np.random.default_rng(0)
    extra = rng.standard_normal((SIZE * SIZE, 5))
    extra -= tangent @ (tangent.T @ extra)
    extra = np.linalg.qr(extra)[0]  # 5 directions orthogonal to the tangent space
    return x, tangent, extra


def _measure(f, x):
    images = np.repeat(x[None], 64, axis=0)
    mse, input_mse = _mse_at(f, images, SIGMA, seed=1)
    result = analysis.eigen_analysis(f, x, sigma=SIGMA, seed=2)
    regime = disc_regime(mse, input_mse, SIGMA, x.size, result.trace)
    return regime, disc_spectrum_checks(regime, result.eigenvalues[:10], SIGMA)


def test_a_denoiser_with_the_papers_spectrum_is_in_the_regime_and_passes(disc):
    x, tangent, extra = disc
    paper = np.asarray(PAPER_DISC_EIGENVALUES)
    matrix = tangent @ np.diag(paper[:5]) @ tangent.T + extra @ np.diag(paper[5:]) @ extra.T
    regime, checks = _measure(_affine(x, matrix), x)
    # MSE = sigma^2 sum lambda_k^2 / D = 6.5 sigma^2 / D: between 5 sigma^2 / D and sigma^2.
    assert regime["mse"] == pytest.approx(SIGMA**2 * np.sum(paper**2) / x.size, rel=0.15)
    assert regime["in_regime"] and "in the shrinkage regime" in regime["reason"]
    assert all(c["applicable"] and c["passed"] and c["distance"] is None for c in checks), checks


def test_in_the_regime_a_wrong_spectrum_fails_with_its_distance(disc):
    x, tangent, extra = disc
    # Ten eigenvalues 0.75 (sum lambda^2 = 5.6 > 5): no tangent eigenvalue near 1, and the
    # extra ones are not cut off like the paper's (0.674 ... 0.278).
    matrix = 0.75 * (tangent @ tangent.T + extra @ extra.T)
    regime, checks = _measure(_affine(x, matrix), x)
    assert regime["in_regime"]
    assert all(c["applicable"] and not c["passed"] for c in checks)
    assert checks[0]["distance"] == f"{SPECTRUM_TOLERANCE - 0.25:+.3f} in eigenvalue"


def test_the_identity_and_a_worse_denoiser_are_out_of_the_regime(disc):
    x, tangent, _ = disc
    eye = np.eye(x.size)
    for f in (_affine(x, eye), _affine(x, eye, offset=0.05)):
        regime, checks = _measure(f, x)
        assert not regime["in_regime"]
        assert "no better than the identity" in regime["reason"] and "not in the shrinkage" in \
            regime["reason"]
        assert all(not c["applicable"] and c["distance"] is None for c in checks)
        assert all("MSE / (sigma^2 tr J / D)" in c["reason"] for c in checks)
    # The ideal tangent projection shrunk a little more is better than the optimum: an oracle.
    regime, checks = _measure(_affine(x, 0.9 * tangent @ tangent.T), x)
    assert not regime["in_regime"] and "below the optimal" in regime["reason"]
    assert all(not c["applicable"] for c in checks)
