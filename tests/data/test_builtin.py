import numpy as np
import pytest
import skimage.data

from keras_gahb.data import get_images, lfw_faces, photo_patches, pixel_shuffle


def test_faces_are_the_lfw_faces_resized():
    raw = skimage.data.lfw_subset()[:100].astype(np.float32)
    raw = raw / raw.max() if raw.max() > 1 else raw
    faces = lfw_faces()
    assert faces.shape == (100, 25, 25, 1)
    np.testing.assert_allclose(faces[..., 0], raw, atol=1e-6)  # size 25 is the identity
    small = get_images("faces", 8, 16)
    assert small.shape == (8, 16, 16, 1) and 0 <= small.min() and small.max() <= 1
    # Bicubic resizing keeps each face's mean intensity.
    np.testing.assert_allclose(small.mean(axis=(1, 2, 3)), raw[:8].mean(axis=(1, 2)), atol=0.02)
    rgb = get_images("faces", 2, 16, channels=3)
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 2])


def test_too_many_faces():
    with pytest.raises(ValueError, match="100 faces"):
        get_images("faces", 101, 16)


def test_photo_patches_are_cut_from_the_photos():
    patches = photo_patches(6, size=16, seed=0, photos=("camera",))
    camera = skimage.data.camera().astype(np.float32) / 255.0
    windows = np.lib.stride_tricks.sliding_window_view(camera, (16, 16))
    for patch in patches[..., 0]:
        err = np.abs(windows - patch).max(axis=(2, 3))
        assert err.min() < 1e-6  # each patch is an exact window of the photo
    np.testing.assert_array_equal(get_images("photos", 3, 16, seed=2),
                                  get_images("photos", 3, 16, seed=2))
    assert get_images("photos", 3, 16, seed=2, channels=3, patch_size=32).shape == (3, 16, 16, 3)
    with pytest.raises(ValueError, match="Unknown scikit-image photo"):
        photo_patches(2, 16, photos=("nope",))


def test_pixel_shuffle_is_one_fixed_permutation():
    faces = get_images("faces", 4, 16)
    shuffled = get_images("faces", 4, 16, shuffle_pixels=7)
    np.testing.assert_array_equal(shuffled, pixel_shuffle(faces, seed=7))
    flat, flat_s = faces.reshape(4, -1), shuffled.reshape(4, -1)
    np.testing.assert_array_equal(np.sort(flat, axis=1), np.sort(flat_s, axis=1))
    # The same position map for every image: pixel k of the output comes from one source pixel.
    source = [np.flatnonzero(np.isclose(flat[0], v))[0] for v in flat_s[0][:20]]
    np.testing.assert_allclose(flat_s[1][:20], flat[1][source])
