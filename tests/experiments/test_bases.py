"""The fixed bases of the GAHB adaptivity check (DCT, Haar) and their best-K energy."""

import numpy as np
import pytest

from keras_gahb.experiments.gahb_basis import best_k_energy, dct_matrix, haar_matrix


@pytest.mark.parametrize("n", [8, 16, 20])
def test_dct_and_haar_are_orthonormal(n):
    for matrix in (dct_matrix(n), haar_matrix(n)):
        np.testing.assert_allclose(matrix @ matrix.T, np.eye(n), atol=1e-12)


def test_dct_rows_are_cosines():
    n = 8
    signal = np.cos(np.pi * 3 * (2 * np.arange(n) + 1) / (2 * n))  # the k=3 DCT-II vector
    coefficients = dct_matrix(n) @ signal
    assert np.argmax(np.abs(coefficients)) == 3
    np.testing.assert_allclose(np.delete(coefficients, 3), 0, atol=1e-12)


def test_best_k_energy_closed_forms():
    rng = np.random.default_rng(0)
    constant = np.full((16, 16, 1), 0.3)
    for make in (dct_matrix, haar_matrix):
        basis = make(16)
        # A constant image is one basis vector of both bases (DC / coarsest average).
        np.testing.assert_allclose(best_k_energy(constant, basis, basis, [1]), [1.0])
        image = rng.random((16, 16, 1))
        energy = best_k_energy(image, basis, basis, [1, 8, 64, 256])
        assert np.all(np.diff(energy) >= 0) and energy[-1] == pytest.approx(1.0)
    # A Haar step (one half dark, one half bright) is 2 Haar vectors; the DCT needs many.
    step = np.zeros((16, 16, 1))
    step[:, 8:] = 1.0
    assert best_k_energy(step, haar_matrix(16), haar_matrix(16), [2])[0] == pytest.approx(1.0)
    assert best_k_energy(step, dct_matrix(16), dct_matrix(16), [2])[0] < 0.95
