"""Image arrays and image files: one rule for array shapes, one reader for files.

The rule, everywhere in keras_gahb: a 4-D array (n, H, W, C) is a batch; a 3-D array
(H, W, C) is ONE image (C = 1, 3, or 4 with alpha); a 2-D array (H, W) is one gray image.
A stack of gray images must be given as (n, H, W, 1): a 3-D array whose last axis is not
a channel count raises instead of being guessed.
"""

import os
import warnings

import numpy as np

from keras_gahb.utils.io import atomic_path


def as_image_batch(images, name="images", channels=None, allow_one_image=True, warn=False):
    """Images as a finite float32 numpy batch (n, H, W, C), following the rule above.

    Args:
        images: numpy array or backend tensor (n, H, W, C), (H, W, C) or (H, W).
        name: what to call the images in error messages. Default "images".
        channels: None keeps the channels; 1 or 3 converts gray <-> RGB
            (RGB -> gray by the channel mean) and drops an alpha channel.
        allow_one_image: if False, one image (2-D or 3-D) raises a ValueError
            (for functions whose batch axis matters). Default True.
        warn: issue a one-line UserWarning (naming `name`) when the conversion
            to `channels` loses something: colour made gray, or a transparent
            alpha channel dropped (a gray image stored as RGB(A), as PNG writers
            do, converts without a word). Default False.

    Example:

    >>> keras_gahb.utils.as_image_batch(np.zeros((8, 8, 3)), channels=1).shape
    (1, 8, 8, 1)
    """
    if not isinstance(images, np.ndarray):
        import keras

        images = keras.ops.convert_to_numpy(images)
    array = np.asarray(images)
    if array.ndim in (2, 3):
        if array.ndim == 3 and array.shape[-1] not in (1, 3, 4):
            raise ValueError(
                f"{name}: a 3-D array is one image (H, W, C) with C = 1 or 3; got shape "
                f"{array.shape}. Give a batch of gray images as (n, H, W, 1), e.g. x[..., None]."
            )
        if not allow_one_image:
            raise ValueError(
                f"{name} must be a batch (n, H, W, C); got one image of shape {array.shape}: "
                "use x[None]."
            )
        array = array[None] if array.ndim == 3 else array[None, ..., None]
    if array.ndim != 4 or len(array) == 0:
        raise ValueError(
            f"{name} must be a non-empty batch (n, H, W, C) or one image (H, W, C); "
            f"got shape {array.shape}."
        )
    if not np.issubdtype(array.dtype, np.number) and array.dtype != bool:
        raise ValueError(f"{name} must be numeric, got dtype {array.dtype}.")
    array = array.astype(np.float32, copy=False)
    if warn and channels is not None and array.shape[-1] != channels:
        lost = _conversion_loss(array, channels)
        if lost:
            warnings.warn(f"{name}: {lost}; the model takes {channels} channel"
                          f"{'s' if channels != 1 else ''}.", UserWarning, stacklevel=3)
    if channels is not None and array.shape[-1] != channels:
        if channels == 1 and array.shape[-1] in (3, 4):
            array = array[..., :3].mean(axis=-1, keepdims=True)
        elif channels == 3 and array.shape[-1] == 4:
            array = array[..., :3]
        elif channels == 3 and array.shape[-1] == 1:
            array = np.repeat(array, 3, axis=-1)
        else:
            raise ValueError(f"The {name} have {array.shape[-1]} channels; the model needs {channels}.")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"The {name} contain non-finite (NaN or infinite) values.")
    return array


def _conversion_loss(array, channels):
    """What converting `array` (..., C) to `channels` channels throws away, or "" if nothing."""
    have = array.shape[-1]
    parts = []
    if have == 4 and not np.allclose(array[..., 3], 1.0):
        parts.append("its alpha channel (transparency) is dropped")
    if channels == 1 and have in (3, 4):
        rgb = array[..., :3]
        if not (np.allclose(rgb[..., 0], rgb[..., 1]) and np.allclose(rgb[..., 0], rgb[..., 2])):
            parts.append("its colour (RGB) is made gray by the channel mean")
    return " and ".join(parts)


def read_image_file(path, key=None):
    """The array in a .npy, .npz (its "images" array, its only array, or `key`) or .png file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"Image file not found: {path}")
    lower = path.lower()
    if lower.endswith(".npy"):
        return np.load(path)
    if lower.endswith(".npz"):
        with np.load(path) as data:
            if key is None:
                key = "images" if "images" in data.files else (data.files[0] if len(data.files) == 1 else None)
            if key not in data.files:
                raise ValueError(f"{path} has arrays {data.files}; expected an 'images' array.")
            return data[key]
    if lower.endswith(".png"):
        import matplotlib.image  # here, not at import: matplotlib costs seconds to import

        return matplotlib.image.imread(path)
    raise ValueError(f"Images must be .npy, .npz or .png files, got {path}.")


def image_grid(images, columns=None, padding=1, pad_value=1.0, min_tile=None):
    """Tile a batch (n, H, W, C) into one image (rows (h + padding) - padding, ...), in [0, 1].

    Tiles fill rows of `columns` images (default ceil(sqrt(n))), separated by
    `padding` pixels of `pad_value` (white); values are clipped to [0, 1], NaN -> 0.
    With `min_tile`, each image is first enlarged by nearest neighbour
    (`upscale_nearest`, a whole factor) until its shorter side is at least
    `min_tile` pixels (h, w: the enlarged sides; pixels stay sharp squares).

    Example:

    >>> keras_gahb.utils.image_grid(np.zeros((6, 8, 8, 1)), columns=3).shape
    (17, 26, 1)
    >>> keras_gahb.utils.image_grid(np.zeros((6, 8, 8, 1)), columns=3, min_tile=64).shape
    (129, 194, 1)
    """
    images = np.clip(np.nan_to_num(np.asarray(images, np.float32)), 0.0, 1.0)
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or len(images) == 0:
        raise ValueError(f"Expected images (n, H, W, 1 or 3), got shape {images.shape}.")
    if min_tile:
        images = upscale_nearest(images, upscale_factor(images.shape[1:3], min_tile))
    n, height, width, channels = images.shape
    columns = int(columns or np.ceil(np.sqrt(n)))
    rows = -(-n // columns)
    grid = np.full((rows * (height + padding) - padding, columns * (width + padding) - padding,
                    channels), pad_value, np.float32)
    for k in range(n):
        top, left = (k // columns) * (height + padding), (k % columns) * (width + padding)
        grid[top:top + height, left:left + width] = images[k]
    return grid


def upscale_factor(image_size, min_side=64):
    """The smallest whole factor that makes the shorter side of `image_size` (H, W) >= `min_side`."""
    return max(1, -(-int(min_side) // max(1, min(int(side) for side in image_size))))


def upscale_nearest(images, factor):
    """Images (..., H, W, C) enlarged `factor` times by nearest neighbour (each pixel a square).

    Example:

    >>> keras_gahb.utils.upscale_nearest(np.eye(2)[..., None], 2)[..., 0]
    array([[1., 1., 0., 0.],
           [1., 1., 0., 0.],
           [0., 0., 1., 1.],
           [0., 0., 1., 1.]])
    """
    factor = int(factor)
    if factor < 1:
        raise ValueError(f"factor must be a whole number >= 1, got {factor}.")
    images = np.asarray(images)
    if factor == 1:
        return images
    return np.repeat(np.repeat(images, factor, axis=-3), factor, axis=-2)


def save_image(path, image):
    """Write an (H, W, C) image in [0, 1] (C = 1 or 3) as a PNG, atomically; returns `path`."""
    import matplotlib.image  # here, not at import: matplotlib costs seconds to import

    image = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    with atomic_path(path) as tmp:
        if image.shape[-1] == 1:
            matplotlib.image.imsave(tmp, image[..., 0], cmap="gray", vmin=0.0, vmax=1.0,
                                    format="png")
        else:
            matplotlib.image.imsave(tmp, image[..., :3], format="png")
    return path


#: Smallest side, in screen pixels, of an image in a written grid: a 16x16 sample one pixel per
#: pixel is a speck on a screen; nearest-neighbour enlargement keeps its pixels exact.
MIN_TILE = 64


def save_image_grid(images, path, columns=None, padding=1, min_tile=MIN_TILE):
    """Write images (n, H, W, C) in [0, 1] as one PNG grid (gray or RGB), atomically.

    The one image-grid writer of keras_gahb (data examples, training and sampling figures).
    Each image is enlarged by nearest neighbour to at least `min_tile` pixels a side
    (default 64; None or 0 writes one pixel per image pixel).
    """
    return save_image(path, image_grid(images, columns, padding, min_tile=min_tile))
