"""The GAHB checks both ways: optimality against oracle risks, adaptation against fixed bases
chosen from the noisy image (an image-adapted operator passes, a fixed low-pass filter fails)."""

import numpy as np
import pytest

from keras_gahb import analysis
from keras_gahb.analysis import dct_matrix, haar_matrix
from keras_gahb.experiments.gahb_basis import (
    GAHB,
    adaptation_check,
    adaptation_energies,
    adapts,
    best_k_energy,
    chosen_k_energy,
    optimality_check,
    optimality_numbers,
)
from keras_gahb.metrics import noisy_versions


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


def test_noisy_choice_is_at_most_the_oracle_choice():
    rng = np.random.default_rng(1)
    image = rng.random((8, 8, 1))
    image -= image.mean()
    noisy = image + 0.2 * rng.standard_normal(image.shape)
    ks = list(range(1, 65))
    for basis, make in (("dct", dct_matrix), ("haar", haar_matrix)):
        oracle = chosen_k_energy(image, image, basis, ks)
        np.testing.assert_allclose(oracle, best_k_energy(image, make(8), make(8), ks))
        chosen = chosen_k_energy(image, noisy, basis, ks)
        assert np.all(chosen <= oracle + 1e-12) and chosen[-1] == pytest.approx(1.0)
        # With no noise the choice is the oracle's.
        np.testing.assert_allclose(chosen_k_energy(image, image.copy(), basis, ks), oracle)


def _adapted(image, weights=(1.0, 0.95, 0.9, 0.85), seed=0):
    """J = sum_j w_j u_j u_j^T + 0.1 B: u_1 the image's own mean-removed direction, u_2.. random
    directions orthogonal to it; every other eigenvalue <= about 0.1, so the kept subspace is
    span(u_j), adapted to this image."""
    from keras import ops

    flat = image.reshape(-1).astype(np.float64)
    centred = flat - flat.mean()
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(np.column_stack([centred] + [rng.standard_normal(flat.size)
                                                         for _ in weights[1:]]))
    u = ops.convert_to_tensor((basis * np.asarray(weights)).astype("float32"))
    v = ops.convert_to_tensor(basis.astype("float32"))

    def denoiser(y):
        flat_y = ops.reshape(y, (ops.shape(y)[0], -1))
        along = ops.reshape(ops.matmul(ops.matmul(flat_y, v), ops.transpose(u)), ops.shape(y))
        return along + 0.1 * _blur(y)

    return denoiser


def test_adaptation_fails_for_a_fixed_low_pass_filter():
    """J = B for every image: its top eigenvectors are the lowest DCT frequencies, the first the
    constant (no energy of the mean-removed image): the noisy-chosen DCT beats it."""
    rng = np.random.default_rng(0)
    images = rng.random((2, 8, 8, 1)).astype("float32")
    energies = adaptation_energies(_blur, images, sigma=0.1, seed=0)
    assert len(energies["ks"]) > 4 and min(energies["kept"]) == len(energies["ks"])
    assert not adapts(energies)
    assert energies[GAHB][0] < 1e-6 < energies["DCT from noisy"][0]
    row = adaptation_check(energies, 0.1)
    assert not row["passed"] and row["applicable"] and "K=1" in row["distance"]
    assert "GAHB adapts" in row["claim"] and "oracle" in row["value"]


def test_adaptation_passes_for_an_image_adapted_operator():
    rng = np.random.default_rng(0)
    images = rng.random((2, 8, 8, 1)).astype("float32")
    for image in images:
        energies = adaptation_energies(_adapted(image), image[None], sigma=0.1, seed=0)
        assert energies["ks"] == [1, 2, 3, 4] and energies["kept"] == [4]
        assert adapts(energies)
        assert np.all(energies[GAHB] > 0.95), energies[GAHB]
        assert np.all(energies["DCT from noisy"] <= energies["DCT oracle"] + 1e-12)
        row = adaptation_check(energies, 0.1)
        assert row["passed"] and row["distance"] is None and "K=4" in row["value"]


def _images(n=32):
    from keras_gahb import data

    return data.get_images("calpha", n, 16, seed=0, alpha=2.0, variant="authors").astype(np.float64)


def test_optimality_passes_for_an_oracle_and_fails_for_the_identity():
    images = _images()
    sigma = 0.15
    y = noisy_versions(images, [sigma], seed=0)[0].astype(np.float64)
    # The keep-or-kill oracle in the better basis of each image: expected MSE at or below both.
    dct = analysis.oracle_projection(y, images, sigma, "dct")
    haar = analysis.oracle_projection(y, images, sigma, "haar")
    pick = (analysis.oracle_risk(images, [sigma], "haar")
            < analysis.oracle_risk(images, [sigma], "dct"))[:, 0]
    best = np.where(pick[:, None, None, None], haar, dct)
    numbers = optimality_numbers(((best - images) ** 2).mean(axis=(1, 2, 3)), images, sigma)
    row = optimality_check(numbers)
    assert row["passed"] and row["distance"] is None, row
    assert numbers["DCT"]["psnr"] == pytest.approx(analysis.oracle_psnr(images, [sigma], "dct")[0])
    for bad in (y, analysis.gaussian_blur(y, 2.0)):
        numbers = optimality_numbers(((bad - images) ** 2).mean(axis=(1, 2, 3)), images, sigma)
        row = optimality_check(numbers)
        assert not row["passed"] and row["applicable"] and "dB vs oracle" in row["distance"], row
        assert float(row["distance"].split(" dB")[0]) < 0
