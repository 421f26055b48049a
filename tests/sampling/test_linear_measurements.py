import keras
import numpy as np
import pytest

import keras_gahb
from keras_gahb.sampling import (
    CompressiveSensing,
    Inpainting,
    RandomPixels,
    SuperResolution,
    sample,
    solve_inverse_problem,
)
from tests.sampling.denoisers import GaussianSubspacePrior

IMAGE_SHAPE = (8, 8, 1)


def operators():
    return {
        "inpaint": (Inpainting.box(IMAGE_SHAPE, hole=4), 64 - 16),
        "missing": (RandomPixels(IMAGE_SHAPE, fraction=0.25, seed=1), 16),
        "superres": (SuperResolution(IMAGE_SHAPE, factor=2), 16),
        "compressive": (CompressiveSensing(IMAGE_SHAPE, fraction=0.25, seed=1), 16),
    }


def _np(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("name", ["inpaint", "missing", "superres", "compressive"])
def test_projection_is_orthogonal_with_the_right_rank(name):
    op, rank = operators()[name]
    assert op.task == name
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 3) + IMAGE_SHAPE).astype("float32")
    px, py = _np(op.project(x)), _np(op.project(y))
    np.testing.assert_allclose(_np(op.project(px)), px, atol=1e-5)  # idempotent
    np.testing.assert_allclose(np.sum(px * y), np.sum(x * py), rtol=1e-4)  # symmetric
    # Trace of P = number of measurements, from the images of the basis vectors.
    basis = np.eye(64, dtype="float32").reshape((64,) + IMAGE_SHAPE)
    trace = np.sum(_np(op.project(basis)).reshape(64, 64).diagonal())
    assert trace == pytest.approx(rank, abs=1e-3)
    c = op.measure(x)
    np.testing.assert_allclose(_np(op.measure(op.backproject(c))), _np(c), atol=1e-5)


def test_superres_measures_block_means():
    op = SuperResolution(IMAGE_SHAPE, factor=4)
    x = np.random.default_rng(1).random((2,) + IMAGE_SHAPE).astype("float32")
    expected = x.reshape(2, 2, 4, 2, 4, 1).mean(axis=(2, 4))
    np.testing.assert_allclose(_np(op.measure(x)), expected, atol=1e-6)


@pytest.mark.parametrize("name", ["inpaint", "superres", "compressive"])
def test_inverse_problem_on_gaussian_subspace_prior(name):
    """With a k-dim prior and >= k generic measurements the posterior is a point: the clean
    image. Every solution also satisfies the measurements exactly."""
    prior = GaussianSubspacePrior(image_shape=IMAGE_SHAPE, lam=(0.04, 0.02, 0.01))
    op = operators()[name][0]
    clean = prior.sample(2, seed=3)
    measurements = op.measure(clean)
    result = solve_inverse_problem(prior, op, measurements, seed=0)
    assert result.converged.all()
    np.testing.assert_allclose(_np(op.measure(result.images)), _np(measurements), atol=1e-4)
    rmse = np.sqrt(np.mean((result.images - clean) ** 2, axis=(1, 2, 3)))
    assert np.all(rmse < 0.02), rmse
    assert result.config["operator"]["class"] == type(op).__name__


def test_inverse_problem_with_a_model_keeps_measurements():
    model = keras_gahb.models.from_preset("unet_tiny")
    op = SuperResolution((8, 8, 1), factor=4)
    clean = np.random.default_rng(0).random((1, 8, 8, 1)).astype("float32")
    result = solve_inverse_problem(model, op, op.measure(clean), num_samples=2, max_steps=4)
    assert result.images.shape == (2, 8, 8, 1)
    np.testing.assert_allclose(_np(op.measure(result.images)), np.repeat(_np(op.measure(clean)), 2, 0),
                               atol=1e-4)


def test_bad_operators_and_measurements():
    with pytest.raises(ValueError, match="0 \\(unknown\\) and 1"):
        Inpainting(np.full((4, 4), 0.5))
    with pytest.raises(ValueError, match="does not fit"):
        Inpainting.box((8, 8, 1), hole=9)
    with pytest.raises(ValueError, match="factor"):
        SuperResolution((8, 8, 1), factor=3)
    with pytest.raises(ValueError, match="fraction"):
        RandomPixels((8, 8, 1), fraction=1.5)
    with pytest.raises(ValueError, match="fraction"):
        CompressiveSensing((8, 8, 1), fraction=0.0)
    op = SuperResolution((8, 8, 1), factor=2)
    denoiser = GaussianSubspacePrior(image_shape=(8, 8, 1))
    with pytest.raises(ValueError, match="built for images"):
        sample(denoiser, (2, 16, 16, 1), operator=op, measurements=np.zeros((2, 8, 8, 1)))
    with pytest.raises(ValueError, match="needs `measurements`"):
        sample(denoiser, (2, 8, 8, 1), operator=op)
    with pytest.raises(ValueError, match="1 or 2 measurements"):
        sample(denoiser, (2, 8, 8, 1), operator=op, measurements=np.zeros((3, 4, 4, 1)))
    with pytest.raises(ValueError, match="LinearMeasurement"):
        sample(denoiser, (2, 8, 8, 1), operator="inpaint", measurements=np.zeros((2, 4, 4, 1)))
    cs = CompressiveSensing((8, 8, 1), fraction=0.25)
    with pytest.raises(ValueError, match="do not fit"):
        sample(denoiser, (2, 8, 8, 1), operator=cs, measurements=np.zeros((2, 7)))
