"""Sampler outcomes apart: reached sigma_final, stopped at the noise floor, diverged, max_steps.

Each outcome is produced by a denoiser whose behaviour is known in closed form
(tests/sampling/denoisers.py), and the four are disjoint and cover every image.
"""

import re

import numpy as np
import pytest

from keras_gahb.sampling import OUTCOMES, SampleResult, clean_image_floor, sample
from tests.sampling.denoisers import (
    BiasFloorDenoiser,
    GaussianSubspacePrior,
    expanding_denoiser,
    shrink_denoiser,
)

SHAPE = (4, 16, 16, 1)


def _assert_one_outcome(result, expected):
    counts = result.outcome_counts()
    assert list(counts) == list(OUTCOMES)
    assert counts == {name: SHAPE[0] if name == expected else 0 for name in OUTCOMES}, counts
    flags = np.stack([result.converged, result.at_floor, result.diverged, result.hit_max_steps])
    assert np.all(flags.sum(axis=0) == 1)  # disjoint and complete
    assert list(result.outcomes) == [expected] * SHAPE[0]
    assert result.to_dict()["outcome_counts"] == counts


def test_optimal_gaussian_denoiser_reaches_sigma_final():
    prior = GaussianSubspacePrior(image_shape=SHAPE[1:])
    result = sample(prior, SHAPE, seed=0, sigma_final=0.01)
    _assert_one_outcome(result, "reached")
    assert np.all(result.final_sigmas <= 0.01) and result.usable.all()
    # Its floor on clean images (samples of the prior) is 0: below sigma_final, as reached.
    assert clean_image_floor(prior, prior.sample(8, seed=1)).max() < 1e-4
    assert f"{SHAPE[0]} reached sigma_final 0.01, 0 stopped at the denoiser's noise floor" \
        in result.summary()


def test_denoiser_with_a_bias_floor_stops_at_that_floor():
    """sigma_t >= floor = 0.05 exactly for BiasFloorDenoiser: sigma_final = 0.01 is out of reach.
    The sampler stops every image at the floor (not converged), above it and close to it, and
    the floor measured on clean (flat) images without sampling is the same 0.05."""
    floor = 0.05
    denoiser = BiasFloorDenoiser(c=0.5, floor=floor)
    flat = np.full((3,) + SHAPE[1:], 0.4, np.float32)
    np.testing.assert_allclose(clean_image_floor(denoiser, flat), floor, rtol=1e-5)
    result = sample(denoiser, SHAPE, seed=0, sigma_final=0.01, max_steps=1000)
    _assert_one_outcome(result, "floor")
    assert not result.converged.any() and result.usable.all()
    assert np.all(result.steps < 1000)
    assert np.all(result.final_sigmas >= floor * (1 - 1e-5))  # the floor is a hard bound
    assert np.all(result.final_sigmas < 1.5 * floor)  # and the sampler got close to it
    assert re.search(r"^4 images: 0 reached sigma_final 0\.01, 4 stopped at the denoiser's noise "
                     r"floor \(sigma 0\.0[5-7]\d-0\.0[5-7]\d\), 0 diverged, 0 stopped at max_steps",
                     result.summary()), result.summary()
    # Without the floor rule (the paper's loop verbatim) the same images run to max_steps.
    plain = sample(denoiser, SHAPE, seed=0, sigma_final=0.01, max_steps=300, floor_factor=None)
    _assert_one_outcome(plain, "max_steps")
    assert not plain.usable.any()


def test_floor_above_sigma_final_of_a_shrinking_denoiser_is_not_a_stop():
    """The same bias floor below sigma_final: the sampler reaches sigma_final (the floor rule
    fires only when sigma_t stops falling)."""
    result = sample(BiasFloorDenoiser(c=0.5, floor=0.02), SHAPE, seed=0, sigma_final=0.05)
    _assert_one_outcome(result, "reached")


def test_expanding_map_diverges():
    with pytest.warns(RuntimeWarning, match="diverged"):
        result = sample(expanding_denoiser, SHAPE, seed=0, max_steps=500, h0=0.2)
    _assert_one_outcome(result, "diverged")
    assert np.all(result.final_sigmas > 2.0) and not result.usable.any()
    assert "4 diverged" in result.summary()


def test_tiny_max_steps_hits_the_limit():
    result = sample(shrink_denoiser(0.5), SHAPE, seed=0, max_steps=3, sigma_final=1e-4)
    _assert_one_outcome(result, "max_steps")
    assert np.all(result.steps == 3)
    assert "4 stopped at max_steps; steps 3-3" in result.summary()


def test_outcomes_must_be_disjoint():
    n = 2
    with pytest.raises(ValueError, match="more than one outcome"):
        SampleResult(images=np.zeros((n, 2, 2, 1)), initial=np.zeros((n, 2, 2, 1)),
                     sigmas=[np.ones(1)] * n, steps=np.ones(n, int),
                     converged=np.array([True, False]), diverged=np.zeros(n, bool),
                     at_floor=np.array([True, False]))


def test_clean_image_floor_rejects_bad_input():
    with pytest.raises(ValueError, match="callable"):
        clean_image_floor("model.keras", np.zeros((2, 4, 4, 1), np.float32))
    with pytest.raises(ValueError):
        clean_image_floor(lambda y: y, np.zeros((4, 4, 1), np.float32))
