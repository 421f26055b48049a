"""Measures against independent truths: closed forms, brute force, known statistics."""

import numpy as np
import pytest

from keras_gahb import analysis
from keras_gahb.data import GaussianImages


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((6, 8, 8, 1), dtype=np.float32)


def test_psnr_curve_of_zero_denoiser(images):
    curve = analysis.psnr_curve(lambda y: 0 * y, images, [0.1, 0.2], seed=0)
    np.testing.assert_allclose(curve["input_psnr"], [20.0, -10 * np.log10(0.04)])
    # keras_gahb.metrics' convention: the mean over images of the per-image PSNR.
    expected = np.mean(-10 * np.log10(np.mean(images.astype(np.float64) ** 2, axis=(1, 2, 3))))
    np.testing.assert_allclose(curve["output_psnr"], [expected, expected], rtol=1e-6)


def test_psnr_curve_of_identity_is_input_psnr():
    x = np.full((64, 16, 16, 1), 0.5, np.float32)
    curve = analysis.psnr_curve(lambda y: y, x, [0.05, 0.2], seed=1)
    # MSE_i = sigma^2 chi2_D / D per image (D = 256 pixels), so with keras_gahb.metrics'
    # convention (mean over images of the per-image PSNR) the expected output PSNR is
    # -10 log10(sigma^2) - 10 E[log10(chi2_D / D)] = input PSNR + (10 / ln 10)(ln(D/2) - psi(D/2)).
    from scipy.special import digamma

    d = 16 * 16
    expected = curve["input_psnr"] + 10 / np.log(10) * (np.log(d / 2) - digamma(d / 2))
    np.testing.assert_allclose(curve["output_psnr"], expected, atol=0.05)


def test_train_test_gap_of_memorizing_denoiser(images):
    f = analysis.EmpiricalOptimalDenoiser(images[:4])
    train = analysis.psnr_curve(f, images[:4], [0.05], seed=0)
    test = analysis.psnr_curve(f, images[4:], [0.05], seed=0)
    assert analysis.train_test_gap(train, test)[0] > 10  # memorization: train >> test


def test_mse_slope_of_power_law_is_exact():
    sigmas = np.geomspace(0.01, 0.3, 6)
    fit = analysis.mse_slope(sigmas, 3.0 * (sigmas**2) ** 0.75)
    assert fit["slope"] == pytest.approx(0.75, abs=1e-10)
    assert fit["ci_low"] - 1e-9 <= 0.75 <= fit["ci_high"] + 1e-9
    assert fit["intercept"] == pytest.approx(np.log(3.0))


def test_mse_slope_of_gaussian_optimal_denoiser_matches_analytic():
    prior = GaussianImages(16, spectrum_exponent=3.0, std=0.2)
    x = prior.sample(200, seed=0)
    sigmas = np.geomspace(0.02, 0.2, 6)
    z = np.random.default_rng(1).standard_normal(x.shape).astype(np.float32)
    mse = np.stack(
        [np.mean((prior.optimal_denoiser(x + s * z, s) - x) ** 2, axis=(1, 2, 3)) for s in sigmas], axis=1
    )
    fit = analysis.mse_slope(sigmas, mse, num_bootstrap=300, seed=0)
    analytic = analysis.mse_slope(sigmas, prior.optimal_mse(sigmas))["slope"]
    assert fit["method"] == "bootstrap"
    assert fit["ci_low"] - 0.01 <= analytic <= fit["ci_high"] + 0.01
    assert abs(fit["slope"] - analytic) < 0.02


def test_cosine_similarity_and_correlation(images):
    a = images.reshape(6, -1)
    np.testing.assert_allclose(analysis.cosine_similarity(images, images), np.ones(6), atol=1e-12)
    np.testing.assert_allclose(analysis.cosine_similarity(images, -images), -np.ones(6), atol=1e-12)
    b = images[::-1]
    expected = [np.corrcoef(a[i], b.reshape(6, -1)[i])[0, 1] for i in range(6)]
    np.testing.assert_allclose(analysis.cosine_similarity(images, b, mean_removed=True), expected, atol=1e-10)


@pytest.mark.parametrize("metric", ["l2", "correlation", "cosine"])
def test_nearest_neighbors_brute_force(metric):
    rng = np.random.default_rng(2)
    samples = rng.random((5, 4, 4, 1))
    train = rng.random((23, 4, 4, 1))
    result = analysis.nearest_neighbors(samples, train, metric=metric, k=3, batch_size=4)
    s, t = samples.reshape(5, -1), train.reshape(23, -1)
    for i in range(5):
        if metric == "l2":
            scores = np.linalg.norm(t - s[i], axis=1)
            order = np.argsort(scores)
        else:
            if metric == "correlation":
                scores = np.array([np.corrcoef(s[i], row)[0, 1] for row in t])
            else:
                scores = t @ s[i] / np.linalg.norm(t, axis=1) / np.linalg.norm(s[i])
            order = np.argsort(-scores)
        np.testing.assert_array_equal(result["indices"][i], order[:3])
        np.testing.assert_allclose(result["scores"][i], scores[order[:3]], atol=1e-9)


def test_memorization_ratio():
    rng = np.random.default_rng(3)
    train = rng.random((10, 8, 8, 1))
    copies = train[:4] + 0.001 * rng.standard_normal((4, 8, 8, 1))
    fresh = rng.random((4, 8, 8, 1))
    result = analysis.memorization_ratio(np.concatenate([copies, fresh]), train)
    np.testing.assert_array_equal(result["memorized"], [True] * 4 + [False] * 4)
    assert result["ratio"] == 0.5
    np.testing.assert_array_equal(result["nearest"][:4], np.arange(4))


def test_scale_invariant_memorization_ratio_counts_scaled_copies():
    rng = np.random.default_rng(4)
    train = rng.random((10, 8, 8, 1))
    scaled = train[:4] * np.array([0.5, 0.8, 1.3, 2.0])[:, None, None, None]
    fresh = rng.random((4, 8, 8, 1))
    samples = np.concatenate([scaled, fresh])
    plain = analysis.memorization_ratio(samples, train)
    ray = analysis.memorization_ratio(samples, train, scale_invariant=True)
    # Scaled copies are far from x_i in L2 but on the ray {a x_i}: distance 0.
    assert not plain["memorized"][[0, 3]].any()
    np.testing.assert_array_equal(ray["memorized"], [True] * 4 + [False] * 4)
    np.testing.assert_array_equal(ray["nearest"][:4], np.arange(4))
    # The ray distance equals min_a ||s - a x|| computed by brute force over a grid of a.
    nn = analysis.nearest_neighbors(fresh, train, metric="ray", k=1)
    grid = np.linspace(0, 3, 30001)
    for s, index, score in zip(fresh, nn["indices"][:, 0], nn["scores"][:, 0]):
        best = min(np.linalg.norm(s.ravel() - a * t.ravel()) for t in train
                   for a in [max(float(s.ravel() @ t.ravel()) / float(t.ravel() @ t.ravel()), 0)])
        brute = np.min(np.linalg.norm(s.ravel()[None] - grid[:, None] * train[index].ravel()[None],
                                      axis=1))
        np.testing.assert_allclose(score, best, rtol=1e-9)
        np.testing.assert_allclose(score, brute, rtol=1e-6)


def test_relative_model_variance():
    x = np.full((16, 16, 16, 1), 0.5, np.float32)
    same = analysis.relative_model_variance(lambda y: y, lambda y: y, x, [0.1], seed=0)
    np.testing.assert_allclose(same, [0.0])
    # f2 = f1 + c: ratio = c^2 / (sigma^2 mean z^2) ~ c^2 / sigma^2.
    shifted = analysis.relative_model_variance(lambda y: y, lambda y: y + 0.05, x, [0.1, 0.2], seed=0)
    np.testing.assert_allclose(shifted, [0.25, 0.0625], rtol=0.03)


def test_kl_bound_integral():
    sigmas = np.linspace(0.1, 1.0, 2001)
    # (MSE_theta - MSE*) = 2 s^4  ->  int 2 s ds = 1 - 0.01.
    bound = analysis.kl_bound(sigmas, 1.0 + 2 * sigmas**4, np.ones_like(sigmas))
    assert bound == pytest.approx(0.99, rel=1e-6)
    assert analysis.kl_bound(sigmas, sigmas**2, sigmas**2, num_pixels=100) == 0.0


def test_empirical_optimal_denoiser_matches_direct_formula(images):
    train = images[:5]
    sigma = 0.3
    f = analysis.empirical_optimal_denoiser(train, sigma=sigma)
    y = images[3:] + 0.3 * np.random.default_rng(4).standard_normal(images[3:].shape).astype(np.float32)
    out = np.asarray(analysis.denoise(f, y), np.float64)
    t = train.reshape(5, -1).astype(np.float64)
    for b, row in enumerate(y.reshape(len(y), -1).astype(np.float64)):
        logw = np.array([-np.sum((row - ti) ** 2) / (2 * sigma**2) for ti in t])
        w = np.exp(logw - logw.max())
        w /= w.sum()
        np.testing.assert_allclose(out[b].ravel(), w @ t, atol=1e-5)
    # Stable at tiny sigma: no NaN, returns the nearest training image.
    tiny = analysis.empirical_optimal_denoiser(train, sigma=1e-4)
    np.testing.assert_allclose(analysis.denoise(tiny, train + 1e-5), train, atol=1e-5)
    # Blind version: sigma estimated from the nearest training image.
    blind = analysis.empirical_optimal_denoiser(train)
    np.testing.assert_allclose(analysis.denoise(blind, train[:2] + 0.01), train[:2], atol=1e-4)


def test_empirical_optimal_jacobian_is_posterior_covariance(images):
    train, sigma = images[:5], 0.5
    f = analysis.EmpiricalOptimalDenoiser(train, sigma=sigma)
    y = images[5:6] + 0.1
    J = analysis.jacobian(f, y)[0]
    w = f.weights(y)[0].astype(np.float64)
    t = train.reshape(5, -1).astype(np.float64)
    mean = w @ t
    cov = (t * w[:, None]).T @ t - np.outer(mean, mean)
    np.testing.assert_allclose(J, cov / sigma**2, atol=2e-4)


def test_bad_inputs(images):
    with pytest.raises(ValueError, match="positive"):
        analysis.psnr_curve(lambda y: y, images, [0.1, -1.0])
    with pytest.raises(ValueError, match="at least 3"):
        analysis.mse_slope([0.1, 0.2], [0.01, 0.02])
    with pytest.raises(ValueError, match="finite and positive"):
        analysis.mse_slope([0.1, 0.2, 0.3], [0.01, 0.0, 0.02])
    with pytest.raises(ValueError, match="metric"):
        analysis.nearest_neighbors(images, images, metric="ssim")
    with pytest.raises(ValueError, match="at least 2"):
        analysis.memorization_ratio(images, images[:1])
    with pytest.raises(ValueError, match="increasing"):
        analysis.kl_bound([0.2, 0.1, 0.3], [1, 1, 1], [1, 1, 1])
    with pytest.raises(ValueError, match="one image"):
        analysis.psnr_curve(lambda y: y, images[0], [0.1])
    with pytest.raises(ValueError, match="sigma"):
        analysis.EmpiricalOptimalDenoiser(images, sigma=-1.0)
