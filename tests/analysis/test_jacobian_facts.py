"""Jacobian facts against closed forms: symmetric PSD, non-symmetric and affine maps."""

import numpy as np
import pytest

from keras_gahb import analysis
from tests.analysis.test_sure import _linear as _affine  # f(y) = A y (+ b)


def test_a_symmetric_psd_map_is_symmetric_with_no_negative_mass_and_exact_shrinkage():
    rng = np.random.default_rng(0)
    b = rng.standard_normal((16, 6))
    matrix = b @ b.T / 10  # symmetric PSD of rank 6: ten exact zero eigenvalues
    x = rng.random((4, 4, 1)).astype(np.float32)
    result = analysis.eigen_analysis(_affine(matrix), x, sigma=0.1, seed=1)
    facts = result.facts
    assert facts["asymmetry"] < 1e-6
    assert facts["negative_count"] == 0 and facts["negative_sum"] == 0
    assert facts["sym_reconstruction_psnr"] > 90 and facts["homogeneity_psnr"] > 90
    assert facts["trace"] == pytest.approx(np.trace(matrix), rel=1e-5)
    sentence = analysis.describe_jacobian_facts(facts)
    assert "symmetric to float precision" in sentence and "no negative eigenvalue" in sentence
    assert "nearly" not in sentence
    assert result.summary()["jacobian_facts"]["asymmetry"] == facts["asymmetry"]


def test_a_known_non_symmetric_matrix_gives_its_closed_forms():
    # J = [[0, 2], [0, 0]]: ||J - J^T|| / ||J|| = sqrt(8) / 2; sym(J) = [[0, 1], [1, 0]] has
    # eigenvalues +-1; at y = (1, 1): J y = (2, 0) = f(y), sym(J) y = (1, 1), MSE 1 -> 0 dB.
    J = np.array([[0.0, 2.0], [0.0, 0.0]])
    y = np.array([1.0, 1.0])
    facts = analysis.jacobian_facts(J, y, J @ y, clean=np.array([2.0, 1.0]))
    assert facts["asymmetry"] == pytest.approx(np.sqrt(2))
    assert facts["negative_count"] == 1
    assert facts["negative_sum"] == pytest.approx(-1) and facts["min_eigenvalue"] == pytest.approx(-1)
    assert facts["sym_reconstruction_psnr"] == pytest.approx(0.0, abs=1e-9)
    assert facts["homogeneity_psnr"] == 100.0  # capped: exact
    # ||sym(J) y - f|| = sqrt(2) against the denoising error ||f - x|| = 1.
    assert facts["sym_error_over_denoising_error"] == pytest.approx(np.sqrt(2))
    sentence = analysis.describe_jacobian_facts(facts)
    assert "1.41: J is not symmetric" in sentence and "1 negative eigenvalues" in sentence
    assert "does not describe f" in sentence


def test_an_affine_map_breaks_the_homogeneity_identity_by_its_offset():
    matrix, offset = np.eye(4) * 0.5, np.array([0.1, 0.0, -0.1, 0.0])
    f = _affine(matrix, offset)
    y = np.full((1, 2, 2, 1), 0.3, np.float32)
    J = analysis.jacobian(f, y)[0]
    facts = analysis.jacobian_facts(J, y, analysis.denoise(f, y))
    # J y - f(y) = -b: MSE = mean(b^2) = 0.005 -> 23.0 dB, for sym(J) y too (J is symmetric).
    expected = -10 * np.log10(np.mean(offset**2))
    assert facts["homogeneity_psnr"] == pytest.approx(expected, abs=1e-3)
    assert facts["sym_reconstruction_psnr"] == pytest.approx(expected, abs=1e-3)


def test_bad_inputs():
    with pytest.raises(ValueError, match="square"):
        analysis.jacobian_facts(np.zeros((2, 3)), [0, 0], [0, 0])
    with pytest.raises(ValueError, match="entries"):
        analysis.jacobian_facts(np.eye(2), [0, 0, 0], [0, 0])


def test_matrix_free_facts_agree_with_the_full_jacobian():
    from keras_gahb.models import from_preset

    model = from_preset("unet_tiny")
    rng = np.random.default_rng(1)
    x = rng.random((8, 8, 1), dtype=np.float32)
    y = (x + 0.1 * rng.standard_normal(x.shape)).astype(np.float32)
    J = analysis.jacobian(model, y)[0]
    full = analysis.jacobian_facts(J, y, analysis.denoise(model, y[None])[0], clean=x)
    free = analysis.jacobian_facts_matrix_free(model, y, clean=x, num_probes=64, seed=0)
    for key in ("sym_reconstruction_psnr", "homogeneity_psnr", "output_psnr"):
        assert free[key] == pytest.approx(full[key], abs=0.05)  # exact products
    assert free["sym_error_over_denoising_error"] == pytest.approx(
        full["sym_error_over_denoising_error"], rel=1e-3)
    assert abs(free["asymmetry"] - full["asymmetry"]) < 4 * free["asymmetry_standard_error"]
    assert "not computed (matrix-free)" in analysis.describe_jacobian_facts(free)
    # A symmetric map: the estimate is 0, whatever the probes.
    sym = analysis.jacobian_facts_matrix_free(_affine(np.diag(np.arange(64) / 64.0)), y)
    assert sym["asymmetry"] < 1e-6
