import keras
import numpy as np
import pytest

import keras_gahb
from keras_gahb.sampling import counter_normal, noise_scale, sample, step_size
from tests.sampling.denoisers import GaussianSubspacePrior, RecordingDenoiser, shrink_denoiser

SHAPE = (3, 4, 4, 1)


def test_step_schedule():
    assert step_size(1, 0.01) == pytest.approx(0.01)
    h = [step_size(t, 0.01) for t in range(1, 2000)]
    assert np.all(np.diff(h) > 0) and h[-1] < 1 and h[-1] > 0.95
    assert noise_scale(0.3, 1.0) == 0.0
    assert noise_scale(0.3, 0.1) == pytest.approx(np.sqrt(0.97**2 - 0.7**2))


@pytest.mark.slow
@pytest.mark.parametrize("beta", [0.1, 1.0])
def test_gaussian_prior_mean_and_covariance(beta):
    """Samples of the optimal blind denoiser of N(m, U diag(lam) U^T) have that mean, lie on
    the prior's support with uncorrelated coordinates, and have the variances given by the
    sampler's exact moment recursion (0.72-0.75 lam at the paper's h0 = 0.01, beta = 0.1;
    0.88-0.89 lam for beta = 1)."""
    prior = GaussianSubspacePrior(image_shape=(16, 16, 1))
    n = 400
    result = sample(prior, (n,) + prior.image_shape, seed=1, beta=beta)
    assert result.converged.all() and not result.diverged.any()
    coords = prior.coordinates(result.images)
    residual = result.images.reshape(n, -1) - prior.mean - coords @ prior.basis.T
    assert np.abs(residual).max() < 1e-4
    predicted = prior.predicted_variances(beta=beta)
    assert np.all(predicted > 0.7 * prior.lam) and np.all(predicted < prior.lam)
    np.testing.assert_array_less(np.abs(coords.mean(axis=0)), 4 * np.sqrt(prior.lam / n))
    ratio = coords.var(axis=0) / predicted
    assert np.all(np.abs(ratio - 1) < 0.25), ratio  # each: std sqrt(2/n) = 7 %
    assert abs(ratio.mean() - 1) < 0.1, ratio  # beta = 0.1 and 1 predictions differ by 18 %
    corr = np.corrcoef(coords.T)[np.triu_indices(prior.k, 1)]
    assert np.abs(corr).max() < 0.2, corr  # independent coordinates: std 1/sqrt(n) = 0.05


def test_converged_final_sigma_and_output_is_last_denoising():
    c = 0.7
    result = sample(shrink_denoiser(c), SHAPE, seed=0, sigma_final=0.05)
    assert result.converged.all() and not result.diverged.any()
    final = result.final_sigmas
    assert np.all(final <= 0.05)
    assert np.all(result.steps == [len(s) for s in result.sigmas])
    assert np.all([np.all(s[:-1] > 0.05) for s in result.sigmas])
    # images = m + c (x - m) and sigma = (1 - c) ||x - m|| / sqrt(D) for the last iterate x.
    norms = np.sqrt(np.mean((result.images - 0.5) ** 2, axis=(1, 2, 3)))
    np.testing.assert_allclose(norms, c / (1 - c) * final, rtol=1e-4)


def test_deterministic_variant_matches_closed_form():
    c, h0, sigma_final = 0.6, 0.05, 0.02
    result = sample(shrink_denoiser(c), SHAPE, seed=3, beta=1.0, h0=h0, sigma_final=sigma_final)
    for i in range(SHAPE[0]):
        e = result.initial[i].astype(np.float64) - 0.5
        t = 1
        while (1 - c) * np.sqrt(np.mean(e**2)) > sigma_final:
            e = (1 - step_size(t, h0) * (1 - c)) * e
            t += 1
        assert result.steps[i] == t
        np.testing.assert_allclose(result.images[i], 0.5 + c * e, atol=1e-5)


def test_same_seed_same_denoiser_identical():
    model = keras_gahb.models.from_preset("unet_tiny")
    a = sample(model, (2, 8, 8, 1), seed=4, max_steps=6)
    b = sample(model, (2, 8, 8, 1), seed=4, max_steps=6)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.sigma_matrix(), b.sigma_matrix())
    c = sample(model, (2, 8, 8, 1), seed=5, max_steps=6)
    assert np.abs(a.initial - c.initial).max() > 0.1
    assert a.images.shape == (2, 8, 8, 1) and np.all(a.steps <= 6)


def test_two_denoisers_get_identical_initial_images_and_noise():
    seed, beta, max_steps = 11, 0.1, 6
    recorded = {}
    for c in (0.9, 0.6):
        denoiser = RecordingDenoiser(shrink_denoiser(c))
        result = sample(denoiser, SHAPE, seed=seed, beta=beta, max_steps=max_steps,
                        sigma_final=1e-4, compiled=False)
        xs = [x for x in denoiser.inputs if len(x) == SHAPE[0]]  # skip the 1-image shape check
        assert len(xs) == max_steps
        np.testing.assert_array_equal(xs[0], result.initial)
        noises = []
        for t in range(1, max_steps):
            d = (c - 1) * (xs[t - 1] - 0.5)
            sigma = np.sqrt(np.mean(d**2, axis=(1, 2, 3)))[:, None, None, None]
            h = step_size(t, 0.01)
            noises.append((xs[t] - xs[t - 1] - h * d) / (noise_scale(h, beta) * sigma))
        recorded[c] = (xs[0], np.stack(noises))
    np.testing.assert_array_equal(recorded[0.9][0], recorded[0.6][0])
    np.testing.assert_allclose(recorded[0.9][1], recorded[0.6][1], atol=2e-3)
    expected = np.stack([counter_normal(seed, range(3), t, SHAPE[1:]) for t in range(1, max_steps)])
    np.testing.assert_allclose(recorded[0.6][1], expected, atol=2e-3)
    np.testing.assert_allclose(recorded[0.6][0], 0.5 + counter_normal(seed, range(3), 0, SHAPE[1:]),
                               atol=1e-6)


def test_batch_size_does_not_change_results():
    prior = GaussianSubspacePrior()
    full = sample(prior, (5, 8, 8, 1), seed=2, snapshot_every=20)
    parts = sample(prior, (5, 8, 8, 1), seed=2, snapshot_every=20, batch_size=2)
    assert full.converged.all()
    np.testing.assert_allclose(parts.images, full.images, atol=1e-5)
    np.testing.assert_array_equal(parts.steps, full.steps)
    np.testing.assert_array_equal(parts.snapshot_steps, full.snapshot_steps)
    np.testing.assert_allclose(parts.snapshots, full.snapshots, atol=1e-5)


def test_snapshots_are_the_iterates():
    denoiser = RecordingDenoiser(shrink_denoiser(0.8))
    result = sample(denoiser, SHAPE, seed=0, max_steps=7, sigma_final=1e-4, snapshot_every=3,
                    compiled=False)
    xs = [x for x in denoiser.inputs if len(x) == SHAPE[0]]
    assert result.snapshot_steps == [3, 6]
    assert result.snapshots.shape == (2,) + SHAPE
    np.testing.assert_allclose(result.snapshots[0], xs[3], atol=1e-6)  # x_3 is the 4th input
    np.testing.assert_allclose(result.snapshots[1], xs[6], atol=1e-6)


def test_divergence_is_flagged_and_frozen():
    def expanding(y):  # d = 2 (y - 0.5): sigma grows each step
        return 0.5 + 3.0 * (y - 0.5)

    with pytest.warns(RuntimeWarning, match="diverged"):
        result = sample(expanding, SHAPE, seed=0, max_steps=500, h0=0.2)
    assert result.diverged.all() and not result.converged.any()
    assert np.all(result.steps < 500)
    assert np.all(result.final_sigmas > 2.0)
    assert np.all([np.all(s[:-1] <= 2.0) for s in result.sigmas])


def test_non_finite_denoiser_output_is_flagged():
    def broken(y):
        return y * np.float32(np.nan)

    with pytest.warns(RuntimeWarning, match="diverged"):
        result = sample(broken, SHAPE, seed=0)
    assert result.diverged.all() and np.all(result.steps == 1)


def test_max_steps_stops_unconverged_images():
    result = sample(shrink_denoiser(0.5), SHAPE, seed=0, max_steps=4, sigma_final=1e-4)
    assert np.all(result.steps == 4)
    assert not result.converged.any() and not result.diverged.any()
    assert "3 stopped at max_steps" in result.summary()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sigma_final": 1.0}, "sigma_final"),
        ({"sigma_final": 2.0, "sigma0": 1.0}, "sigma_final"),
        ({"sigma_final": 0.0}, "sigma_final"),
        ({"beta": 0.0}, "beta"),
        ({"beta": 1.5}, "beta"),
        ({"h0": 0.0}, "h0"),
        ({"h0": float("nan")}, "h0"),
        ({"max_steps": 0}, "max_steps"),
        ({"snapshot_every": 0}, "snapshot_every"),
        ({"seed": -3}, "seed"),
        ({"mean": np.zeros((5, 5))}, "mean"),
        ({"measurements": np.zeros((3, 4, 4, 1))}, "operator"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sample(shrink_denoiser(0.5), SHAPE, **kwargs)


@pytest.mark.parametrize("shape", [(4, 4, 1), (0, 4, 4, 1), (2, 4, 4, 1, 1), "abc"])
def test_bad_shapes(shape):
    with pytest.raises(ValueError, match="shape"):
        sample(shrink_denoiser(0.5), shape)


def test_denoiser_with_wrong_output_shape():
    with pytest.raises(ValueError, match="returned shape"):
        sample(lambda y: keras.ops.concatenate([y, y], axis=-1), SHAPE)


def test_model_with_wrong_channels():
    model = keras_gahb.models.from_preset("unet_tiny", image_channels=3)
    with pytest.raises(ValueError, match="channel"):
        sample(model, (1, 8, 8, 1), max_steps=2)


def test_not_a_denoiser():
    with pytest.raises(ValueError, match="callable"):
        sample("model.keras", SHAPE)


def test_noise_floor_stops_at_the_lowest_sigma():
    """A denoiser with an error floor of 0.05 cannot reach sigma_final = 0.01: without the floor
    rule the loop runs to max_steps; with it every image stops at its lowest sigma_t, which is
    the floor (sigma_t^2 = (1 - c)^2 ||x - m||^2 / D + floor^2): outcome "floor", not converged."""
    from tests.sampling.denoisers import NoisyFloorDenoiser

    shape, floor = (4, 16, 16, 1), 0.05
    plain = sample(NoisyFloorDenoiser(floor=floor), shape, seed=0, max_steps=200,
                   floor_factor=None, compiled=False)
    assert not plain.converged.any() and not plain.diverged.any() and not plain.at_floor.any()
    assert np.all(plain.steps == 200)
    assert np.all(plain.sigma_matrix()[:, 100:] > 0.8 * floor)  # the floor is real

    result = sample(NoisyFloorDenoiser(floor=floor), shape, seed=0, max_steps=200,
                    compiled=False)
    assert result.at_floor.all() and not result.converged.any() and not result.diverged.any()
    assert np.all(result.steps < 200)
    for trajectory, steps in zip(result.sigmas, result.steps):
        # Stopped at the first step where the schedule, since the lowest sigma_t, should have
        # halved the noise: prod over s of (1 - beta h_s) <= 1 / 2 (beta = 0.1, h0 = 0.01).
        lowest = int(np.argmin(trajectory)) + 1  # the step t of the minimum
        shrink = np.cumprod([1 - 0.1 * step_size(t, 0.01) for t in range(lowest + 1, 201)])
        assert steps == lowest + 1 + int(np.argmax(shrink <= 0.5))
    np.testing.assert_allclose(result.final_sigmas, [np.min(s) for s in result.sigmas])
    # sigma_t^2 >= floor^2 (up to the 4 % noise of a 256-pixel estimate); at h -> 1 the
    # stationary iterate gives sigma^2 = (1 + 0.83) floor^2 for c = 0.5, beta = 0.1.
    assert np.all(result.final_sigmas > 0.9 * floor)
    assert np.all(result.final_sigmas < 1.4 * floor)
    # The output is the denoising at the lowest sigma: m + c (x - m) + floor xi with
    # ||x - m|| small there, so its spread is about the floor (not the noise of x_0).
    spread = np.sqrt(np.mean((result.images - 0.5) ** 2, axis=(1, 2, 3)))
    assert np.all(spread < 3 * floor)
    assert "0 reached sigma_final 0.01, 4 stopped at the denoiser's noise floor" in result.summary()


def test_floor_rule_leaves_the_paper_loop_unchanged_when_sigma_final_is_reached():
    prior = GaussianSubspacePrior(image_shape=(8, 8, 1))
    kwargs = dict(shape=(6, 8, 8, 1), seed=2, sigma_final=0.01)
    with_rule = sample(prior, **kwargs)
    without = sample(prior, floor_factor=None, **kwargs)
    assert with_rule.converged.all() and not with_rule.at_floor.any()
    np.testing.assert_array_equal(with_rule.images, without.images)
    np.testing.assert_array_equal(with_rule.steps, without.steps)


@pytest.mark.parametrize("value", [1.0, 0.5, -1, float("inf"), True, "2"])
def test_floor_factor_must_exceed_one(value):
    with pytest.raises(ValueError, match="floor_factor"):
        sample(shrink_denoiser(0.5), SHAPE, floor_factor=value)
