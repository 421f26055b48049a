"""C^alpha images: two regular textures separated by a regular contour (paper Appendix E)."""

import numpy as np
import scipy.fft

from keras_gahb.utils import numpy_rng
from keras_gahb.data.transforms import check_count, check_size

#: "authors": the authors' generator (random overlapping intensity ranges, 1/|k| filters with
#: the DC gain of the first harmonic, integer contour rows); "fixed_ranges": fixed
#: non-overlapping ranges and a contour rescaled to a fixed amplitude (keras_gahb <= 0.1).
CALPHA_VARIANTS = ("authors", "fixed_ranges")


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
    variant="fixed_ranges",
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
        variant: "fixed_ranges" (default, the recipe above) or "authors" (the
            authors' generator, `calpha_images_authors`; then only alpha,
            background_alpha, blur and return_contours apply).

    Returns:
        float32 images (n, size, size, 1), and the contours if asked.

    Example:

    >>> images = keras_gahb.data.calpha_images(4, size=32, alpha=2.0, seed=0)

    Reference: Kadkhodaie et al., ICLR 2024, Appendix E, https://arxiv.org/abs/2310.02557;
    Korostelev & Tsybakov, "Minimax theory of image reconstruction" (1993).
    """
    if variant not in CALPHA_VARIANTS:
        raise ValueError(f"Unknown C^alpha variant {variant!r}; use one of "
                         f"{', '.join(CALPHA_VARIANTS)}.")
    if variant == "authors":
        return calpha_images_authors(n, size, alpha=alpha, seed=seed,
                                     background_alpha=background_alpha, blur=blur,
                                     return_contours=return_contours, chunk_size=chunk_size)
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


def calpha_images_authors(n, size=80, alpha=3.0, seed=0, background_alpha=None, blur=True,
                          return_contours=False, chunk_size=1024):
    """C^alpha images as the authors' code draws them.

    - filter 1/|k| on the integer frequencies k of fftfreq * size, with the DC
      entry given its neighbour's value (1), raised to the power alpha;
    - contour: the inverse FFT of (FFT of U[-1, 1] white noise) x filter^alpha,
      in integer rows round(contour * size) + size / 2; mask = 0 above the
      contour row, 1 from it down;
    - backgrounds: 2-D U[-1, 1] white noise filtered by the radial filter^alpha;
      a fair coin picks which one is rescaled (min-max) to [u, 1] and which to
      [0, u'], with u, u' independent U(0, 1), so the ranges may overlap;
    - mask blurred by a 2x2 box (reflect padding); image = B1 M + B2 (1 - M),
      not clipped (values stay in [0, 1] since both backgrounds do).

    Args:
        n: number of images.
        size: image side. Default 80.
        alpha: regularity of the contour and (by default) the backgrounds. Default 3.0.
        seed: int or numpy Generator. Default 0.
        background_alpha: regularity of the backgrounds; None = alpha.
        blur: blur the mask with a 2x2 box. Default True.
        return_contours: also return the (n, size) contour rows. Default False.
        chunk_size: images generated at once. Default 1024.

    Returns:
        float32 images (n, size, size, 1), and the contours if asked.

    Example:

    >>> images = keras_gahb.data.calpha_images(4, size=32, alpha=2.0, variant="authors")

    Reference: Kadkhodaie et al., ICLR 2024, Appendix E, https://arxiv.org/abs/2310.02557
    (the authors' public code).
    """
    n, size = check_count(n), check_size(size, minimum=4)
    background_alpha = alpha if background_alpha is None else background_alpha
    for value, name in ((alpha, "alpha"), (background_alpha, "background_alpha")):
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a positive number, got {value}.")
    rng = numpy_rng(seed)
    k = np.abs(np.fft.fftfreq(size) * size)
    filter_1d = _authors_filter(k) ** float(alpha)
    filter_2d = _authors_filter(np.hypot(k[:, None], k[None, :])) ** float(background_alpha)
    rows = np.arange(size)[None, :, None]
    images = np.empty((n, size, size, 1), np.float32)
    contours = np.empty((n, size), np.float32)
    for start in range(0, n, chunk_size):
        m = min(chunk_size, n - start)
        curve = np.fft.ifft(np.fft.fft(rng.uniform(-1, 1, (m, size))) * filter_1d).real
        contour = np.round(curve * size) + size // 2
        noise = rng.uniform(-1, 1, (2, m, size, size))
        backgrounds = np.fft.ifft2(np.fft.fft2(noise) * filter_2d).real
        low = backgrounds.min(axis=(2, 3), keepdims=True)
        high = backgrounds.max(axis=(2, 3), keepdims=True)
        backgrounds = (backgrounds - low) / np.maximum(high - low, 1e-12)
        u_high, u_low = rng.uniform(size=(2, m))  # [u_high, 1] and [0, u_low]
        bright = backgrounds[0] * (1 - u_high)[:, None, None] + u_high[:, None, None]
        dark = backgrounds[1] * u_low[:, None, None]
        coin = (rng.uniform(size=m) < 0.5)[:, None, None]
        b1, b2 = np.where(coin, bright, dark), np.where(coin, dark, bright)
        mask = (rows >= contour[:, None, :]).astype(np.float64)
        if blur:
            padded = np.pad(mask, ((0, 0), (0, 1), (0, 1)), mode="reflect")
            mask = 0.25 * (padded[:, :-1, :-1] + padded[:, 1:, :-1] + padded[:, :-1, 1:]
                           + padded[:, 1:, 1:])
        images[start:start + m, :, :, 0] = b1 * mask + b2 * (1 - mask)
        contours[start:start + m] = contour
    return (images, contours) if return_contours else images


def _authors_filter(frequency):
    """1/|k| with the DC entry given the value at |k| = 1."""
    return 1.0 / np.where(frequency == 0, 1.0, frequency)


def _power_filter(frequency, alpha):
    """|k|^-alpha with the DC term set to 0."""
    safe = np.where(frequency == 0, 1.0, frequency)
    return np.where(frequency == 0, 0.0, safe ** (-float(alpha)))
