"""Image quality and similarity metrics shared by training, sampling and analysis.

One PSNR convention everywhere (`PSNRCallback` during `gahb train`, `psnr_curve`
in `gahb analyze psnr`, the experiments):

- per image, PSNR_i = 10 log10(data_range^2 / MSE_i) with MSE_i the mean squared
  error over the pixels (and channels) of image i, capped at `PSNR_CAP_DB`
  (MSE floored at 1e-10): a memorizing denoiser can return a training image exactly;
- the PSNR of a set of images is the mean of the PSNR_i over the images
  (`mean_psnr`), as in the paper's code and the denoising literature, not the
  PSNR of the mean MSE.

The evaluation noise is drawn once per call, y_j = x + sigma_j z with the same
z ~ N(0, I) at every noise level (`noisy_versions`), so that curves over sigma
are smooth and two evaluations with the same seed see the same noisy images.

Reference: Kadkhodaie, Guth, Simoncelli, Mallat (2024), https://arxiv.org/abs/2310.02557.
"""

import keras
import numpy as np

from keras_gahb.utils import numpy_rng

#: PSNR cap in dB (MSE floor 1e-10 for data_range 1).
PSNR_CAP_DB = 100.0


def psnr(estimate, reference, data_range=1.0):
    """Per-image PSNR = 10 log10(data_range^2 / MSE_i) in dB, capped at 100 dB (numpy, (n,)).

    Non-finite estimates give NaN for their image (a diverged model is reported, not raised).

    Example:

    >>> keras_gahb.metrics.psnr(np.zeros((1, 4, 4, 1)), np.full((1, 4, 4, 1), 0.1))
    array([20.])
    """
    mse = per_image_mse(estimate, reference, finite=False)
    floor = data_range**2 * 10.0 ** (-PSNR_CAP_DB / 10.0)
    return 10.0 * np.log10(data_range**2 / np.maximum(mse, floor))


def mean_psnr(estimate, reference, data_range=1.0):
    """The PSNR of a set of images: the mean over images of `psnr` (dB, a float).

    Example:

    >>> x = np.zeros((2, 4, 4, 1))
    >>> y = np.stack([np.full((4, 4, 1), 0.1), np.full((4, 4, 1), 0.01)])
    >>> float(keras_gahb.metrics.mean_psnr(y, x))
    30.0
    """
    return float(np.mean(psnr(estimate, reference, data_range)))


def noisy_versions(images, sigmas, seed=0):
    """The evaluation noisy images [x + sigma_j z for each sigma_j], one z ~ N(0, I) for all.

    Args:
        images: clean images (n, H, W, C).
        sigmas: noise levels.
        seed: int or numpy Generator of z. Default 0.

    Returns:
        list of float32 arrays shaped like `images`, one per sigma.
    """
    images = np.asarray(images, np.float32)
    noise = numpy_rng(seed).standard_normal(images.shape).astype(np.float32)
    return [images + np.float32(sigma) * noise for sigma in sigmas]


def cosine_similarity(a, b, mean_removed=False):
    """Per-pair normalized inner product <a_i, b_i> / (||a_i|| ||b_i||), shape (n,).

    With `mean_removed=True` each image's mean is subtracted first, which is
    the (Pearson) correlation coefficient.

    Example:

    >>> keras_gahb.metrics.cosine_similarity(np.ones((1, 2, 2, 1)), np.full((1, 2, 2, 1), 3.0))
    array([1.])
    """
    a, b = flat_images(a), flat_images(b)
    if a.shape != b.shape:
        raise ValueError(f"Both batches must have the same shape; got {a.shape} and {b.shape}.")
    a, b = normalize_rows(a, mean_removed), normalize_rows(b, mean_removed)
    return np.sum(a * b, axis=1)


def per_image_mse(a, b, finite=True):
    """Mean squared difference over each image's pixels, shape (n,) (float64).

    With `finite=True` (default) non-finite values raise a ValueError.
    """
    a, b = flat_images(a, finite), flat_images(b, finite)
    if a.shape != b.shape:
        raise ValueError(f"Shapes differ: {a.shape} vs {b.shape}.")
    return np.mean((a - b) ** 2, axis=1)


def flat_images(images, finite=True):
    """A batch (n, ...) as a float64 numpy array (n, D); non-finite values raise if `finite`."""
    images = np.asarray(keras.ops.convert_to_numpy(images) if not isinstance(images, np.ndarray)
                        else images, np.float64)
    if images.ndim < 2:
        raise ValueError(f"Expected a batch of images (n, ...); got shape {images.shape}.")
    if finite and not np.all(np.isfinite(images)):
        raise ValueError("Images contain non-finite values.")
    return images.reshape(len(images), -1)


def normalize_rows(flat, mean_removed=False):
    """Rows of `flat` scaled to unit norm (after removing each row's mean if asked)."""
    if mean_removed:
        flat = flat - flat.mean(axis=1, keepdims=True)
    return flat / np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), 1e-30)


__all__ = [
    "PSNR_CAP_DB",
    "cosine_similarity",
    "flat_images",
    "mean_psnr",
    "noisy_versions",
    "normalize_rows",
    "per_image_mse",
    "psnr",
]
