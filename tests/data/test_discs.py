import numpy as np
import pytest

from keras_gahb.data import DISC_PARAMETERS, disc_images, get_images, render_discs


def test_images_match_their_parameters():
    images, params = disc_images(64, size=32, seed=0, return_params=True)
    assert images.shape == (64, 32, 32, 1) and images.dtype == np.float32
    assert params.shape == (64, len(DISC_PARAMETERS))
    assert images.min() >= 0 and images.max() <= 1
    rows, cols = np.mgrid[0:32, 0:32] + 0.5
    for image, (cx, cy, r, fg, bg) in zip(images[..., 0], params):
        d = np.hypot(cols - cx, rows - cy)
        np.testing.assert_allclose(image[d < r - 2], fg, atol=1e-3)
        np.testing.assert_allclose(image[d > r + 2], bg, atol=1e-3)
        # Edge profile Phi((r - d) / s): its integral over the plane is pi (r^2 + s^2).
        coverage = (image - bg) / (fg - bg)
        np.testing.assert_allclose(coverage.sum(), np.pi * (r**2 + 0.5**2), rtol=0.005)
        assert abs(fg - bg) >= 0.25 - 1e-6
        assert r + 1 < cx < 32 - r - 1 and r + 1 < cy < 32 - r - 1


def test_local_pca_has_five_dominant_components():
    # Images near one point of the manifold span its 5-D tangent space.
    _, params = disc_images(3, size=16, seed=1, return_params=True)
    rng = np.random.default_rng(0)
    steps = np.array([0.02, 0.02, 0.02, 0.002, 0.002])
    for p0 in params.astype(np.float64):
        nearby = render_discs(p0 + rng.normal(size=(200, 5)) * steps, 16).reshape(200, -1)
        s = np.linalg.svd(nearby - nearby.mean(axis=0), compute_uv=False)
        assert s[4] > 5 * s[5], s[:8]


def test_deterministic_and_registered():
    a = get_images("discs", 4, 16, seed=3)
    np.testing.assert_array_equal(a, disc_images(4, 16, seed=3))
    assert not np.array_equal(a, get_images("discs", 4, 16, seed=4))
    assert get_images("discs", 2, 16, channels=3).shape == (2, 16, 16, 3)


def test_bad_arguments():
    with pytest.raises(ValueError, match="radius_range"):
        disc_images(2, 16, radius_range=(0.3, 0.1))
    with pytest.raises(ValueError, match="no option"):
        get_images("discs", 2, 16, alpha=3)
    with pytest.raises(ValueError, match="Unknown dataset"):
        get_images("disks", 2, 16)
    with pytest.raises(ValueError, match="n must be"):
        get_images("discs", 0, 16)
