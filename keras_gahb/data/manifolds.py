"""Low-dimensional image sets with a known optimal denoiser: a ray and a cone of sinusoids."""

import numpy as np

from keras_gahb.utils import numpy_rng
from keras_gahb.data.transforms import check_count, check_size, resize_images


def ray_images(n, size=32, seed=0, image=None, scale_range=(0.05, 1.0), return_params=False):
    """One image at random positive scalings: {a x0 : a > 0}, a 1-D ray.

    The optimal denoiser projects onto the line through x0, so its MSE is
    sigma^2 (one degree of freedom) at small sigma.

    Args:
        n: number of images.
        size: image side. Default 32.
        seed: int or numpy Generator. Default 0.
        image: the base image x0 (H, W, C) or (H, W), resized to size; None = the
            first LFW face. It is scaled so its maximum is 1. Default None.
        scale_range: (min, max) of the uniform scale a, 0 < min <= max <= 1.
            Default (0.05, 1.0).
        return_params: also return the (n,) scales. Default False.

    Example:

    >>> keras_gahb.data.ray_images(4, size=16, seed=0).shape
    (4, 16, 16, 1)
    """
    n, size = check_count(n), check_size(size)
    low, high = scale_range
    if not 0 < low <= high <= 1:
        raise ValueError(f"scale_range must satisfy 0 < min <= max <= 1, got {scale_range}.")
    if image is None:
        from keras_gahb.data.builtin import lfw_faces

        base = lfw_faces(1, size)[0]
    else:
        base = np.asarray(image, dtype=np.float32)
        base = base[..., None] if base.ndim == 2 else base
        if base.ndim != 3:
            raise ValueError(f"image must have shape (H, W) or (H, W, C), got {base.shape}.")
        base = resize_images(np.clip(base, 0, None)[None], size)[0]
    if base.max() <= 0:
        raise ValueError("The base image of a ray must have a positive pixel.")
    base = base / base.max()
    scales = numpy_rng(seed).uniform(low, high, n).astype(np.float32)
    images = scales[:, None, None, None] * base[None]
    return (images, scales) if return_params else images


def sinusoid_images(
    n, size=32, seed=0, frequency=(1, 0), max_amplitude=0.5, return_params=False
):
    """2-D sinusoids of one frequency with random amplitude and phase: a 2-D cone.

    x[i, j] = 1/2 + A cos(2 pi (f_x j + f_y i) / size + phi), A ~ U(0, max_amplitude),
    phi ~ U(0, 2 pi). Since A cos(t + phi) = (A cos phi) cos t - (A sin phi) sin t,
    the centered images fill a disc of a 2-D plane.

    Args:
        n: number of images.
        size: image side. Default 32.
        seed: int or numpy Generator. Default 0.
        frequency: (f_x, f_y) cycles per image. Default (1, 0) (unit frequency).
        max_amplitude: largest amplitude, <= 0.5 keeps values in [0, 1]. Default 0.5.
        return_params: also return the (n, 2) [amplitude, phase]. Default False.

    Example:

    >>> keras_gahb.data.sinusoid_images(4, size=16, seed=0).shape
    (4, 16, 16, 1)
    """
    n, size = check_count(n), check_size(size)
    if not 0 < max_amplitude <= 0.5:
        raise ValueError(f"max_amplitude must be in (0, 0.5], got {max_amplitude}.")
    fx, fy = frequency
    if fx == 0 and fy == 0:
        raise ValueError("frequency must not be (0, 0).")
    rng = numpy_rng(seed)
    amplitude = rng.uniform(0.0, max_amplitude, n)
    phase = rng.uniform(0.0, 2 * np.pi, n)
    rows, cols = np.mgrid[0:size, 0:size]
    theta = 2 * np.pi * (fx * cols + fy * rows) / size
    images = 0.5 + amplitude[:, None, None] * np.cos(theta[None] + phase[:, None, None])
    images = images[..., None].astype(np.float32)
    params = np.stack([amplitude, phase], axis=1).astype(np.float32)
    return (images, params) if return_params else images
