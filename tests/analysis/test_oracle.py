"""Oracle projection risks of orthonormal bases, against closed forms and real denoisers."""

import math

import numpy as np
import pytest

from keras_gahb import analysis
from keras_gahb.analysis import oracle
from keras_gahb.metrics import noisy_versions


def _random_orthonormal(d, seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    return q


BASES_8 = {"dct": "dct", "haar": "haar", "full": _random_orthonormal(64, 0),
           "pair": (_random_orthonormal(8, 1), _random_orthonormal(8, 2))}


@pytest.mark.parametrize("n", [1, 2, 8, 16, 20, 80])
def test_dct_and_haar_are_orthonormal(n):
    for matrix in (oracle.dct_matrix(n), oracle.haar_matrix(n)):
        np.testing.assert_allclose(matrix @ matrix.T, np.eye(n), atol=1e-12)


def test_haar_is_full_depth_for_powers_of_two():
    """Full depth: the first row is the constant (one scaling function), every other row has
    mean zero and takes two values +-a on a dyadic support."""
    m = oracle.haar_matrix(16)
    np.testing.assert_allclose(m[0], np.full(16, 0.25))
    np.testing.assert_allclose(m[1:].sum(axis=1), 0, atol=1e-12)
    for row in m[1:]:
        assert len(np.unique(np.round(np.abs(row[row != 0]), 12))) == 1


def test_the_analysis_bases_are_the_ones_gahb_uses():
    from keras_gahb.experiments import gahb_basis

    for name in ("dct_matrix", "haar_matrix"):  # one home: analysis.oracle
        assert getattr(gahb_basis, name, None) in (None, getattr(oracle, name))
    assert gahb_basis.FIXED_BASES == {"DCT": "dct", "Haar": "haar"}


def test_user_bases_are_validated():
    with pytest.raises(ValueError, match="not orthonormal"):
        oracle.orthonormal_basis(2 * np.eye(64), (8, 8, 1))
    with pytest.raises(ValueError, match=r"\(64, 64\)"):
        oracle.orthonormal_basis(np.eye(63), (8, 8, 1))
    with pytest.raises(ValueError, match="not orthonormal"):
        oracle.orthonormal_basis((np.eye(8), np.ones((8, 8))), (8, 8, 1))
    with pytest.raises(ValueError, match="Unknown basis"):
        oracle.orthonormal_basis("fourier", (8, 8, 1))
    with pytest.raises(ValueError, match="pair"):
        oracle.orthonormal_basis((np.eye(8),) * 3, (8, 8, 1))


@pytest.mark.parametrize("name", list(BASES_8))
def test_coefficients_invert_and_keep_the_energy(name):
    basis = BASES_8[name]
    x = np.random.default_rng(3).random((3, 8, 8, 1))
    c = oracle.basis_coefficients(x, basis)
    np.testing.assert_allclose((c**2).sum(axis=1), (x**2).sum(axis=(1, 2, 3)), rtol=1e-10)
    np.testing.assert_allclose(oracle.from_coefficients(c, basis, (8, 8, 1)), x, atol=1e-12)


@pytest.mark.parametrize("name", list(BASES_8))
def test_risk_of_an_image_made_of_k_basis_vectors_is_closed_form(name):
    basis = BASES_8[name]
    d = 64
    amplitudes = np.array([0.9, -0.4, 0.15, 0.05])
    indices = [0, 5, 17, 40]
    c = np.zeros((1, d))
    c[0, indices] = amplitudes
    x = oracle.from_coefficients(c, basis, (8, 8, 1))
    sigmas = [0.01, 0.1, 0.3, 2.0]
    expected = [np.minimum(amplitudes**2, s**2).sum() / d for s in sigmas]
    np.testing.assert_allclose(oracle.oracle_risk(x, sigmas, basis)[0], expected, rtol=1e-9)
    # Keep-or-kill keeps exactly the coefficients above sigma: with no noise it returns them.
    kept = oracle.oracle_projection(x, x, 0.1, basis)
    np.testing.assert_allclose(oracle.basis_coefficients(kept, basis)[0, indices],
                               [0.9, -0.4, 0.15, 0.0], atol=1e-12)


def test_slope_of_large_coefficients_is_one():
    """All coefficients above every sigma: risk = sigma^2 per pixel, slope 1 in sigma^2."""
    c = np.full((2, 64), 5.0)
    x = oracle.from_coefficients(c, "dct", (8, 8, 1))
    sigmas = [0.05, 0.1, 0.2, 0.4]
    np.testing.assert_allclose(oracle.oracle_risk(x, sigmas, "dct"), np.square([sigmas] * 2))
    assert oracle.oracle_slope(x, sigmas, "dct")["slope"] == pytest.approx(1.0)
    np.testing.assert_allclose(oracle.oracle_psnr(x, sigmas, "dct"), -20 * np.log10(sigmas))


@pytest.mark.parametrize("name", ["dct", "haar", "full"])
def test_risk_is_below_keeping_all_and_killing_all(name):
    x = np.random.default_rng(4).random((6, 8, 8, 1))
    sigmas = [0.01, 0.05, 0.2, 0.8]
    risk = oracle.oracle_risk(x, sigmas, BASES_8[name])
    norm = (x**2).sum(axis=(1, 2, 3))[:, None] / 64
    assert np.all(risk <= np.minimum(norm, np.square(sigmas)[None]) + 1e-15)
    assert np.all(np.diff(risk, axis=1) > 0)


def _expected_min(v, s):
    """E min(c^2, s^2) for c ~ N(0, v): v (2 Phi(t) - 1 - 2 t phi(t)) + 2 s^2 (1 - Phi(t))."""
    t = s / math.sqrt(v)
    phi = math.exp(-t * t / 2) / math.sqrt(2 * math.pi)
    cdf = 0.5 * (1 + math.erf(t / math.sqrt(2)))
    return v * (2 * cdf - 1 - 2 * t * phi) + 2 * s * s * (1 - cdf)


def test_expected_risk_of_a_gaussian_diagonal_in_the_dct_basis():
    """Gaussian images with independent DCT coefficients c_k ~ N(0, v_k): the expected oracle
    DCT risk is sum_k E min(c_k^2, s^2) / D, a closed form through the normal CDF."""
    rng = np.random.default_rng(5)
    d, n = 64, 4000
    variances = 0.05 * (1.0 + np.arange(d)) ** -1.5
    c = rng.standard_normal((n, d)) * np.sqrt(variances)
    x = oracle.from_coefficients(c, "dct", (8, 8, 1))
    sigmas = [0.01, 0.03, 0.1]
    risk = oracle.oracle_risk(x, sigmas, "dct")
    for j, s in enumerate(sigmas):
        expected = sum(_expected_min(v, s) for v in variances) / d
        se = risk[:, j].std() / math.sqrt(n)
        assert abs(risk[:, j].mean() - expected) < 4 * se, (s, risk[:, j].mean(), expected)


def test_keep_or_kill_reaches_the_risk_and_thresholding_does_not_beat_it():
    """Keep-or-kill with the clean coefficients has expected MSE = the risk; hard and soft
    thresholding of the noisy coefficients (no oracle) have MSE >= the risk on average."""
    from keras_gahb import data

    x = data.get_images("calpha", 64, 16, seed=0, alpha=2.0, variant="authors").astype(np.float64)
    sigmas = [0.02, 0.08, 0.32]
    for basis in ("dct", "haar"):
        risk = oracle.oracle_risk(x, sigmas, basis)
        for j, (s, y) in enumerate(zip(sigmas, noisy_versions(x, sigmas, seed=1))):
            y = y.astype(np.float64)
            mse = {
                "oracle": ((oracle.oracle_projection(y, x, s, basis) - x) ** 2).mean(axis=(1, 2, 3)),
                **{f"{mode} {t}": ((oracle.threshold_denoise(y, s, basis, t, mode) - x) ** 2)
                   .mean(axis=(1, 2, 3)) for mode in ("hard", "soft") for t in (1.0, 2.0, 3.0)},
            }
            diff = mse["oracle"] - risk[:, j]
            assert abs(diff.mean()) < 4 * diff.std() / math.sqrt(len(diff)) + 1e-12
            for name, values in mse.items():
                if name != "oracle":
                    assert values.mean() >= risk[:, j].mean(), (basis, s, name)
            margin = analysis.oracle_margin(mse["oracle"], risk[:, j])
            assert margin["at_or_below"] == [True]
            assert analysis.oracle_margin(mse["hard 3.0"], risk[:, j])["at_or_below"] == [False]


def test_oracle_margin_numbers():
    mse = np.array([[0.02, 0.04], [0.02, 0.04]])
    risk = np.array([[0.01, 0.04], [0.01, 0.04]])
    margin = analysis.oracle_margin(mse, risk)
    np.testing.assert_allclose(margin["margin_db"], [-10 * math.log10(2), 0.0], atol=1e-12)
    assert margin["at_or_below"] == [False, True]
    assert margin["worst_margin_db"] == pytest.approx(-10 * math.log10(2))
    with pytest.raises(ValueError, match="shape|must both"):
        analysis.oracle_margin(mse, risk[:, :1])
