"""Image preprocessing shared by every source: resizing, channels, cropping, pixel shuffling."""

import numbers

import numpy as np

from keras_gahb.utils import numpy_rng


def resize_images(images, size, batch_size=512):
    """Bicubic (antialiased) resize of a batch to (size, size), clipped to [0, 1].

    Args:
        images: array (n, H, W, C).
        size: output side length.
        batch_size: images resized per call. Default 512.

    Example:

    >>> keras_gahb.data.resize_images(np.zeros((2, 25, 25, 1)), 16).shape
    (2, 16, 16, 1)
    """
    import tensorflow as tf

    size = check_size(size)
    images = np.asarray(images, dtype=np.float32)
    if images.shape[1:3] == (size, size):
        return images
    out = np.empty((images.shape[0], size, size, images.shape[3]), np.float32)
    for start in range(0, images.shape[0], batch_size):
        block = tf.image.resize(
            images[start:start + batch_size], (size, size), method="bicubic", antialias=True
        )
        out[start:start + batch_size] = np.clip(block.numpy(), 0.0, 1.0)
    return out


def to_channels(images, channels):
    """Convert (n, H, W, C) images to `channels` (1: mean over channels; 3: repeat gray)."""
    channels = check_channels(channels)
    images = np.asarray(images, dtype=np.float32)
    have = images.shape[-1]
    if have == channels:
        return images
    if channels == 1:
        return images.mean(axis=-1, keepdims=True)
    if have == 1:
        return np.repeat(images, channels, axis=-1)
    raise ValueError(f"Cannot convert {have}-channel images to {channels} channels.")


def crop(images, rows, cols):
    """Crop `images[:, rows[0]:rows[1], cols[0]:cols[1]]` (negative ends count from the end)."""
    return np.asarray(images)[:, rows[0]:rows[1], cols[0]:cols[1]]


def pixel_shuffle(images, seed=0):
    """Apply one fixed random permutation of pixel positions to every image.

    The same permutation (drawn from `seed`) moves the pixels of all images,
    so the dataset keeps its pixel statistics but loses spatial structure
    (the paper's shuffled-faces control, which loses the GAHB).

    Args:
        images: array (n, H, W, C).
        seed: int or numpy Generator. Default 0.

    Example:

    >>> shuffled = keras_gahb.data.pixel_shuffle(images, seed=0)
    """
    images = np.asarray(images)
    n, h, w, c = images.shape
    order = numpy_rng(seed).permutation(h * w)
    return images.reshape(n, h * w, c)[:, order].reshape(n, h, w, c)


def check_size(size, name="size", minimum=2):
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {size!r}.")
    return int(size)


def check_count(n, name="n"):
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"{name} must be a positive int, got {n!r}.")
    return int(n)


def check_channels(channels):
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (gray) or 3 (RGB), got {channels!r}.")
    return int(channels)
