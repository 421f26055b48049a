"""Offline natural images bundled with scikit-image: LFW faces and patches of photos."""

import numpy as np

from keras_gahb.data.not_enough_images_error import NotEnoughImagesError
from keras_gahb.utils import numpy_rng
from keras_gahb.data.transforms import (
    check_channels,
    check_count,
    check_size,
    resize_images,
    to_channels,
)

LFW_NUM_FACES = 100
PHOTOS = (
    "astronaut", "brick", "camera", "chelsea", "coffee", "coins", "grass", "gravel", "moon",
    "rocket",
)


def lfw_faces(n=None, size=25, channels=1):
    """The 100 gray 25x25 faces of scikit-image's LFW subset, resized bicubically.

    scikit-image ships 200 crops of LFW (Huang et al. 2012); the first 100 are
    faces, the rest are background crops and are not used. The faces come in
    their stored order (no randomness), so `n` selects the first n.

    Args:
        n: number of faces, at most 100; None = all 100. Default None.
        size: output side (bicubic resize from 25). Default 25.
        channels: 1, or 3 (gray repeated). Default 1.

    Returns:
        float32 (n, size, size, channels) in [0, 1].

    Example:

    >>> keras_gahb.data.lfw_faces(8, size=16).shape
    (8, 16, 16, 1)
    """
    import skimage.data

    size, channels = check_size(size), check_channels(channels)
    n = LFW_NUM_FACES if n is None else check_count(n)
    if n > LFW_NUM_FACES:
        raise NotEnoughImagesError(
            f"scikit-image's LFW subset holds {LFW_NUM_FACES} faces, {n} were asked for. "
            "Use 'celeba' or a 'folder' of faces for more.",
            available=LFW_NUM_FACES, requested=n, source="faces",
        )
    faces = np.asarray(skimage.data.lfw_subset()[:n], dtype=np.float32)
    if faces.max() > 1.0:
        faces = faces / 255.0
    return to_channels(resize_images(faces[..., None], size), channels)


def photo_patches(n, size=32, seed=0, channels=1, patch_size=None, photos=PHOTOS):
    """Random square patches of scikit-image's bundled natural photographs.

    Each patch picks a photo uniformly from `photos`, then a uniformly random
    position; a patch of side `patch_size` is resized (bicubic) to `size`.

    Args:
        n: number of patches.
        size: output side. Default 32.
        seed: int or numpy Generator. Default 0.
        channels: 1 (gray = channel mean) or 3 (gray photos repeated). Default 1.
        patch_size: side of the cut patch in photo pixels; None = `size`. Default None.
        photos: names of skimage.data photos to use. Default PHOTOS.

    Returns:
        float32 (n, size, size, channels) in [0, 1].

    Example:

    >>> keras_gahb.data.photo_patches(4, size=16, seed=0).shape
    (4, 16, 16, 1)
    """
    n, size, channels = check_count(n), check_size(size), check_channels(channels)
    patch_size = size if patch_size is None else check_size(patch_size, "patch_size")
    loaded = [_load_photo(name, channels) for name in photos]
    if not loaded:
        raise ValueError("photos must name at least one scikit-image photo.")
    for name, photo in zip(photos, loaded):
        if min(photo.shape[:2]) < patch_size:
            raise ValueError(f"Photo {name!r} ({photo.shape[0]}x{photo.shape[1]}) is smaller "
                             f"than patch_size={patch_size}.")
    rng = numpy_rng(seed)
    which = rng.integers(len(loaded), size=n)
    out = np.empty((n, patch_size, patch_size, channels), np.float32)
    for i, k in enumerate(which):
        photo = loaded[k]
        top = rng.integers(photo.shape[0] - patch_size + 1)
        left = rng.integers(photo.shape[1] - patch_size + 1)
        out[i] = photo[top:top + patch_size, left:left + patch_size]
    return resize_images(out, size)


def _load_photo(name, channels):
    import skimage.data

    if name not in PHOTOS and not hasattr(skimage.data, name):
        raise ValueError(f"Unknown scikit-image photo {name!r}; choose from {', '.join(PHOTOS)}.")
    image = np.asarray(getattr(skimage.data, name)(), dtype=np.float32)
    if image.max() > 1.0:
        image = image / 255.0
    if image.ndim == 2:
        image = image[..., None]
    image = image[..., :3]
    return to_channels(image[None], channels)[0]
