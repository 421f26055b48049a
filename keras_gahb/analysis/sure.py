"""Stein's unbiased risk estimate (SURE) of a denoiser's MSE, and the optimal denoiser's identity.

For y = x + sigma z with z ~ N(0, I) and any weakly differentiable f, Stein's
lemma gives, per pixel (D pixels),

    SURE(y) = (||y - f(y)||^2 + 2 sigma^2 tr J(y) - D sigma^2) / D,
    E[SURE(y) | x] = E[||f(y) - x||^2 | x] / D,

so SURE estimates the MSE of *any* denoiser without the clean image. The
quantity sigma^2 tr J / D is a different thing: for the optimal (MMSE)
denoiser, J* = Cov[x | y] / sigma^2, so its MSE is sigma^2 E[tr J*] / D; for
any other denoiser it is not the MSE (`optimal_mse_identity`).

Reference: Stein (1981), Ann. Statist. 9(6); Kadkhodaie et al. (2024),
https://arxiv.org/abs/2310.02557 (Sec. 2).
"""

import numpy as np

from keras_gahb.analysis.jacobian import jacobian
from keras_gahb.analysis.matrix_free import hutchinson_trace
from keras_gahb.analysis.measures import denoise


def sure_from_trace(noisy, denoised, trace, sigma):
    """SURE per image from y, f(y) and tr J(y): (||y - f||^2 + 2 sigma^2 tr J - D sigma^2) / D.

    Args:
        noisy: y, (B, H, W, C) or one image (H, W, C).
        denoised: f(y), same shape.
        trace: tr J(y), scalar or (B,).
        sigma: noise level of y (> 0).

    Returns:
        (B,) float64 per-pixel MSE estimates (a float for one image).

    Example:

    >>> y = np.zeros((1, 4, 4, 1)); keras_gahb.analysis.sure_from_trace(y, y, 16.0, 0.1)
    array([0.])
    """
    y = np.asarray(noisy, np.float64)
    f = np.asarray(denoised, np.float64)
    if y.shape != f.shape:
        raise ValueError(f"noisy {y.shape} and denoised {f.shape} must have the same shape.")
    one = y.ndim == 3
    y, f = (y[None], f[None]) if one else (y, f)
    sigma = _check_sigma(sigma)
    dim = int(np.prod(y.shape[1:]))
    residual = np.sum((y - f) ** 2, axis=tuple(range(1, y.ndim)))
    trace = np.broadcast_to(np.asarray(trace, np.float64), residual.shape)
    value = (residual + 2 * sigma**2 * trace - dim * sigma**2) / dim
    return float(value[0]) if one else value


def optimal_mse_identity(trace, sigma, num_pixels):
    """sigma^2 tr J / D: equal to the MSE per pixel only for the optimal denoiser (J* = Cov[x|y]/sigma^2).

    Not an estimate of a given denoiser's MSE (that is `sure_mse`); the ratio
    MSE / (sigma^2 tr J / D) is 1 for the optimal denoiser in expectation.
    """
    return float(_check_sigma(sigma)) ** 2 * np.asarray(trace, np.float64) / int(num_pixels)


def sure_mse(denoiser, noisy, sigma, method="exact", num_probes=64, seed=0, chunk_size=None):
    """SURE of a denoiser's per-pixel MSE at noisy images y, without the clean images.

    Args:
        denoiser: Keras model or keras.ops callable on (B, H, W, C) batches.
        noisy: y = x + sigma z, (B, H, W, C) or one image (H, W, C).
        sigma: the noise level of y.
        method: "exact" (tr J from the full Jacobian, D products) or "hutchinson"
            (matrix-free, `num_probes` Rademacher probes; the standard error of
            the trace is carried into SURE's). Default "exact".
        num_probes: Hutchinson probes. Default 64.
        seed: seed of the probes. Default 0.
        chunk_size: rows per Jacobian chunk ("exact"). Default: what fits.

    Returns:
        dict with "sure" (B,), "trace" (B,), "trace_standard_error" (B,; 0 for
        "exact"), "sure_standard_error" (B,; 2 sigma^2 se(tr J) / D, the
        probes' part only), "optimal_mse_identity" (B,; sigma^2 tr J / D) and
        "method".

    Example:

    >>> model = keras_gahb.models.from_preset("unet_tiny")
    >>> y = 0.5 + 0.1 * np.random.default_rng(0).standard_normal((2, 8, 8, 1)).astype("float32")
    >>> keras_gahb.analysis.sure_mse(model, y, 0.1)["sure"].shape
    (2,)
    """
    if method not in ("exact", "hutchinson"):
        raise ValueError(f"Unknown method '{method}'. Use 'exact' or 'hutchinson'.")
    sigma = _check_sigma(sigma)
    y = np.asarray(noisy, np.float32)
    if y.ndim == 3:
        y = y[None]
    if y.ndim != 4:
        raise ValueError(f"noisy must be (B, H, W, C) or (H, W, C); got shape {y.shape}.")
    if not np.all(np.isfinite(y)):
        raise ValueError("noisy contains non-finite values.")
    f = denoise(denoiser, y)
    if method == "exact":
        J = jacobian(denoiser, y, chunk_size=chunk_size)
        trace = np.trace(J, axis1=1, axis2=2).astype(np.float64)
        error = np.zeros(len(y))
    else:
        estimates = [hutchinson_trace(denoiser, image, num_probes=num_probes, seed=seed)
                     for image in y]
        trace = np.array([e["trace"] for e in estimates])
        error = np.array([e["standard_error"] for e in estimates])
    dim = int(np.prod(y.shape[1:]))
    return {
        "sure": sure_from_trace(y, f, trace, sigma),
        "trace": trace,
        "trace_standard_error": error,
        "sure_standard_error": 2 * sigma**2 * error / dim,
        "optimal_mse_identity": optimal_mse_identity(trace, sigma, dim),
        "method": method,
    }


def _check_sigma(sigma):
    if sigma is None or not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"SURE needs the noise level sigma > 0 of y; got {sigma}.")
    return float(sigma)


__all__ = ["optimal_mse_identity", "sure_from_trace", "sure_mse"]
