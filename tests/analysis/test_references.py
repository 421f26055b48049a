"""Reference denoisers against closed forms: Wiener = the Gaussian prior's optimum, limits that
reduce each reference to the empirical optimum or the Wiener filter, and a trained linear network's
r^2 to the Wiener filter."""

import keras
import numpy as np
import pytest

import keras_gahb
from keras_gahb.analysis import (
    EmpiricalOptimalDenoiser,
    GaussianMixtureDenoiser,
    LocalPatchDenoiser,
    PCALocalDenoiser,
    SmoothedEmpiricalDenoiser,
    WienerDenoiser,
    compare_with_references,
    denoise,
    r_squared,
    reference_denoiser,
)


@pytest.fixture(scope="module")
def gaussian():
    prior = keras_gahb.data.GaussianImages(6)
    train = prior.sample(300, seed=0)
    test = prior.sample(8, seed=1)
    noisy = test + 0.2 * np.random.default_rng(2).standard_normal(test.shape).astype(np.float32)
    return prior, train, test, noisy


def test_wiener_with_known_moments_is_the_priors_optimal_denoiser(gaussian):
    prior, train, _, noisy = gaussian
    f = WienerDenoiser(train, 0.2, mean=prior.mean, covariance=prior.covariance())
    np.testing.assert_allclose(denoise(f, noisy), prior.optimal_denoiser(noisy, 0.2), atol=2e-6)
    np.testing.assert_allclose(f.jacobian_eigenvalues().sum(),
                               prior.optimal_mse(0.2) * noisy[0].size / 0.2**2, rtol=1e-6)


def test_fitted_wiener_approaches_the_true_one(gaussian):
    prior, train, _, noisy = gaussian
    assert r_squared(denoise(WienerDenoiser(train, 0.2), noisy), prior.optimal_denoiser(noisy, 0.2)) > 0.9


def test_limits_reduce_references_to_known_denoisers(gaussian):
    _, train, _, noisy = gaussian
    small = train[:40]
    empirical = denoise(EmpiricalOptimalDenoiser(small, sigma=0.2), noisy)
    # One mixture component without ridge is the Wiener filter.
    np.testing.assert_allclose(denoise(GaussianMixtureDenoiser(train, 0.2, num_components=1, ridge=0.0), noisy),
                               denoise(WienerDenoiser(train, 0.2), noisy), atol=1e-5)
    # Zero bandwidth, a whole-image patch at a fixed position, a mask over every pixel: the empirical optimum.
    np.testing.assert_allclose(denoise(SmoothedEmpiricalDenoiser(small, 0.2, bandwidth=0.0), noisy), empirical,
                               atol=1e-6)
    np.testing.assert_allclose(denoise(LocalPatchDenoiser(small, 0.2, patch_size=11, equivariant=False), noisy),
                               empirical, atol=1e-5)
    pca = PCALocalDenoiser(small, 0.2, threshold=1e-12)
    np.testing.assert_allclose(denoise(pca, noisy), empirical, atol=1e-4)


def test_pca_local_compiled_matches_eager_and_its_formula(gaussian):
    _, train, _, noisy = gaussian
    pca = PCALocalDenoiser(train[:40], 0.2)
    assert 0 < pca.masks.mean() < 1  # a real local mask (the all-ones mask is the empirical optimum)
    compiled = denoise(pca, noisy)
    np.testing.assert_allclose(compiled, keras.ops.convert_to_numpy(pca(noisy)), atol=1e-4)
    # f(y)_i = sum_n softmax_n(-||M_i (y - x_n)||^2 / (2 sigma^2)) x_{n,i}, in float64.
    x = train[:40].reshape(40, -1).astype(np.float64)
    y = noisy.reshape(len(noisy), -1).astype(np.float64)
    d2 = np.einsum("ij,bnj->bni", pca.masks, (y[:, None] - x[None]) ** 2)
    w = np.exp(-(d2 - d2.min(1, keepdims=True)) / (2 * 0.2**2))
    expected = (w / w.sum(1, keepdims=True) * x[None]).sum(1)
    np.testing.assert_allclose(compiled.reshape(len(y), -1), expected, atol=1e-4)


def test_empirical_optimum_is_finite_at_tiny_noise_when_compiled(gaussian):
    """Blind weights at sigma ~ 1e-5 reach logits of 1e15; compiled, they must still be a softmax."""
    _, train, _, _ = gaussian
    rng = np.random.default_rng(3)
    noisy = train[:8] + np.float32(1e-5) * rng.standard_normal(train[:8].shape).astype(np.float32)
    out = denoise(EmpiricalOptimalDenoiser(train[:40]), noisy)
    np.testing.assert_allclose(out, train[:8], atol=1e-4)  # each is its own nearest training image


def test_smoothed_reference_matches_its_formula(gaussian):
    _, train, _, noisy = gaussian
    s, sigma = 0.1, 0.2
    flat = train.reshape(len(train), -1).astype(np.float64)
    y = noisy.reshape(len(noisy), -1).astype(np.float64)
    logits = -((y[:, None] - flat[None]) ** 2).sum(-1) / (2 * (sigma**2 + s**2))
    w = np.exp(logits - logits.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    # E[x | y] for x = x_i + s u: x_i + s^2 / (s^2 + sigma^2) (y - x_i), averaged with posterior weights.
    expected = ((w[:, :, None] * (flat[None] + s**2 / (s**2 + sigma**2) * (y[:, None] - flat[None]))).sum(1))
    got = denoise(SmoothedEmpiricalDenoiser(train, sigma, bandwidth=s), noisy)
    np.testing.assert_allclose(got.reshape(len(y), -1), expected, atol=1e-5)


def test_equivariant_patch_denoiser_commutes_with_shifts():
    rng = np.random.default_rng(0)
    train = rng.random((5, 8, 8, 1), dtype=np.float32)
    f = LocalPatchDenoiser(train, 0.1, patch_size=3, padding="constant")
    y = np.zeros((1, 8, 8, 1), np.float32)
    y[0, 2:5, 2:5] = rng.random((3, 3, 1))
    shifted = np.roll(y, (2, 1), axis=(1, 2))
    # Away from the border (the bump stays inside), shifting the input shifts the output.
    np.testing.assert_allclose(np.roll(denoise(f, y), (2, 1), axis=(1, 2))[0, 3:7, 3:7],
                               denoise(f, shifted)[0, 3:7, 3:7], atol=1e-5)


def test_equivariant_patch_subset_is_the_posterior_over_those_patches():
    rng = np.random.default_rng(0)
    train = rng.random((6, 8, 8, 1), dtype=np.float32)
    y = rng.random((2, 8, 8, 1), dtype=np.float32)
    sigma, size, keep_count = 0.2, 3, 100
    f = LocalPatchDenoiser(train, sigma, patch_size=size, max_patches=keep_count, seed=4)
    assert f.num_patches == keep_count
    # Independent: every 3x3 zero-padded patch in numpy, the same subset, the patch posterior per pixel.
    padded = np.pad(train, ((0, 0), (1, 1), (1, 1), (0, 0)))
    every = np.stack([padded[:, 1 + dy:9 + dy, 1 + dx:9 + dx, 0] for dy in (-1, 0, 1) for dx in (-1, 0, 1)], -1)
    keep = np.random.default_rng(4).choice(6 * 64, keep_count, replace=False)
    patches, centres = every.reshape(-1, 9)[keep].astype(np.float64), train.reshape(-1)[keep]
    ypad = np.pad(y, ((0, 0), (1, 1), (1, 1), (0, 0)))
    queries = np.stack([ypad[:, 1 + dy:9 + dy, 1 + dx:9 + dx, 0] for dy in (-1, 0, 1) for dx in (-1, 0, 1)], -1)
    d2 = ((queries.reshape(-1, 1, 9) - patches[None]) ** 2).sum(-1)
    w = np.exp(-(d2 - d2.min(1, keepdims=True)) / (2 * sigma**2))
    expected = (w / w.sum(1, keepdims=True)) @ centres
    np.testing.assert_allclose(denoise(f, y).reshape(-1), expected, atol=1e-5)


def test_reference_errors():
    train = np.random.default_rng(0).random((4, 4, 4, 1), dtype=np.float32)
    with pytest.raises(ValueError, match="Unknown reference"):
        reference_denoiser("nope", train, 0.1)
    with pytest.raises(ValueError, match="sigma"):
        WienerDenoiser(train, 0.0)
    with pytest.raises(ValueError, match="odd"):
        LocalPatchDenoiser(train, 0.1, patch_size=4)
    with pytest.raises(ValueError, match="Expected images"):
        WienerDenoiser(train, 0.1)(np.zeros((1, 5, 5, 1), np.float32))


@pytest.mark.slow
def test_trained_linear_network_is_the_wiener_filter_at_every_sigma():
    """A bias-free linear network trained on Gaussian images: r^2 >= 0.95 to the Wiener filter."""
    prior = keras_gahb.data.GaussianImages(8, mean=0.0)
    train = prior.sample(500, seed=0)
    test = prior.sample(32, seed=1)
    rng = np.random.default_rng(0)
    for sigma in (0.05, 0.15, 0.4):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                  keras.layers.Dense(64, use_bias=False, kernel_initializer="zeros"),
                                  keras.layers.Reshape((8, 8, 1))])
        clean = np.tile(train, (40, 1, 1, 1))
        noisy = clean + np.float32(sigma) * rng.standard_normal(clean.shape).astype(np.float32)
        model.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(1e-2, 8 * 40)), "mse")
        model.fit(noisy, clean, batch_size=500, epochs=8, verbose=0)
        out = compare_with_references(model, train, test, [sigma], references=("wiener", "empirical"))
        assert out["references"]["wiener"]["r2"][0] >= 0.95, (sigma, out)
        assert out["closest"] == ["wiener"]
