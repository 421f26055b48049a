"""The C^alpha checks both ways: oracle denoisers pass, the identity and a blur fail; the slope
checks apply only at 80x80 over the paper's window."""

import numpy as np
import pytest

from keras_gahb import analysis, data
from keras_gahb.experiments import config_for_scale
from keras_gahb.experiments.calpha import (
    PAPER_SLOPE_SIGMAS,
    calpha_checks,
    calpha_fit,
    slope_check_applies,
)
from keras_gahb.experiments.reproduction_config import PAPER_CALPHA_SLOPES
from keras_gahb.metrics import noisy_versions

NUM_IMAGES = 48


def _images(alpha, size=16, n=NUM_IMAGES):
    return data.get_images("calpha", n, size, seed=0, alpha=alpha, variant="authors").astype(
        np.float64)


def _mse(images, sigmas, denoise, seed=0):
    """Per-image MSE (n, m) of a numpy denoiser denoise(y, x, sigma) on the evaluation noise."""
    return np.stack([((denoise(y.astype(np.float64), images, s) - images) ** 2).mean(axis=(1, 2, 3))
                     for s, y in zip(sigmas, noisy_versions(images, sigmas, seed))], axis=1)


def _oracle_dct(y, x, s):
    return analysis.oracle_projection(y, x, s, "dct")


def _best_basis_oracle(y, x, s):
    """Keep-or-kill in whichever of DCT and Haar has the lower risk for this image (clean known)."""
    pick_haar = (analysis.oracle_risk(x, [s], "haar") < analysis.oracle_risk(x, [s], "dct"))[:, 0]
    out = analysis.oracle_projection(y, x, s, "dct")
    out[pick_haar] = analysis.oracle_projection(y, x, s, "haar")[pick_haar]
    return out


def _identity(y, x, s):
    return y


def _blur(y, x, s):
    return analysis.gaussian_blur(y, 2.0)


def _checks(config, denoise, alphas):
    sigmas = list(config.slope_sigmas)
    fits = {}
    for alpha in alphas:
        images = _images(alpha, config.image_size, 8 if config.image_size >= 80 else NUM_IMAGES)
        fits[f"{alpha:g}"] = calpha_fit(sigmas, _mse(images, sigmas, denoise), images, alpha,
                                         paper=PAPER_CALPHA_SLOPES.get(float(alpha)))
    return fits, {c["claim"].split(":")[0].split(" at every")[0]: c
                  for c in calpha_checks(config, fits)}


def _oracle_rows(checks):
    return [c for claim, c in checks.items() if claim.startswith("MSE at or below the oracle")]


def test_the_oracle_dct_denoiser_passes_where_dct_is_the_better_basis():
    config = config_for_scale("quick")
    # alpha = 2 at 16x16: the oracle DCT risk is below the Haar one at every sigma of the window.
    images = _images(2.0)
    sigmas = list(config.slope_sigmas)
    assert np.all(analysis.oracle_psnr(images, sigmas, "dct")
                  > analysis.oracle_psnr(images, sigmas, "haar"))
    _, checks = _checks(config, _oracle_dct, [2.0])
    rows = _oracle_rows(checks)
    assert len(rows) == 2 and all(c["passed"] and c["applicable"] for c in rows), rows
    assert all(c["distance"] is None for c in rows)
    identity_row = next(c for claim, c in checks.items() if "never worse" in claim)
    assert identity_row["passed"]


def test_an_oracle_passes_every_alpha_and_identity_and_blur_fail():
    config = config_for_scale("quick")
    alphas = config.calpha_alphas
    _, checks = _checks(config, _best_basis_oracle, alphas)
    assert all(c["passed"] for c in _oracle_rows(checks)), _oracle_rows(checks)
    for bad in (_identity, _blur):
        _, checks = _checks(config, bad, alphas)
        rows = _oracle_rows(checks)
        assert rows and not any(c["passed"] for c in rows), rows
        for row in rows:  # the distance is the worst margin in dB, negative for a failure
            assert row["applicable"] and row["distance"].endswith(tuple(f"alpha {a:g}"
                                                                        for a in alphas))
            assert float(row["distance"].split(" dB")[0]) < 0
    # A strong blur is worse than the identity at small sigma.
    _, checks = _checks(config, _blur, alphas)
    assert not next(c for claim, c in checks.items() if "never worse" in claim)["passed"]


def test_slope_checks_are_information_at_16x16_with_the_oracle_slopes_beside():
    config = config_for_scale("quick")
    assert not slope_check_applies(config)
    fits, checks = _checks(config, _best_basis_oracle, config.calpha_alphas)
    slope_rows = [c for claim, c in checks.items() if "slope" in claim]
    assert len(slope_rows) == 3  # grows with alpha, alpha/(alpha+1), the paper's
    for row in slope_rows:
        assert not row["applicable"] and row["distance"] is None
        assert row["reason"].startswith("asymptotic rate; at 16x16 the oracle DCT slopes are ")
        dct = "/".join(f"{fits[a]['oracle']['dct']['slope']:.2f}" for a in fits)
        assert dct in row["reason"]
    optimal = next(c for c in slope_rows if "alpha/(alpha+1)" in c["claim"])
    assert "oracle DCT" in optimal["value"] and "Haar" in optimal["value"]
    # The oracle slopes are flat in alpha at this size (the reason the check does not apply).
    slopes = [fits[a]["oracle"]["dct"]["slope"] for a in fits]
    assert max(slopes) - min(slopes) < 0.1


def test_slope_checks_apply_at_80x80_over_the_papers_window():
    config = config_for_scale("quick", image_size=80, slope_sigmas=PAPER_SLOPE_SIGMAS)
    assert slope_check_applies(config)
    assert not slope_check_applies(config_for_scale("quick", image_size=80))
    _, checks = _checks(config, _oracle_dct, (1.0, 5.0))
    slope_rows = [c for claim, c in checks.items() if "slope" in claim]
    assert slope_rows and all(c["applicable"] for c in slope_rows)
    # The oracle DCT's slope is flat in alpha (about 0.57): far from 5/6 at alpha = 5.
    optimal = next(c for c in slope_rows if "alpha/(alpha+1)" in c["claim"])
    assert not optimal["passed"] and optimal["distance"].endswith("alpha 5")


def test_fit_numbers_are_the_oracle_functions():
    config = config_for_scale("quick")
    images = _images(3.0, n=16)
    sigmas = list(config.slope_sigmas)
    fit = calpha_fit(sigmas, _mse(images, sigmas, _identity), images, 3.0)
    for basis in ("dct", "haar"):
        np.testing.assert_allclose(fit["oracle"][basis]["psnr"],
                                   analysis.oracle_psnr(images, sigmas, basis))
        assert fit["oracle"][basis]["slope"] == pytest.approx(
            analysis.oracle_slope(images, sigmas, basis)["slope"])
    np.testing.assert_allclose(fit["input_psnr"], -20 * np.log10(sigmas))
    assert fit["optimal"] == pytest.approx(0.75)
