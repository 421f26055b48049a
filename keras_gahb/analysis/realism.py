"""How data-like samples are, and similarity baselines matched to the samples' smoothness.

A sampler whose denoiser smooths (an under-trained one does) draws images smoother than the
data, and smoothness alone raises every correlation between images. These measures say how
smooth samples are against data images, and give the similarity that data images have at the
samples' smoothness, so that "S1 and S2 agree" can be compared with a baseline that smoothing
cannot beat:

- `gradient_energy_ratio`: per image, the mean squared gradient (forward differences) over
  the variance, 4 (1 - rho_1) with rho_1 the lag-1 autocorrelation (white noise 4, smooth
  images near 0).
- `radial_power_spectrum`: the radially averaged power spectrum, each image normalized to unit
  power; `sample_realism` compares samples with reference images in both measures.
- `gaussian_blur`, `blur_to_match`: blur images until their mean gradient-energy ratio is a
  target.
- `matched_blur_baseline`, `matched_agreement`: test images blurred to the samples'
  gradient-energy ratio, their correlation with their closest (blurred) training image; the
  agreement of two sample sets against it.

Reference: Kadkhodaie, Guth, Simoncelli, Mallat (2024), https://arxiv.org/abs/2310.02557
(their Fig 2 compares S1-S2 sample similarity with closest-training-image similarity).
"""

import numpy as np

from keras_gahb.metrics import cosine_similarity
from keras_gahb.utils.images import as_image_batch

#: Spectral bins above this frequency (cycles per pixel) form the "high-frequency" band.
HIGH_FREQUENCY = 0.25


def gradient_energy_ratio(images):
    """Per image: gradient energy over variance, mean |grad x|^2 / var(x).

        r(x) = (mean (x[i+1, j] - x[i, j])^2 + mean (x[i, j+1] - x[i, j])^2) / var(x)

    (forward differences inside the image, channels pooled). For an isotropic stationary
    image r = 4 (1 - rho_1), rho_1 the correlation of neighbouring pixels: white noise gives 4,
    a smooth image a value near 0. Scale and offset do not change it.

    Args:
        images: (n, H, W, C) with H, W >= 2 (channels are pooled).

    Returns:
        float64 array (n,); NaN for a constant image.

    Example:

    >>> noise = np.random.default_rng(0).random((4, 64, 64, 1))
    >>> keras_gahb.analysis.gradient_energy_ratio(noise).round(1)
    array([4., 4., 4., 4.])
    """
    x = _images(images)
    if x.shape[1] < 2 or x.shape[2] < 2:
        raise ValueError(f"Images must be at least 2x2 pixels, got {x.shape[1]}x{x.shape[2]}.")
    dy = np.diff(x, axis=1) ** 2
    dx = np.diff(x, axis=2) ** 2
    energy = dy.mean(axis=(1, 2, 3)) + dx.mean(axis=(1, 2, 3))
    variance = x.var(axis=(1, 2, 3))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(variance > 0, energy / np.where(variance > 0, variance, 1.0), np.nan)


def radial_power_spectrum(images, num_bins=None):
    """Radially averaged power spectrum of mean-removed images, each normalized to unit power.

    Per image (channels pooled), |FFT(w (x - mean))|^2 divided by its sum over all
    frequencies, with w a separable Hann window (the jump between opposite edges of a
    non-periodic image would otherwise leak power to every frequency, a floor that hides how
    smooth an image is: measured on white noise blurred by 1 pixel at 64x64, the top bin is
    within 0.11 decades of the blur's exp(-(2 pi f sigma)^2) with the window and 0.9 decades
    off without); then, per radial bin of frequency (cycles per pixel, bins of equal width
    on (0, 0.5]), the mean power per frequency, averaged over images. White noise is flat at
    about 1 / D.

    Args:
        images: (n, H, W, C).
        num_bins: number of radial bins. Defaults to min(H, W) // 2.

    Returns:
        dict: "frequencies" (bin centres), "power" (num_bins,), "modes" (frequencies per bin).
    """
    x = _images(images)
    height, width = x.shape[1:3]
    num_bins = min(height, width) // 2 if num_bins is None else int(num_bins)
    if num_bins < 1:
        raise ValueError(f"num_bins must be >= 1 (images {height}x{width}), got {num_bins}.")
    window = np.outer(np.hanning(height + 2)[1:-1], np.hanning(width + 2)[1:-1])
    x = (x - x.mean(axis=(1, 2), keepdims=True)) * window[None, :, :, None]
    power = (np.abs(np.fft.fft2(x, axes=(1, 2))) ** 2).sum(axis=-1)
    total = power.sum(axis=(1, 2), keepdims=True)
    keep = total[:, 0, 0] > 0
    if not keep.any():
        raise ValueError("Every image is constant: it has no spectrum.")
    power = power[keep] / total[keep]
    radius = np.hypot(*np.meshgrid(np.fft.fftfreq(height), np.fft.fftfreq(width), indexing="ij"))
    edges = np.linspace(0.0, 0.5, num_bins + 1)
    index = np.searchsorted(edges, radius, side="left") - 1  # bin i holds (edges[i], edges[i+1]]
    mean_power = power.mean(axis=0)
    spectrum = np.full(num_bins, np.nan)
    modes = np.zeros(num_bins, np.int64)
    for i in range(num_bins):
        chosen = (index == i) & (radius > 0)
        modes[i] = int(chosen.sum())
        if modes[i]:
            spectrum[i] = float(mean_power[chosen].mean())
    return {"frequencies": 0.5 * (edges[:-1] + edges[1:]), "power": spectrum, "modes": modes}


def sample_realism(samples, reference, num_bins=None):
    """How data-like `samples` are against `reference` images (e.g. held-out test images).

    Args:
        samples: (n, H, W, C).
        reference: (m, H, W, C) data images of the same size.
        num_bins: radial spectrum bins (`radial_power_spectrum`).

    Returns:
        dict: "gradient_energy_ratio" (mean over samples), "reference_gradient_energy_ratio",
        "smoothness_ratio" (their quotient: 1 = as rough as data, < 1 smoother, > 1 rougher),
        "frequencies", "spectrum", "reference_spectrum", "spectrum_log_ratio" (log10 of
        samples over reference per bin), "high_frequency_log_ratio" (its mean over bins above
        `HIGH_FREQUENCY` cycles per pixel: < 0 = missing fine detail), "spectral_distance"
        (root mean square of the log ratio over bins).

    Example:

    >>> out = keras_gahb.analysis.sample_realism(samples, test_images)
    >>> out["smoothness_ratio"], out["high_frequency_log_ratio"]
    """
    s, r = _images(samples, "samples"), _images(reference, "reference")
    if s.shape[1:] != r.shape[1:]:
        raise ValueError(f"Samples {s.shape[1:]} and reference images {r.shape[1:]} differ in shape.")
    ratio_s = _nanmean(gradient_energy_ratio(s))
    ratio_r = _nanmean(gradient_energy_ratio(r))
    spec_s = radial_power_spectrum(s, num_bins)
    spec_r = radial_power_spectrum(r, num_bins)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.log10(spec_s["power"] / spec_r["power"])
    high = spec_s["frequencies"] > HIGH_FREQUENCY
    finite = np.isfinite(log_ratio)
    return {
        "gradient_energy_ratio": ratio_s,
        "reference_gradient_energy_ratio": ratio_r,
        "smoothness_ratio": ratio_s / ratio_r if ratio_r > 0 else float("nan"),
        "frequencies": spec_s["frequencies"],
        "spectrum": spec_s["power"],
        "reference_spectrum": spec_r["power"],
        "spectrum_log_ratio": log_ratio,
        "high_frequency_log_ratio": _nanmean(log_ratio[high & finite]),
        "spectral_distance": float(np.sqrt(np.mean(log_ratio[finite] ** 2))) if finite.any()
        else float("nan"),
    }


def gaussian_blur(images, sigma):
    """Blur each image (and channel) with a Gaussian of standard deviation `sigma` pixels.

    Separable, reflect padding, kernel truncated at 4 sigma (`scipy.ndimage.gaussian_filter`);
    sigma = 0 returns the images unchanged.

    Returns:
        float64 array of the input's shape.
    """
    x = _images(images)
    sigma = float(sigma)
    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"The blur sigma must be a finite number >= 0, got {sigma}.")
    if sigma == 0:
        return x
    from scipy import ndimage  # here, not at import: scipy costs seconds to import

    return ndimage.gaussian_filter(x, sigma=(0, sigma, sigma, 0), mode="reflect", truncate=4.0)


def blur_to_match(images, target_ratio, max_sigma=None, tolerance=1e-3):
    """The Gaussian blur that brings the images' mean gradient-energy ratio to `target_ratio`.

    The ratio falls as the blur grows; bisection on sigma in [0, max_sigma]. A target at or
    above the images' own ratio needs no blur (sigma = 0: blurring cannot sharpen); one below
    the ratio at `max_sigma` gets `max_sigma`.

    Args:
        images: (n, H, W, C).
        target_ratio: float > 0, e.g. the mean `gradient_energy_ratio` of samples.
        max_sigma: largest blur in pixels. Defaults to min(H, W) / 4.
        tolerance: stop when the ratio is within this relative tolerance. Default 1e-3.

    Returns:
        dict: "sigma" (the blur), "ratio" (the blurred images' mean ratio), "images" (blurred).
    """
    x = _images(images)
    target = float(target_ratio)
    if not np.isfinite(target) or target <= 0:
        raise ValueError(f"target_ratio must be a positive number, got {target_ratio}.")
    max_sigma = min(x.shape[1:3]) / 4.0 if max_sigma is None else float(max_sigma)

    def ratio_at(sigma):
        return _nanmean(gradient_energy_ratio(gaussian_blur(x, sigma)))

    if target >= ratio_at(0.0):
        return {"sigma": 0.0, "ratio": ratio_at(0.0), "images": x}
    if target <= ratio_at(max_sigma):
        return {"sigma": max_sigma, "ratio": ratio_at(max_sigma), "images": gaussian_blur(x, max_sigma)}
    low, high = 0.0, max_sigma
    for _ in range(60):
        mid = 0.5 * (low + high)
        value = ratio_at(mid)
        if abs(value - target) <= tolerance * target:
            break
        low, high = (mid, high) if value > target else (low, mid)
    return {"sigma": mid, "ratio": value, "images": gaussian_blur(x, mid)}


def matched_blur_baseline(test_images, train_images, target_ratio):
    """The closest-training-image correlation of data images at a target smoothness.

    The test images are blurred (`blur_to_match`) until their mean gradient-energy ratio is
    `target_ratio` (e.g. that of the samples); the training images get the same blur. Per
    test image, the correlation (mean-removed cosine) with its closest training image, in
    three forms:

    - "matched": blurred test image vs closest blurred training image: two images of the
      samples' smoothness that are nearest neighbours in the data. Two sample sets agree
      beyond what smoothing gives only if they correlate more than this.
    - "one_sided": blurred test image vs closest (sharp) training image: what a smooth but new
      image shows against the training set (compare with the samples' closest-train
      correlation).
    - "sharp": test image vs closest training image, no blur.

    Returns:
        dict: "blur_sigma", "target_ratio", "data_ratio" (the test images' own mean ratio),
        "achieved_ratio", "matched", "one_sided", "sharp" (per test image, (n,)), and their
        means "matched_mean", "one_sided_mean", "sharp_mean".
    """
    from keras_gahb.analysis.measures import nearest_neighbors

    test, train = _images(test_images, "test_images"), _images(train_images, "train_images")
    if test.shape[1:] != train.shape[1:]:
        raise ValueError(f"Test images {test.shape[1:]} and training images {train.shape[1:]} "
                         "differ in shape.")
    blurred = blur_to_match(test, target_ratio)
    train_blurred = gaussian_blur(train, blurred["sigma"])

    def closest(a, b):
        return nearest_neighbors(a, b, metric="correlation")["scores"][:, 0]

    matched = closest(blurred["images"], train_blurred)
    one_sided = closest(blurred["images"], train)
    sharp = closest(test, train)
    return {
        "blur_sigma": float(blurred["sigma"]),
        "target_ratio": float(target_ratio),
        "data_ratio": _nanmean(gradient_energy_ratio(test)),
        "achieved_ratio": float(blurred["ratio"]),
        "matched": matched, "one_sided": one_sided, "sharp": sharp,
        "matched_mean": float(matched.mean()), "one_sided_mean": float(one_sided.mean()),
        "sharp_mean": float(sharp.mean()),
    }


def matched_agreement(samples_a, samples_b, test_images, train_images, z=2.0):
    """Do two sample sets agree beyond what their smoothness gives? (S1 vs S2 from one seed.)

    The agreement is the mean correlation of pairs (samples_a[i], samples_b[i]). The baseline
    is `matched_blur_baseline` at the pooled samples' mean gradient-energy ratio: how much two
    data images of that smoothness correlate when one is the other's closest training image.
    The sets agree above the baseline when the margin (agreement - baseline mean) exceeds `z`
    standard errors (of the two means, independent).

    Args:
        samples_a, samples_b: paired samples (n, H, W, C), e.g. of models S1 and S2 drawn
            with the same sampler seed.
        test_images: held-out data images (m, H, W, C).
        train_images: the training images whose closest match defines the baseline.
        z: standard errors the margin must exceed. Default 2.

    Returns:
        dict: "agreement" (mean), "agreement_per_pair", "sample_ratio" (gradient-energy ratio
        of the samples), "baseline" (the matched mean), "margin", "margin_se", "above_baseline"
        (bool), and the `matched_blur_baseline` entries under "matched_baseline".

    Example:

    >>> out = keras_gahb.analysis.matched_agreement(s1_samples, s2_samples, test, train)
    >>> out["agreement"], out["baseline"], out["above_baseline"]
    """
    a, b = _images(samples_a, "samples_a"), _images(samples_b, "samples_b")
    if a.shape != b.shape or len(a) == 0:
        raise ValueError(f"samples_a and samples_b must be paired (same shape, at least one "
                         f"pair); got {a.shape} and {b.shape}.")
    agreement = cosine_similarity(a, b, mean_removed=True)
    sample_ratio = _nanmean(gradient_energy_ratio(np.concatenate([a, b])))
    base = matched_blur_baseline(test_images, train_images, sample_ratio)
    margin = float(agreement.mean() - base["matched_mean"])
    se = (float(np.sqrt(agreement.var(ddof=1) / len(agreement)
                        + base["matched"].var(ddof=1) / len(base["matched"])))
          if len(agreement) > 1 and len(base["matched"]) > 1 else float("nan"))
    return {
        "agreement": float(agreement.mean()),
        "agreement_per_pair": agreement,
        "sample_ratio": sample_ratio,
        "baseline": base["matched_mean"],
        "margin": margin,
        "margin_se": se,
        "z": float(z),
        "above_baseline": bool(np.isfinite(se) and margin > z * se),
        "matched_baseline": base,
    }


def _images(images, name="images"):
    return as_image_batch(images, name, allow_one_image=False).astype(np.float64)


def _nanmean(values):
    values = np.asarray(values, np.float64)
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else float("nan")


__all__ = [
    "HIGH_FREQUENCY",
    "blur_to_match",
    "gaussian_blur",
    "gradient_energy_ratio",
    "matched_agreement",
    "matched_blur_baseline",
    "radial_power_spectrum",
    "sample_realism",
]
