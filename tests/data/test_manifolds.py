import numpy as np
import pytest

from keras_gahb.data import get_images
from keras_gahb.data.manifolds import ray_images, sinusoid_images


def test_ray_is_one_dimensional_and_positive():
    images, scales = ray_images(32, size=16, seed=0, return_params=True)
    flat = images.reshape(32, -1).astype(np.float64)
    s = np.linalg.svd(flat, compute_uv=False)  # not centered: a ray through the origin
    assert s[1] < 1e-5 * s[0]
    assert scales.min() > 0 and images.max() <= 1 and images.min() >= 0
    np.testing.assert_allclose(flat.max(axis=1), scales, rtol=1e-6)


def test_ray_of_a_given_image():
    base = np.linspace(0, 0.5, 64).reshape(8, 8)
    images = ray_images(3, size=8, seed=1, image=base)
    ratio = images[..., 0] / (base / base.max())[None].clip(1e-9)
    np.testing.assert_allclose(ratio[:, 1:, :].std(axis=(1, 2)), 0, atol=1e-5)


def test_sinusoids_fill_a_two_dimensional_cone():
    images, params = sinusoid_images(64, size=16, seed=0, return_params=True)
    centered = images.reshape(64, -1).astype(np.float64) - 0.5
    s = np.linalg.svd(centered, compute_uv=False)
    assert s[2] < 1e-5 * s[1]
    # Amplitude: the L2 norm of a unit-frequency cosine is A sqrt(D / 2).
    np.testing.assert_allclose(np.linalg.norm(centered, axis=1), params[:, 0] * np.sqrt(128),
                               rtol=1e-4)
    power = np.abs(np.fft.fft2(images[..., 0] - 0.5)) ** 2
    assert np.allclose(power[:, 0, 2:-1], 0, atol=1e-6)  # only k = (0, +-1) in x
    assert get_images("sinusoids", 2, 16, frequency=(0, 2)).shape == (2, 16, 16, 1)
    with pytest.raises(ValueError, match="frequency"):
        sinusoid_images(2, 16, frequency=(0, 0))
