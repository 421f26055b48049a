"""The transition's "at least the identity" check both ways, against closed forms: the identity
itself sits exactly at 0 dB, the Wiener filter of a white Gaussian prior beats the input by
10 log10((v + sigma^2) / v), and a denoiser that returns zero loses at small sigma."""

import numpy as np
import pytest

from keras_gahb.experiments.transition import _identity_check, identity_margins

SIGMAS = (0.02, 0.04, 0.08, 0.16, 0.32)
VARIANCE = 0.01  # per-pixel variance of the white Gaussian test images


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).normal(0.0, np.sqrt(VARIANCE), (400, 8, 8, 1))


def _wiener():
    """Wiener filter of N(0, v I) for the noise level of each call (sigma read from the call)."""
    def denoise(y, sigma):
        return y * VARIANCE / (VARIANCE + sigma**2)
    return denoise


def _margins(images, by_sigma):
    """identity_margins for denoisers that get sigma: one margin dict per sigma, merged."""
    merged = {"sigmas": list(SIGMAS)}
    for name in ("s1", "s2"):
        rows = [identity_margins({name: lambda y, s=s: by_sigma(y, s)}, images,
                                 [s], seed=1)[name] for s in SIGMAS]
        merged[name] = {key: [r[key][0] for r in rows]
                        for key in ("mse", "risk", "difference", "se", "margin_db", "at_or_below")}
    return merged


def test_the_identity_is_exactly_at_the_identity(images):
    margins = identity_margins({"s1": lambda y: y, "s2": lambda y: y}, images, SIGMAS, seed=1)
    for name in ("s1", "s2"):
        np.testing.assert_allclose(margins[name]["margin_db"], 0.0, atol=1e-9)
        assert all(margins[name]["at_or_below"])
    check = _identity_check(10_000, {"identity_margin": margins})
    assert check["passed"] and check["applicable"] and check["scope"] == "largest N"
    assert check["distance"] is None and "+0.00 dB" in check["reason"]  # kept only on failure


def test_the_wiener_filter_passes_by_its_closed_form_margin(images):
    margins = _margins(images, _wiener())
    expected = 10 * np.log10((VARIANCE + np.asarray(SIGMAS) ** 2) / VARIANCE)
    for name in ("s1", "s2"):
        # Sampling error over 400 images x 64 pixels: a few percent of the MSE.
        np.testing.assert_allclose(margins[name]["margin_db"], expected, atol=0.25)
    check = _identity_check(10_000, {"identity_margin": margins})
    assert check["passed"], check
    assert "never worse" in check["reason"]


def test_returning_zero_fails_at_small_sigma_with_its_distance(images):
    # MSE of f(y) = 0 is the image energy v = 0.01 > sigma^2 for sigma < 0.1: 10 log10(s^2 / v).
    margins = identity_margins({"s1": lambda y: 0 * y, "s2": lambda y: y}, images, SIGMAS, seed=1)
    expected = 10 * np.log10(np.asarray(SIGMAS) ** 2 / VARIANCE)
    np.testing.assert_allclose(margins["s1"]["margin_db"], expected, atol=0.25)
    check = _identity_check(10_000, {"identity_margin": margins})
    assert not check["passed"]
    assert "S1 at sigma 0.02" in check["reason"] and "worse than returning" in check["reason"]
    assert float(check["distance"].split()[0]) == pytest.approx(expected[0], abs=0.25)


def test_an_untrained_denoiser_fails_even_at_the_identity(images):
    margins = identity_margins({"s1": lambda y: y, "s2": lambda y: y}, images, SIGMAS, seed=1)
    check = _identity_check(10_000, {"identity_margin": margins}, trained=False,
                            not_trained="the N=10000 denoisers are not trained",
                            untrained_note=" [FAILS: not trained]")
    assert not check["passed"]
    assert check["reason"] == "the N=10000 denoisers are not trained"
    assert check["value"].endswith("[FAILS: not trained]")
