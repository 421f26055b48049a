"""Sample realism and the smoothness-matched baseline, against closed forms and known cases."""

import numpy as np
import pytest

from keras_gahb import analysis, data


@pytest.fixture(scope="module")
def calpha():
    """The quick scale's images (authors' C^alpha generator, alpha = 2, 16x16): 400 training,
    400 reference (an "S2"), 64 test."""
    pool = data.get_images("calpha", 864, 16, seed=0, alpha=2.0, variant="authors")
    return pool[:400], pool[400:800], pool[800:]


def test_white_noise_has_gradient_ratio_four_and_a_flat_spectrum():
    """For i.i.d. pixels E (x_p - x_q)^2 = 2 var per direction: r = 4; every frequency carries
    the same expected power, 1 / D of the total (a window does not change a flat spectrum)."""
    noise = np.random.default_rng(0).random((128, 32, 32, 1))
    ratio = analysis.gradient_energy_ratio(noise)
    assert abs(ratio.mean() - 4.0) < 0.03 and ratio.std() < 0.2
    spectrum = analysis.radial_power_spectrum(noise)
    assert spectrum["modes"].sum() <= 32 * 32 - 1 and np.all(spectrum["modes"] > 0)
    # Each mode's power is exponential (sd = mean): the mean over images and modes has
    # relative sd 1 / sqrt(128 modes); 4 sd plus 3 % for the window's DC leakage.
    tolerance = 4 / np.sqrt(128 * spectrum["modes"]) + 0.03
    assert np.all(np.abs(spectrum["power"] * 32 * 32 - 1) < tolerance), spectrum["power"] * 1024
    assert np.all(np.diff(spectrum["frequencies"]) > 0) and spectrum["frequencies"][-1] < 0.5


@pytest.mark.parametrize("blur", [1.0, 2.0])
def test_blurred_white_noise_matches_the_kernel_autocorrelation(blur):
    """White noise through a sampled Gaussian kernel g: neighbouring pixels correlate
    rho_1 = sum g_k g_(k+1) / sum g_k^2 (kernel built here by hand), so r = 4 (1 - rho_1)
    away from the edges (the interior is cropped)."""
    noise = np.random.default_rng(1).standard_normal((4, 288, 288, 1))
    k = np.arange(-int(4 * blur + 0.5), int(4 * blur + 0.5) + 1)
    g = np.exp(-k**2 / (2 * blur**2))
    rho = np.sum(g[:-1] * g[1:]) / np.sum(g**2)
    blurred = analysis.gaussian_blur(noise, blur)[:, 16:-16, 16:-16]
    np.testing.assert_allclose(analysis.gradient_energy_ratio(blurred).mean(), 4 * (1 - rho),
                               rtol=0.01)


def test_spectrum_of_blurred_white_noise_follows_the_blur_transfer_function():
    """A Gaussian blur multiplies the power at frequency f by exp(-(2 pi f sigma)^2); the
    spectra are normalized, so the log ratio matches it up to a constant, here within 0.15
    decades up to 0.4 cycles per pixel (a 1.9-decade fall)."""
    noise = np.random.default_rng(4).random((64, 64, 64, 1))
    sharp = analysis.radial_power_spectrum(noise)
    smooth = analysis.radial_power_spectrum(analysis.gaussian_blur(noise, 1.0))
    f = sharp["frequencies"]
    measured = np.log10(smooth["power"] / sharp["power"])
    expected = np.log10(np.exp(-(2 * np.pi * f) ** 2))
    keep = f < 0.4
    offset = np.mean(measured[keep] - expected[keep])
    assert np.abs(measured[keep] - expected[keep] - offset).max() < 0.15


def test_gradient_ratio_ignores_scale_and_offset_and_flags_constant_images(calpha):
    x = calpha[2][:4]
    np.testing.assert_allclose(analysis.gradient_energy_ratio(3.0 * x - 1.0),
                               analysis.gradient_energy_ratio(x), rtol=1e-6)  # float32 input
    assert np.isnan(analysis.gradient_energy_ratio(np.full((1, 8, 8, 1), 0.5)))[0]
    with pytest.raises(ValueError, match="2x2"):
        analysis.gradient_energy_ratio(np.zeros((2, 1, 8, 1)))


def test_realism_of_data_blur_and_noise(calpha):
    """Data against other data is data-like (ratio 1, no high-frequency deficit); blurred data
    is smoother with a high-frequency deficit; white noise is far rougher."""
    train, reference, test = calpha
    same = analysis.sample_realism(train, reference)
    assert abs(same["smoothness_ratio"] - 1) < 0.05 and abs(same["high_frequency_log_ratio"]) < 0.05
    assert same["spectral_distance"] < 0.05
    blurred = analysis.sample_realism(analysis.gaussian_blur(train, 1.0), reference)
    assert blurred["smoothness_ratio"] < 0.6 and blurred["high_frequency_log_ratio"] < -0.3
    # A Gaussian blur multiplies the spectrum by exp(-(2 pi f sigma)^2): at the top bin it is
    # the largest deficit, and the low band is nearly untouched (power is renormalized).
    assert blurred["spectrum_log_ratio"][-1] == np.nanmin(blurred["spectrum_log_ratio"])
    noise = np.random.default_rng(2).random(test.shape)
    rough = analysis.sample_realism(noise, reference)
    assert rough["smoothness_ratio"] > 8 and rough["high_frequency_log_ratio"] > 0.5
    with pytest.raises(ValueError, match="differ in shape"):
        analysis.sample_realism(train[:, :8, :8], reference)


def test_blur_to_match_recovers_a_known_blur(calpha):
    _, _, test = calpha
    target = analysis.gradient_energy_ratio(analysis.gaussian_blur(test, 0.7)).mean()
    found = analysis.blur_to_match(test, target)
    assert found["sigma"] == pytest.approx(0.7, abs=0.01)
    assert found["ratio"] == pytest.approx(target, rel=2e-3)
    sharper = analysis.blur_to_match(test, 1.1 * analysis.gradient_energy_ratio(test).mean())
    assert sharper["sigma"] == 0.0  # a blur cannot make images rougher
    with pytest.raises(ValueError, match="positive"):
        analysis.blur_to_match(test, 0.0)
    with pytest.raises(ValueError, match=">= 0"):
        analysis.gaussian_blur(test, -1.0)


def test_smooth_nearest_neighbour_pairs_do_not_pass_as_agreement(calpha):
    """Samples that are blurred data images, paired with the blurred closest image of another
    set (as related as nearest neighbours, no more), beat the old baseline (their own
    correlation with their closest sharp training image) by being smooth; the matched
    baseline (data at the samples' smoothness) sees through it."""
    train, reference, test = calpha
    partner = reference[analysis.nearest_neighbors(test, reference)["indices"][:, 0]]
    a, b = analysis.gaussian_blur(test, 1.2), analysis.gaussian_blur(partner, 1.2)
    out = analysis.matched_agreement(a, b, test, train)
    own = 0.5 * (analysis.nearest_neighbors(a, train)["scores"][:, 0]
                 + analysis.nearest_neighbors(b, train)["scores"][:, 0])
    assert out["agreement"] > own.mean()  # the old comparison passes...
    assert not out["above_baseline"]  # ...the matched one does not
    assert out["margin"] < 0 < out["margin_se"]
    base = out["matched_baseline"]
    assert base["blur_sigma"] > 1.0 and base["achieved_ratio"] == pytest.approx(out["sample_ratio"],
                                                                                rel=2e-3)
    assert base["sharp_mean"] < base["one_sided_mean"] < base["matched_mean"]  # blur raises it


def test_genuinely_agreeing_samples_pass_at_any_smoothness(calpha):
    """Two sets drawn as the same new images with small independent differences agree far
    above the matched baseline, sharp or smooth."""
    train, _, test = calpha
    rng = np.random.default_rng(3)
    for blur in (0.0, 1.0):
        common = analysis.gaussian_blur(test, blur)
        a = common + 0.02 * rng.standard_normal(test.shape)
        b = common + 0.02 * rng.standard_normal(test.shape)
        out = analysis.matched_agreement(a, b, test, train)
        assert out["above_baseline"] and out["margin"] > 0.05, out["margin"]


def test_matched_agreement_needs_paired_samples(calpha):
    train, _, test = calpha
    with pytest.raises(ValueError, match="paired"):
        analysis.matched_agreement(test[:3], test[:4], test, train)
    one = analysis.matched_agreement(test[:1], test[:1], test, train)
    assert not one["above_baseline"] and np.isnan(one["margin_se"])  # one pair: no error bar
