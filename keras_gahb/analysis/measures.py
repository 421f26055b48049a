"""Generalization measures: PSNR curves, MSE slopes, similarity, memorization, KL bound.

All functions take numpy arrays (or backend tensors) of images (n, H, W, C)
and return numpy values or plain dicts; the ones that draw noise take a seed.

Reference: Kadkhodaie, Guth, Simoncelli, Mallat (2024), https://arxiv.org/abs/2310.02557;
Gu et al. (2023), "On memorization in diffusion models", https://arxiv.org/abs/2310.02664.
"""


import numpy as np

from keras_gahb import backend
from keras_gahb.metrics import PSNR_CAP_DB, cosine_similarity, noisy_versions, psnr
from keras_gahb.metrics import flat_images as _flat
from keras_gahb.metrics import normalize_rows as _normalize
from keras_gahb.metrics import per_image_mse as _per_image_mse
from keras_gahb.utils import numpy_rng
from keras_gahb.utils.images import as_image_batch


def denoise(denoiser, images, batch_size=64):
    """Apply a denoiser in inference mode, `batch_size` images at a time (float32 numpy).

    Uses the compiled function cached by `keras_gahb.backend.forward`.
    """
    images = check_images(images)
    if not callable(denoiser):
        raise ValueError(f"The denoiser must be callable, got {type(denoiser).__name__}.")
    outputs = []
    for start in range(0, len(images), int(batch_size)):
        outputs.append(backend.forward(denoiser, images[start : start + batch_size]))
    return np.concatenate(outputs)


def mse_curve(denoiser, images, sigmas, seed=0, batch_size=64):
    """Per-image, per-pixel MSE of the denoiser over a noise grid, shape (n, len(sigmas)).

    The same white noise z is used at every sigma (y = x + sigma z,
    `keras_gahb.metrics.noisy_versions`), which makes curves and slopes
    smoother (common random numbers).

    Args:
        denoiser: Keras model or callable on (B, H, W, C) batches.
        images: clean images (n, H, W, C).
        sigmas: noise standard deviations (sequence of positive floats).
        seed: int or numpy Generator for z. Default 0.
        batch_size: images per call. Default 64.
    """
    images = check_images(images)
    sigmas = check_sigmas(sigmas)
    mse = np.empty((len(images), len(sigmas)))
    for j, (sigma, noisy) in enumerate(zip(sigmas, noisy_versions(images, sigmas, seed))):
        denoised = denoise(denoiser, noisy, batch_size)
        if not np.all(np.isfinite(denoised)):
            raise ValueError(f"The denoiser returned non-finite values at sigma={sigma}.")
        mse[:, j] = _per_image_mse(denoised, images)
    return mse


def psnr_curve(denoiser, images, sigmas, seed=0, batch_size=64):
    """Output PSNR against input PSNR over a noise grid (the paper's Fig 1 curves).

    Input PSNR = -10 log10(sigma^2) (nominal); output PSNR = the mean over images
    of the per-image PSNR, capped at 100 dB (a memorizer can return a training
    image exactly): the convention of `keras_gahb.metrics`, shared with
    `keras_gahb.training.PSNRCallback` (same seed and images: same numbers).

    Args:
        denoiser: Keras model or callable on (B, H, W, C) batches.
        images: clean images in [0, 1], (n, H, W, C).
        sigmas: noise standard deviations.
        seed: int or numpy Generator. Default 0.
        batch_size: images per call. Default 64.

    Returns:
        dict with "sigmas", "input_psnr", "output_psnr" (per sigma), "mse"
        (n, len(sigmas)) and "output_psnr_std" (std over images of per-image PSNR).

    Example:

    >>> curve = keras_gahb.analysis.psnr_curve(model, x, [0.05, 0.1, 0.2], seed=0)
    """
    sigmas = check_sigmas(sigmas)
    mse = mse_curve(denoiser, images, sigmas, seed=seed, batch_size=batch_size)
    # A memorizing denoiser can return a training image exactly (MSE 0): cap PSNR at 100 dB.
    per_image = -10.0 * np.log10(np.maximum(mse, 10.0 ** (-PSNR_CAP_DB / 10.0)))
    return {
        "sigmas": sigmas,
        "input_psnr": -10.0 * np.log10(sigmas**2),
        "output_psnr": per_image.mean(axis=0),
        "output_psnr_std": per_image.std(axis=0),
        "mse": mse,
    }


def train_test_gap(train_curve, test_curve):
    """Output-PSNR gap train - test per sigma (dB), from two `psnr_curve` results.

    A memorizing model denoises its training images far better than new ones
    (gap of many dB); a generalizing one has gap ~ 0.
    """
    a, b = np.asarray(train_curve["sigmas"]), np.asarray(test_curve["sigmas"])
    if a.shape != b.shape or not np.allclose(a, b):
        raise ValueError("The train and test curves must use the same sigma grid.")
    return np.asarray(train_curve["output_psnr"]) - np.asarray(test_curve["output_psnr"])


def mse_slope(sigmas, mse, sigma_range=None, confidence=0.95, num_bootstrap=1000, seed=0):
    """Slope of log MSE against log sigma^2, with a confidence interval.

    Fits log MSE = a + s log sigma^2 by least squares on the mean MSE curve.
    The optimal MSE of a C^alpha image class scales as (sigma^2)^(alpha/(alpha+1))
    and that of a d-dimensional manifold as d sigma^2 (slope 1).

    Args:
        sigmas: noise levels, (m,).
        mse: (m,) MSE per sigma, or (n, m) per image and sigma (e.g. from
            `mse_curve`); then the interval is a percentile bootstrap over images.
        sigma_range: optional (low, high): only sigmas in [low, high] are used.
        confidence: interval level. Default 0.95.
        num_bootstrap: bootstrap resamples for 2-D `mse`. Default 1000.
        seed: int or numpy Generator of the bootstrap. Default 0.

    Returns:
        dict: slope, intercept, ci_low, ci_high, r2, num_sigmas, sigma_min,
        sigma_max, method ("t" or "bootstrap").

    Example:

    >>> fit = keras_gahb.analysis.mse_slope([0.1, 0.2, 0.4], [0.01, 0.04, 0.16])
    >>> round(fit["slope"], 6)
    1.0
    """
    sigmas = check_sigmas(sigmas)
    mse = np.asarray(mse, np.float64)
    if mse.shape[-1] != len(sigmas) or mse.ndim not in (1, 2):
        raise ValueError(
            f"mse must have shape ({len(sigmas)},) or (n, {len(sigmas)}) to match sigmas; got {mse.shape}."
        )
    if not np.all(np.isfinite(mse)) or np.any(mse <= 0):
        raise ValueError("mse values must be finite and positive to take logs.")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}.")
    keep = np.ones(len(sigmas), bool)
    if sigma_range is not None:
        low, high = sigma_range
        keep = (sigmas >= low) & (sigmas <= high)
    if keep.sum() < 3:
        raise ValueError(
            f"Need at least 3 sigmas to fit a slope with an interval; {keep.sum()} in range {sigma_range}."
        )
    x = np.log(sigmas[keep] ** 2)
    curve = mse[..., keep]
    mean_curve = curve if curve.ndim == 1 else curve.mean(axis=0)
    from scipy import stats  # here, not at import: scipy.stats costs seconds to import

    fit = stats.linregress(x, np.log(mean_curve))
    if curve.ndim == 2 and len(curve) > 1:
        rng = numpy_rng(seed)
        slopes = np.empty(num_bootstrap)
        for b in range(num_bootstrap):
            pick = rng.integers(0, len(curve), len(curve))
            slopes[b] = np.polyfit(x, np.log(curve[pick].mean(axis=0)), 1)[0]
        alpha = (1 - confidence) / 2
        low, high = np.quantile(slopes, [alpha, 1 - alpha])
        method = "bootstrap"
    else:
        t = stats.t.ppf(0.5 + confidence / 2, len(x) - 2)
        low, high = fit.slope - t * fit.stderr, fit.slope + t * fit.stderr
        method = "t"
    return {
        "slope": float(fit.slope),
        "intercept": float(fit.intercept),
        "ci_low": float(low),
        "ci_high": float(high),
        "confidence": float(confidence),
        "r2": float(fit.rvalue**2),
        "num_sigmas": int(keep.sum()),
        "sigma_min": float(sigmas[keep].min()),
        "sigma_max": float(sigmas[keep].max()),
        "method": method,
    }


def nearest_neighbors(samples, train_images, metric="correlation", k=1, batch_size=1024):
    """The k training images closest to each sample.

    Args:
        samples: (n, H, W, C).
        train_images: (N, H, W, C).
        metric: "correlation" (mean-removed cosine, the paper's choice),
            "cosine", "l2" (Euclidean distance), or "ray" (distance to the
            nearest positive multiple of a training image,
            min_{a >= 0} ||s - a x_i||: what a bias-free denoiser memorizes,
            since it maps every a x_i to itself). Default "correlation".
        k: neighbours per sample. Default 1.
        batch_size: training images compared at once (bounds memory). Default 1024.

    Returns:
        dict with "indices" (n, k) and "scores" (n, k): similarities in
        decreasing order for correlation/cosine, distances in increasing order
        for l2 and ray.

    Example:

    >>> nn = keras_gahb.analysis.nearest_neighbors(samples, train, metric="l2", k=2)
    """
    if metric not in ("correlation", "cosine", "l2", "ray"):
        raise ValueError(f"Unknown metric '{metric}'. Use 'correlation', 'cosine', 'l2' or 'ray'.")
    s, t = _flat(samples), _flat(train_images)
    if s.shape[1] != t.shape[1]:
        raise ValueError(
            f"Samples and training images differ in size: {s.shape[1]} vs {t.shape[1]} values per image."
        )
    k = int(k)
    if not 1 <= k <= len(t):
        raise ValueError(f"k must be between 1 and the number of training images ({len(t)}); got {k}.")
    distance = metric in ("l2", "ray")
    if distance:
        s_sq = np.sum(s**2, axis=1, keepdims=True)
    else:
        s = _normalize(s, metric == "correlation")
    best_scores = np.full((len(s), 0), np.nan)
    best_indices = np.zeros((len(s), 0), np.int64)
    for start in range(0, len(t), int(batch_size)):
        chunk = t[start : start + batch_size]
        if distance:
            inner = s @ chunk.T
            chunk_sq = np.sum(chunk**2, axis=1)[None]
            if metric == "l2":
                d2 = s_sq - 2 * inner + chunk_sq
            else:  # ray: the best scale is a = max(<s, x>, 0) / ||x||^2
                d2 = s_sq - np.maximum(inner, 0.0) ** 2 / np.maximum(chunk_sq, 1e-30)
            scores = np.sqrt(np.maximum(d2, 0.0))
            key = scores
        else:
            scores = s @ _normalize(chunk, metric == "correlation").T
            key = -scores
        indices = np.broadcast_to(np.arange(start, start + len(chunk)), scores.shape)
        all_scores = np.concatenate([best_scores, scores], axis=1)
        all_indices = np.concatenate([best_indices, indices], axis=1)
        all_keys = np.concatenate([best_scores if distance else -best_scores, key], axis=1)
        order = np.argsort(all_keys, axis=1, kind="stable")[:, :k]
        best_scores = np.take_along_axis(all_scores, order, axis=1)
        best_indices = np.take_along_axis(all_indices, order, axis=1)
    return {"indices": best_indices, "scores": best_scores}


def memorization_ratio(samples, train_images, threshold=1.0 / 3.0, scale_invariant=False,
                       batch_size=1024):
    """Share of samples that copy a training image (Gu et al. 2023).

    A sample counts as memorized when its L2 distance to the nearest training
    image is below `threshold` times the distance to the second nearest.

    With `scale_invariant=True` the distance to x_i is the distance to the
    ray of its positive multiples, min_{a >= 0} ||s - a x_i||. A bias-free
    denoiser that memorizes x_i maps every a x_i to itself, so its samples are
    copies up to a global scale; the sampler's injected noise random-walks
    along that ray, by a relative amount that grows as images get smaller
    (about 30% at 16x16 with the paper's beta = 0.1), which the plain rule
    counts as "not a copy".

    Returns:
        dict: "ratio" (the share), "memorized" (n,) booleans, "distance_ratios"
        (n,) d1 / d2, "nearest" (n,) indices of the nearest training images.

    Reference: Gu, Du, Pang, Li, Lin, Wang (2023), https://arxiv.org/abs/2310.02664.
    """
    if len(_flat(train_images)) < 2:
        raise ValueError("The memorization ratio needs at least 2 training images.")
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}.")
    nn = nearest_neighbors(samples, train_images, metric="ray" if scale_invariant else "l2", k=2,
                           batch_size=batch_size)
    d1, d2 = nn["scores"][:, 0], nn["scores"][:, 1]
    ratios = d1 / np.maximum(d2, 1e-30)
    memorized = ratios < threshold
    return {
        "ratio": float(memorized.mean()),
        "memorized": memorized,
        "distance_ratios": ratios,
        "nearest": nn["indices"][:, 0],
    }


def relative_model_variance(f1, f2, clean, sigmas, seed=0, batch_size=64):
    """||f1(y) - f2(y)||^2 / ||f1(y) - x||^2 per sigma, with the same noisy y for both.

    Sums run over images and pixels. Near 0: the two models (e.g. trained on
    disjoint sets S1 and S2) compute nearly the same function, i.e. their
    difference is small compared to their error; near 2: independent errors.

    Returns:
        numpy array (len(sigmas),).
    """
    clean = check_images(clean)
    sigmas = check_sigmas(sigmas)
    noise = numpy_rng(seed).standard_normal(clean.shape).astype(np.float32)
    ratios = np.empty(len(sigmas))
    for j, sigma in enumerate(sigmas):
        noisy = clean + np.float32(sigma) * noise
        out1 = denoise(f1, noisy, batch_size).astype(np.float64)
        out2 = denoise(f2, noisy, batch_size).astype(np.float64)
        ratios[j] = np.sum((out1 - out2) ** 2) / max(np.sum((out1 - clean) ** 2), 1e-30)
    return ratios


def kl_bound(sigmas, mse_model, mse_optimal, num_pixels=1):
    """Upper bound on D_KL(p || p_theta) from MSE curves (trapezoid rule over the grid).

        D_KL(p || p_theta) <= int (MSE(f_theta, s^2) - MSE(f*, s^2)) s^-3 ds,

    with MSE the expected total squared error (per-pixel MSE times
    `num_pixels`). Only the range of the grid is integrated, so this bounds
    the contribution of [sigma_min, sigma_max]; negative differences (noise in
    the estimates) are kept as they are.

    Args:
        sigmas: increasing noise levels (m,).
        mse_model: per-pixel MSE of the model at each sigma (m,).
        mse_optimal: per-pixel MSE of the optimal denoiser (m,).
        num_pixels: D, to turn per-pixel MSE into total MSE. Default 1 (nats per pixel).

    Returns:
        float, the bound in nats.
    """
    sigmas = check_sigmas(sigmas)
    if np.any(np.diff(sigmas) <= 0):
        raise ValueError("sigmas must be strictly increasing for the integral.")
    a = np.asarray(mse_model, np.float64)
    b = np.asarray(mse_optimal, np.float64)
    if a.shape != sigmas.shape or b.shape != sigmas.shape:
        raise ValueError(f"MSE curves must have shape {sigmas.shape}; got {a.shape} and {b.shape}.")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("MSE curves contain non-finite values.")
    integrand = (a - b) * num_pixels / sigmas**3
    return float(np.sum((integrand[1:] + integrand[:-1]) / 2 * np.diff(sigmas)))


def check_images(images, name="images"):
    """Images as a finite float32 numpy batch (n, H, W, C), or a clear ValueError.

    One image (H, W, C) is refused (`keras_gahb.utils.as_image_batch`'s rule; use x[None]).
    """
    return as_image_batch(images, name, allow_one_image=False)


def check_sigmas(sigmas):
    """Noise levels as a 1-D float64 array of positive finite values."""
    sigmas = np.atleast_1d(np.asarray(sigmas, np.float64))
    if sigmas.ndim != 1 or len(sigmas) == 0:
        raise ValueError(f"sigmas must be a non-empty list of numbers; got shape {sigmas.shape}.")
    if not np.all(np.isfinite(sigmas)) or np.any(sigmas <= 0):
        raise ValueError(f"sigmas must be finite and positive; got {sigmas.tolist()}.")
    return sigmas


__all__ = [
    "check_images",
    "check_sigmas",
    "cosine_similarity",
    "denoise",
    "kl_bound",
    "memorization_ratio",
    "mse_curve",
    "mse_slope",
    "nearest_neighbors",
    "psnr",
    "psnr_curve",
    "relative_model_variance",
    "train_test_gap",
]
