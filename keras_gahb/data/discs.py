"""The disc manifold: one anti-aliased disc on a flat background (5 degrees of freedom)."""

import numpy as np
import scipy.special

from keras_gahb.utils import numpy_rng
from keras_gahb.data.transforms import check_count, check_size

DISC_PARAMETERS = ("center_x", "center_y", "radius", "foreground", "background")


def disc_images(
    n,
    size=80,
    seed=0,
    radius_range=(0.1, 0.3),
    min_contrast=0.25,
    edge_width=0.5,
    return_params=False,
    chunk_size=1024,
):
    """Images of a disc: a 5-D curved manifold (center x, y, radius, two intensities).

    Pixel (i, j) has center (j + 0.5, i + 0.5); with d its distance to the disc
    center c and r the radius, the pixel value is

        x = b + (f - b) Phi((r - d) / s),

    with Phi the standard normal CDF: the disc's indicator blurred by a Gaussian
    of width s = edge_width pixels (anti-aliasing), so every image is a smooth
    function of the 5 parameters and nearby images span a 5-D tangent space.
    The parameters are drawn uniformly:
    r in radius_range * size, the center so the disc lies inside the image, and
    the intensities so |f - b| >= min_contrast (which of the two is brighter is
    a fair coin).

    Args:
        n: number of images.
        size: image side. Default 80 (the paper's).
        seed: int or numpy Generator. Default 0.
        radius_range: (min, max) radius as fractions of `size`. Default (0.1, 0.3).
        min_contrast: smallest |foreground - background|. Default 0.25.
        edge_width: edge blur s in pixels (> 0). Default 0.5.
        return_params: also return the (n, 5) parameters, columns DISC_PARAMETERS
            (center_x, center_y, radius in pixels; intensities in [0, 1]). Default False.
        chunk_size: images rendered at once (bounds memory). Default 1024.

    Returns:
        float32 images (n, size, size, 1), and the parameters if asked.

    Example:

    >>> images, params = keras_gahb.data.disc_images(4, size=16, seed=0, return_params=True)

    Reference: Kadkhodaie et al., ICLR 2024, Section 3.2, https://arxiv.org/abs/2310.02557
    """
    n, size = check_count(n), check_size(size, minimum=4)
    low, high = radius_range
    if not 0 < low <= high < 0.5:
        raise ValueError(f"radius_range must satisfy 0 < min <= max < 0.5, got {radius_range}.")
    if not 0 <= min_contrast < 1:
        raise ValueError(f"min_contrast must be in [0, 1), got {min_contrast}.")
    if not edge_width > 0:
        raise ValueError(f"edge_width must be > 0, got {edge_width}.")
    params = sample_disc_params(n, size, numpy_rng(seed), radius_range, min_contrast)
    images = render_discs(params, size, edge_width=edge_width, chunk_size=chunk_size)
    return (images, params) if return_params else images


def sample_disc_params(n, size, rng, radius_range=(0.1, 0.3), min_contrast=0.25):
    """Draw (n, 5) disc parameters (see `disc_images`)."""
    radius = rng.uniform(radius_range[0], radius_range[1], n) * size
    margin = radius + 1.5
    center_x = margin + rng.uniform(size=n) * (size - 2 * margin)
    center_y = margin + rng.uniform(size=n) * (size - 2 * margin)
    dark = rng.uniform(0.0, 1.0 - min_contrast, n)
    bright = rng.uniform(dark + min_contrast, 1.0)
    swap = rng.uniform(size=n) < 0.5
    foreground = np.where(swap, dark, bright)
    background = np.where(swap, bright, dark)
    return np.stack([center_x, center_y, radius, foreground, background], axis=1).astype(
        np.float32
    )


def render_discs(params, size, edge_width=0.5, chunk_size=1024):
    """Render (n, 5) disc parameters (see `disc_images`) as float32 (n, size, size, 1) images."""
    params = np.asarray(params, dtype=np.float32)
    if params.ndim != 2 or params.shape[1] != 5:
        raise ValueError(f"Disc parameters must have shape (n, 5), got {params.shape}.")
    coords = np.arange(size, dtype=np.float32) + 0.5
    scale = np.float32(1.0 / (np.sqrt(2.0) * edge_width))
    out = np.empty((params.shape[0], size, size, 1), np.float32)
    for start in range(0, params.shape[0], chunk_size):
        p = params[start:start + chunk_size]
        dx = coords[None, None, :] - p[:, 0, None, None]
        dy = coords[None, :, None] - p[:, 1, None, None]
        signed = (p[:, 2, None, None] - np.sqrt(dx * dx + dy * dy)) * scale
        coverage = 0.5 * scipy.special.erfc(-signed)
        fg, bg = p[:, 3, None, None], p[:, 4, None, None]
        out[start:start + len(p), :, :, 0] = bg + (fg - bg) * coverage
    return out
