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


def _blur(y):
    """[1, 2, 1] / 4 along rows and columns with edge padding: symmetric, DCT-II eigenvectors."""
    from keras import ops

    for axis in (1, 2):
        size = y.shape[axis]
        first = ops.take(y, [0], axis=axis)
        last = ops.take(y, [size - 1], axis=axis)
        padded = ops.concatenate([first, y, last], axis=axis)
        y = (0.25 * ops.take(padded, list(range(size)), axis=axis)
             + 0.5 * y + 0.25 * ops.take(padded, list(range(2, size + 2)), axis=axis))
    return y


def test_adaptivity_check_fails_for_a_linear_filter_and_passes_for_an_adapted_basis():
    """Both ways: a fixed linear low-pass cannot beat the oracle DCT, an image-adapted one does."""
    from keras import ops

    from keras_gahb.experiments.gahb_basis import GAHB, adaptivity_energies, adapts

    rng = np.random.default_rng(0)
    images = rng.random((2, 8, 8, 1)).astype("float32")
    ks = [4, 8, 16]
    # J = B: its eigenvectors are DCT vectors, the top K the K lowest frequencies, which the
    # best K DCT vectors (chosen for the clean image) beat by construction.
    linear = adaptivity_energies(_blur, images, sigma=0.1, ks=ks, seed=0)
    assert not adapts(linear)
    assert np.all(linear[GAHB] <= linear["DCT"] + 1e-6)
    # J = u u^T + B / 2 with u the clean image's direction: the top eigenvector is (nearly)
    # the image itself, a basis adapted to it, which no fixed basis matches with 4 vectors.
    for image in images:
        u = ops.convert_to_tensor(image.reshape(-1) / np.linalg.norm(image))

        def adapted(y, u=u):
            flat = ops.reshape(y, (ops.shape(y)[0], -1))
            along = ops.reshape(ops.matmul(flat, u[:, None]) * u[None, :], ops.shape(y))
            return along + 0.5 * _blur(y)

        energies = adaptivity_energies(adapted, image[None], sigma=0.1, ks=ks, seed=0)
        assert adapts(energies)
        assert energies[GAHB][0] > 0.95 and energies[GAHB][0] > energies["DCT"][0] + 0.1
