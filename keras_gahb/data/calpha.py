"""C^alpha images: two regular textures separated by a regular contour (paper Appendix E)."""

import numpy as np
import scipy.fft

from keras_gahb.utils import numpy_rng
from keras_gahb.data.transforms import check_count, check_size


def calpha_images(
    n,
    size=80,
    alpha=3.0,
    seed=0,
    background_alpha=None,
    contour_amplitude=0.25,
    intensity_ranges=((0.0, 0.5), (0.5, 1.0)),
    blur=True,
    return_contours=False,
    chunk_size=1024,
):
    """Piecewise-regular images: a C^alpha boundary between two regular backgrounds.

    Recipe (paper, Appendix E):

    - contour: 1-D white noise filtered in Fourier by |k|^-alpha (DC removed),
      so its power spectrum decays as |k|^(-2 alpha), around the middle row and
      scaled by a fixed factor (3 standard deviations = `contour_amplitude * size`;
      rows are clipped to [0, size], which almost never binds);
    - backgrounds B1, B2: 2-D white noise filtered by |k|^-background_alpha
      (radial frequency, DC removed), each rescaled (min-max) into one of the two
      `intensity_ranges` (which region gets which range is a fair coin);
    - mask M = 1[row > contour] (rows measured at pixel centers), blurred by a
      2x2 box when `blur`; the image is x = M B1 + (1 - M) B2.

    Args:
        n: number of images.
        size: image side. Default 80 (the paper's).
        alpha: regularity of the contour (> 0). Default 3.0.
        seed: int or numpy Generator. Default 0.
        background_alpha: regularity of the backgrounds; None = alpha. Default None.
        contour_amplitude: three standard deviations of the contour, as a fraction of
            size (< 0.5). Default 0.25.
        intensity_ranges: ((lo1, hi1), (lo2, hi2)) value ranges of the two regions.
            Default ((0, 0.5), (0.5, 1)).
        blur: blur the mask with a 2x2 box. Default True.
        return_contours: also return the (n, size) contour rows (in pixels). Default False.
        chunk_size: images generated at once (bounds memory). Default 1024.

    Returns:
        float32 images (n, size, size, 1), and the contours if asked.

    Example:

    >>> images = keras_gahb.data.calpha_images(4, size=32, alpha=2.0, seed=0)

    Reference: Kadkhodaie et al., ICLR 2024, Appendix E, https://arxiv.org/abs/2310.02557;
    Korostelev & Tsybakov, "Minimax theory of image reconstruction" (1993).
    """
    n, size = check_count(n), check_size(size, minimum=4)
    background_alpha = alpha if background_alpha is None else background_alpha
    for value, name in ((alpha, "alpha"), (background_alpha, "background_alpha")):
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a positive number, got {value}.")
    if not 0 < contour_amplitude < 0.5:
        raise ValueError(f"contour_amplitude must be in (0, 0.5), got {contour_amplitude}.")
    ranges = np.asarray(intensity_ranges, dtype=np.float32)
    if ranges.shape != (2, 2) or np.any(ranges[:, 1] < ranges[:, 0]) or ranges.min() < 0 \
            or ranges.max() > 1:
        raise ValueError(
            "intensity_ranges must be ((lo1, hi1), (lo2, hi2)) with 0 <= lo <= hi <= 1, "
            f"got {intensity_ranges}."
        )
    rng = numpy_rng(seed)
    filter_1d = _power_filter(np.fft.rfftfreq(size) * size, alpha)
    # Standard deviation of the filtered white noise: var = sum_k |filter(k)|^2 / size.
    curve_std = np.sqrt((_power_filter(np.abs(np.fft.fftfreq(size) * size), alpha) ** 2).sum()
                        / size)
    ky = np.fft.fftfreq(size)[:, None] * size
    kx = np.fft.rfftfreq(size)[None, :] * size
    filter_2d = _power_filter(np.hypot(ky, kx), background_alpha).astype(np.float32)
    rows = np.arange(size, dtype=np.float32)[None, :, None] + 0.5

    images = np.empty((n, size, size, 1), np.float32)
    contours = np.empty((n, size), np.float32)
    for start in range(0, n, chunk_size):
        m = min(chunk_size, n - start)
        curve = np.fft.irfft(np.fft.rfft(rng.standard_normal((m, size))) * filter_1d, n=size)
        contour = size / 2 + (contour_amplitude * size / (3 * curve_std)) * curve
        contour = np.clip(contour, 0.0, float(size)).astype(np.float32)
        # Filtered white noise, synthesised in Fourier: the rfft2 of 2-D white noise
        # is (up to the Hermitian-symmetric bins, which irfft2 handles) complex white noise.
        pairs = rng.standard_normal((2, m, size, size // 2 + 1, 2), dtype=np.float32)
        spectrum = pairs.view(np.complex64)[..., 0]  # (real, imag) pairs, no copy
        spectrum *= filter_2d
        backgrounds = scipy.fft.irfft2(spectrum, s=(size, size), workers=-1)
        low = backgrounds.min(axis=(2, 3), keepdims=True)
        high = backgrounds.max(axis=(2, 3), keepdims=True)
        swap = rng.uniform(size=m) < 0.5
        lo = np.where(swap[None, :], ranges[::-1, 0, None], ranges[:, 0, None])[..., None, None]
        hi = np.where(swap[None, :], ranges[::-1, 1, None], ranges[:, 1, None])[..., None, None]
        backgrounds -= low
        backgrounds *= (hi - lo) / (high - low)
        backgrounds += lo
        mask = (rows > contour[:, None, :]).astype(np.float32)
        if blur:
            padded = np.pad(mask, ((0, 0), (0, 1), (0, 1)), mode="edge")
            mask = 0.25 * (padded[:, :-1, :-1] + padded[:, 1:, :-1] + padded[:, :-1, 1:]
                           + padded[:, 1:, 1:])
        images[start:start + m, :, :, 0] = backgrounds[1] + mask * (backgrounds[0] - backgrounds[1])
        contours[start:start + m] = contour
    return (images, contours) if return_contours else images


def _power_filter(frequency, alpha):
    """|k|^-alpha with the DC term set to 0."""
    safe = np.where(frequency == 0, 1.0, frequency)
    return np.where(frequency == 0, 0.0, safe ** (-float(alpha)))
