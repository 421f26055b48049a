import numpy as np
import pytest

from keras_gahb.data import get_images
from keras_gahb.data.calpha import calpha_images


@pytest.mark.parametrize("alpha", [1.0, 3.0])
def test_contour_power_spectrum_decays_as_k_to_minus_2_alpha(alpha):
    _, contours = calpha_images(400, size=64, alpha=alpha, seed=0, return_contours=True)
    centered = contours - contours.mean(axis=1, keepdims=True)
    power = (np.abs(np.fft.rfft(centered, axis=1)) ** 2).mean(axis=0)
    k = np.arange(1, 13)  # above this, float32 rounding of the contour is the floor
    slope = np.polyfit(np.log(k), np.log(power[k]), 1)[0]
    np.testing.assert_allclose(slope, -2 * alpha, atol=0.15)


def test_background_regularity_is_separate_from_contour_regularity():
    # Background spectrum ~ |k|^(-2 background_alpha): a smoother background has far less
    # high-frequency energy inside one region, whatever the contour.
    def high_frequency_energy(images):
        region = images[:, :8, :, 0]  # rows above the contour (3 std = 0.25 * 64 = 16 rows)
        spectrum = np.abs(np.fft.rfft(region - region.mean(axis=2, keepdims=True), axis=2)) ** 2
        return spectrum[..., 16:].sum() / spectrum[..., 1:].sum()

    rough = calpha_images(64, size=64, alpha=4.0, background_alpha=1.0, seed=1)
    smooth = calpha_images(64, size=64, alpha=4.0, background_alpha=3.0, seed=1)
    assert high_frequency_energy(rough) > 20 * high_frequency_energy(smooth)


def test_regions_follow_the_contour_and_keep_their_ranges():
    ranges = ((0.0, 0.4), (0.6, 1.0))
    images, contours = calpha_images(16, size=32, alpha=2.0, seed=2, blur=False,
                                     intensity_ranges=ranges, return_contours=True)
    assert images.shape == (16, 32, 32, 1) and images.dtype == np.float32
    rows = np.arange(32)[:, None] + 0.5
    for image, contour in zip(images[..., 0], contours):
        below = rows > contour[None, :]
        assert np.all(contour > 0) and np.all(contour < 32)
        a, b = image[below], image[~below]
        # One region lies in one range, the other region in the other range.
        assert (a.max() <= 0.4 + 1e-6 and b.min() >= 0.6 - 1e-6) or \
               (b.max() <= 0.4 + 1e-6 and a.min() >= 0.6 - 1e-6)


def test_blurred_mask_and_determinism():
    a = get_images("calpha", 4, 16, seed=5, alpha=2.0)
    np.testing.assert_array_equal(a, calpha_images(4, 16, alpha=2.0, seed=5))
    assert 0 <= a.min() and a.max() <= 1
    with pytest.raises(ValueError, match="alpha"):
        calpha_images(2, 16, alpha=0)
    with pytest.raises(ValueError, match="intensity_ranges"):
        calpha_images(2, 16, intensity_ranges=((0, 2), (0, 1)))
