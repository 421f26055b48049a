"""Jacobian dimension across sigma (Gaussian spectrum lambda/(lambda+sigma^2), the disc manifold's 5)
and the sampling probes (the empirical optimum samples training images; branching and agreement)."""

import numpy as np
import pytest

import keras_gahb
from keras_gahb.analysis import (
    EmpiricalOptimalDenoiser,
    TangentProjectionDenoiser,
    WienerDenoiser,
    branching,
    dimension_curve,
    disc_tangent_basis,
    gaussian_jacobian_spectrum,
    implied_dimension,
    local_disc_images,
    memorization_ratio,
    per_sigma,
    trajectory_agreement,
)
from keras_gahb.data.discs import render_discs

DISC = np.array([8.0, 8.0, 4.0, 0.8, 0.2])


def test_wiener_jacobian_spectrum_is_lambda_over_lambda_plus_sigma2():
    train = keras_gahb.data.GaussianImages(6).sample(200, seed=0)
    sigmas = [0.05, 0.3]
    curve = dimension_curve(per_sigma(lambda s: WienerDenoiser(train, s)), train[0], sigmas, top_k=35)
    centered = train.reshape(200, -1) - train.reshape(200, -1).mean(0)
    values = np.linalg.eigvalsh(centered.T @ centered / 200)       # independent of WienerDenoiser
    for j, sigma in enumerate(sigmas):
        expected = gaussian_jacobian_spectrum(values, sigma)
        np.testing.assert_allclose(curve["eigenvalues"][j], expected[:35], atol=1e-5)
        np.testing.assert_allclose(curve["trace"][j], expected.sum(), rtol=1e-5)


def test_matrix_free_dimension_matches_full():
    train = keras_gahb.data.GaussianImages(6).sample(200, seed=0)
    f = per_sigma(lambda s: WienerDenoiser(train, s))
    full = dimension_curve(f, train[0], [0.1], top_k=6)
    free = dimension_curve(f, train[0], [0.1], top_k=6, method="matrix_free", num_probes=256)
    np.testing.assert_allclose(free["eigenvalues"], full["eigenvalues"], atol=1e-4)
    assert abs(free["trace"][0] - full["trace"][0]) < 4 * free["trace_standard_error"][0]


def test_disc_tangent_projection_has_dimension_5():
    x = render_discs(DISC[None], 16)[0]
    f = TangentProjectionDenoiser(x, disc_tangent_basis(DISC, 16))
    curve = dimension_curve(f, x, [0.02, 0.2], top_k=12)
    np.testing.assert_allclose(curve["trace"], 5.0, atol=1e-4)
    assert curve["dimension"].tolist() == [5, 5]


def test_empirical_optimum_on_a_disc_patch_implies_dimension_5():
    x = render_discs(DISC[None], 16)[0]
    train = local_disc_images(DISC, 3000, 16, spread=(0.3, 0.3, 0.3, 0.03, 0.03), seed=1)
    curve = dimension_curve(EmpiricalOptimalDenoiser(train, sigma=0.1), x, [0.1], top_k=12)
    assert curve["dimension"][0] == 5


def test_implied_dimension_criteria():
    values = [1.0, 0.8, 0.5, 0.4, 0.3, 0.01, 0.009, 0.0]
    assert implied_dimension(values)["dimension"] == 5
    assert implied_dimension(values, criterion="difference")["dimension"] == 2
    with pytest.raises(ValueError):
        implied_dimension([1.0])


@pytest.fixture(scope="module")
def faces():
    return keras_gahb.data.get_images("faces", 40, 12)


def test_sampler_with_empirical_optimum_returns_training_images(faces):
    train = faces[:20]
    result = keras_gahb.sampling.sample(EmpiricalOptimalDenoiser(train), (6, 12, 12, 1), seed=0, h0=0.1,
                                        beta=0.5, sigma_final=0.01)
    assert result.converged.all()
    assert memorization_ratio(result.images, train)["ratio"] == 1.0


def test_agreement_of_disjoint_memorizers_falls_with_sigma(faces):
    f1, f2 = EmpiricalOptimalDenoiser(faces[:20]), EmpiricalOptimalDenoiser(faces[20:])
    same = trajectory_agreement(f1, f1, (3, 12, 12, 1), h0=0.1, beta=0.5, num_bins=4)
    np.testing.assert_allclose(same["relative_difference"], 0.0, atol=1e-8)
    other = trajectory_agreement(f1, f2, (3, 12, 12, 1), h0=0.1, beta=0.5, num_bins=4)
    # Both return the mean at large sigma; at small sigma each returns its own training images.
    assert other["relative_difference"][0] > 1.0 > other["relative_difference"][-1]


def test_branching_endpoints_agree_below_the_decision_level(faces):
    f = EmpiricalOptimalDenoiser(faces[:20])
    out = branching(f, (2, 12, 12, 1), [0.9, 0.03], num_branches=3, train_images=faces[:20], h0=0.1,
                    beta=0.5, sigma_final=0.01)
    # Split late (sigma 0.03), every branch ends at the same training image; every endpoint is one.
    assert out["same_nearest"][1] == 1.0 and out["similarity"][1] > 0.99
    assert out["similarity"][0] <= out["similarity"][1]
    ends = out["endpoints"].reshape(-1, 12, 12, 1)
    assert memorization_ratio(ends, faces[:20])["ratio"] == 1.0
    with pytest.raises(ValueError, match="branch_sigmas"):
        branching(f, (1, 12, 12, 1), [2.0])
