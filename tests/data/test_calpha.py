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


def test_authors_variant_follows_the_authors_recipe():
    size = 32
    images, contours = calpha_images(400, size=size, alpha=2.0, seed=0, variant="authors",
                                     blur=False, return_contours=True)
    assert images.shape == (400, size, size, 1) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0
    np.testing.assert_array_equal(contours, np.round(contours))  # integer rows
    # Unblurred: each column is one region above the contour row and the other from it down.
    top_ranges, bottom_ranges = [], []
    for image, contour in zip(images[:, :, :, 0], contours):
        rows = np.clip(contour.astype(int), 0, size)
        above = np.concatenate([image[:r, c] for c, r in enumerate(rows)])
        below = np.concatenate([image[r:, c] for c, r in enumerate(rows)])
        if above.size > 20 and below.size > 20:
            top_ranges.append((above.min(), above.max()))
            bottom_ranges.append((below.min(), below.max()))
    top, bottom = np.array(top_ranges), np.array(bottom_ranges)
    # One region lies in [u, 1], the other in [0, u'], u and u' independent U(0, 1): the
    # ranges overlap when u < u' (probability 1/2; a little less is seen, since a region
    # shows only part of its background), which the fixed-ranges variant never does.
    overlap = np.minimum(top[:, 1], bottom[:, 1]) > np.maximum(top[:, 0], bottom[:, 0])
    assert 0.2 < overlap.mean() < 0.6
    fixed = calpha_images(50, size=size, alpha=2.0, seed=0)
    assert not np.array_equal(fixed, images[:50])
    np.testing.assert_array_equal(images, calpha_images(400, size=size, alpha=2.0, seed=0,
                                                        variant="authors", blur=False))


def test_authors_variant_contour_spectrum_decays_as_k_to_minus_2_alpha():
    alpha, size = 2.0, 64
    _, contours = calpha_images(800, size=size, alpha=alpha, seed=1, variant="authors",
                                return_contours=True)
    # Rounding to rows adds a flat floor; fit the low frequencies, where the curve dominates.
    power = (np.abs(np.fft.rfft(contours - contours.mean(axis=1, keepdims=True))) ** 2).mean(0)
    k = np.arange(1, 7)
    slope = np.polyfit(np.log(k), np.log(power[k]), 1)[0]
    assert slope == pytest.approx(-2 * alpha, abs=0.6)


def test_unknown_variant_is_a_clear_error():
    with pytest.raises(ValueError, match="variant"):
        calpha_images(2, size=8, variant="bandlets")
