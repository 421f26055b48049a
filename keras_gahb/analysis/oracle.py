"""Oracle references for "optimal" claims: the projection risk of an orthonormal basis.

For an orthonormal basis {b_k} of the D-dimensional image space, the best estimate of x from
y = x + sigma z that keeps or kills each coefficient <y, b_k> (keeping it when the clean
coefficient c_k = <x, b_k> is known to exceed sigma) has the expected per-pixel MSE

    risk(x, sigma) = sum_k min(c_k^2, sigma^2) / D,

the oracle projection risk (Donoho & Johnstone 1994; Mallat, "A Wavelet Tour of Signal
Processing", Ch. 11). No thresholding estimator in that basis does much better, so a denoiser
whose MSE is at or below the oracle risk of a basis does at least as well as the best shrinkage
in that basis. The bases: the 2-D DCT-II, orthonormal Haar wavelets (full depth for power-of-two
sides), or any user basis. Slopes are those of `keras_gahb.analysis.mse_slope` (log of the
mean risk over images against log sigma^2), the fit the C^alpha part applies to the network.

Reference: Kadkhodaie et al. (2024), https://arxiv.org/abs/2310.02557 (Sec. 4, Appendix E).
"""

import numpy as np

from keras_gahb.analysis.measures import check_sigmas, mse_slope

#: The named bases of `orthonormal_basis`.
BASES = ("dct", "haar")


def dct_matrix(n):
    """The orthonormal DCT-II matrix (n, n): rows are the 1-D cosine basis vectors.

    Example:

    >>> m = keras_gahb.analysis.dct_matrix(8)
    >>> bool(np.allclose(m @ m.T, np.eye(8)))
    True
    """
    n = _check_side(n)
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    matrix = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    matrix[0] /= np.sqrt(2.0)
    return matrix


def haar_matrix(n):
    """The orthonormal multi-level Haar wavelet matrix (n, n), rows = basis vectors.

    Levels continue while the coarse part has an even length: full depth (down to one
    scaling function) for a power-of-two n; n = 80 stops at 5 (40, 20, 10, 5).

    Example:

    >>> m = keras_gahb.analysis.haar_matrix(8)
    >>> bool(np.allclose(m @ m.T, np.eye(8)))
    True
    """
    n = _check_side(n)
    matrix = np.eye(n)
    length = n
    while length % 2 == 0 and length >= 2:
        half = length // 2
        step = np.zeros((length, length))
        for j in range(half):
            step[j, 2 * j] = step[j, 2 * j + 1] = 1 / np.sqrt(2)          # averages
            step[half + j, 2 * j], step[half + j, 2 * j + 1] = 1 / np.sqrt(2), -1 / np.sqrt(2)
        block = np.eye(n)
        block[:length, :length] = step
        matrix = block @ matrix
        length = half
    return matrix


def orthonormal_basis(basis, image_shape):
    """A checked orthonormal basis for images of `image_shape` (H, W, C).

    Args:
        basis: "dct" (2-D DCT-II), "haar" (separable Haar wavelets), a (D, D) matrix whose
            rows are the basis vectors (D = H W C, images flattened in C order), or a pair
            (row_matrix (H, H), col_matrix (W, W)) of 1-D bases applied separably to each
            channel (coefficients R X C^T).
        image_shape: (H, W, C).

    Returns:
        ("separable", R, C) or ("full", M), with orthonormality checked.

    Raises:
        ValueError: unknown name, wrong shape, or a matrix that is not orthonormal
            (max |M M^T - I| > 1e-6).
    """
    height, width, channels = (int(s) for s in image_shape)
    if isinstance(basis, str):
        if basis not in BASES:
            raise ValueError(f"Unknown basis {basis!r}; use one of {', '.join(BASES)}, a (D, D) "
                             "orthonormal matrix or a (rows, cols) pair.")
        make = dct_matrix if basis == "dct" else haar_matrix
        return ("separable", make(height), make(width))
    if isinstance(basis, tuple) and basis and isinstance(basis[0], str):
        if basis[0] not in ("separable", "full"):
            raise ValueError(f"Unknown basis kind {basis[0]!r}; use 'separable' or 'full'.")
        basis = basis[1:] if basis[0] == "separable" else basis[1]
    if isinstance(basis, (tuple, list)):
        if len(basis) != 2:
            raise ValueError("A separable basis is a pair (row_matrix, col_matrix); got "
                             f"{len(basis)} matrices.")
        rows, cols = (np.asarray(m, np.float64) for m in basis)
        _check_orthonormal(rows, height, "row matrix")
        _check_orthonormal(cols, width, "column matrix")
        return ("separable", rows, cols)
    matrix = np.asarray(basis, np.float64)
    _check_orthonormal(matrix, height * width * channels, "basis matrix")
    return ("full", matrix)


def basis_coefficients(images, basis="dct"):
    """Coefficients <x, b_k> of each image, (n, D) (separable: channel-major, row-major).

    Args:
        images: (n, H, W, C).
        basis: see `orthonormal_basis`. Default "dct".
    """
    images = _images(images)
    checked = orthonormal_basis(basis, images.shape[1:])
    if checked[0] == "full":
        return images.reshape(len(images), -1) @ checked[1].T
    _, rows, cols = checked
    coefficients = rows @ images.transpose(0, 3, 1, 2) @ cols.T  # (n, C, H, W): R X C^T
    return coefficients.reshape(len(images), -1)


def from_coefficients(coefficients, basis, image_shape):
    """Images (n, H, W, C) from their coefficients (n, D): the inverse of `basis_coefficients`."""
    coefficients = np.asarray(coefficients, np.float64)
    checked = orthonormal_basis(basis, image_shape)
    n = len(coefficients)
    if checked[0] == "full":
        return (coefficients @ checked[1]).reshape((n,) + tuple(image_shape))
    _, rows, cols = checked
    height, width, channels = image_shape
    blocks = coefficients.reshape(n, channels, height, width)
    return (rows.T @ blocks @ cols).transpose(0, 2, 3, 1)


def oracle_risk(images, sigmas, basis="dct"):
    """The oracle projection risk sum_k min(c_k^2, sigma^2) / D, per image and sigma, (n, m).

    The expected per-pixel MSE of keeping each noisy coefficient whose clean value exceeds
    sigma and killing the others (`oracle_projection`); at most min(||x||^2, D sigma^2) / D.

    Args:
        images: clean images (n, H, W, C).
        sigmas: noise levels (m,).
        basis: see `orthonormal_basis`. Default "dct".

    Example:

    >>> x = keras_gahb.data.get_images("calpha", 8, 16, seed=0, alpha=2.0, variant="authors")
    >>> keras_gahb.analysis.oracle_risk(x, [0.05, 0.1], "haar").shape
    (8, 2)
    """
    sigmas = check_sigmas(sigmas)
    energy = basis_coefficients(images, basis) ** 2
    return np.stack([np.minimum(energy, s**2).mean(axis=1) for s in sigmas], axis=1)


def oracle_psnr(images, sigmas, basis="dct"):
    """PSNR of the oracle projection, -10 log10(mean over images of the risk), (m,)."""
    return -10 * np.log10(np.maximum(oracle_risk(images, sigmas, basis).mean(axis=0), 1e-30))


def oracle_slope(images, sigmas, basis="dct", sigma_range=None, seed=0):
    """Slope of log (mean oracle risk) against log sigma^2, with a bootstrap interval.

    The same fit as the network's (`keras_gahb.analysis.mse_slope` on the (n, m) risks), so
    the two slopes compare. Returns its dict (slope, ci_low, ci_high, ...).
    """
    return mse_slope(sigmas, oracle_risk(images, sigmas, basis), sigma_range=sigma_range,
                     seed=seed)


def oracle_projection(noisy, clean, sigma, basis="dct"):
    """The keep-or-kill oracle: keep <y, b_k> where |<x, b_k>| > sigma, zero it elsewhere.

    A denoiser given the clean image; its expected MSE is `oracle_risk`.

    Args:
        noisy: y (n, H, W, C); clean: x, same shape; sigma: noise level.
        basis: see `orthonormal_basis`. Default "dct".
    """
    noisy = _images(noisy, "noisy")
    clean = _images(clean, "clean")
    if noisy.shape != clean.shape:
        raise ValueError(f"noisy {noisy.shape} and clean {clean.shape} images must have one shape.")
    keep = np.abs(basis_coefficients(clean, basis)) > float(sigma)
    return from_coefficients(basis_coefficients(noisy, basis) * keep, basis, noisy.shape[1:])


def threshold_denoise(noisy, sigma, basis="dct", threshold=3.0, mode="hard"):
    """Hard or soft thresholding of the noisy coefficients at `threshold * sigma` (no oracle).

    Args:
        noisy: y (n, H, W, C); sigma: noise level.
        basis: see `orthonormal_basis`. Default "dct".
        threshold: threshold in units of sigma. Default 3.0.
        mode: "hard" (keep or kill) or "soft" (shrink by the threshold). Default "hard".
    """
    if mode not in ("hard", "soft"):
        raise ValueError(f"mode must be 'hard' or 'soft'; got {mode!r}.")
    noisy = _images(noisy, "noisy")
    c = basis_coefficients(noisy, basis)
    t = float(threshold) * float(sigma)
    out = c * (np.abs(c) > t) if mode == "hard" else np.sign(c) * np.maximum(np.abs(c) - t, 0.0)
    return from_coefficients(out, basis, noisy.shape[1:])


def oracle_margin(mse, risk, z=2.0):
    """A denoiser's per-image MSE against an oracle risk on the same images, per sigma.

    Paired over images: d_i = mse_i - risk_i, with the interval mean(d) +- z se(d). The
    denoiser is "at or below" the oracle when the interval reaches 0 or below (its MSE is not
    significantly above the oracle risk).

    Args:
        mse: (n,) or (n, m) per-image MSE of the denoiser.
        risk: the oracle risks, same shape (`oracle_risk`).
        z: interval half-width in standard errors. Default 2.0.

    Returns:
        dict of (m,) lists: mse, risk (means over images), difference, se, margin_db
        (10 log10(risk / mse): > 0 when the denoiser beats the oracle), and at_or_below
        (bools); plus worst_margin_db (the smallest margin).
    """
    mse = np.asarray(mse, np.float64)
    risk = np.asarray(risk, np.float64)
    if mse.shape != risk.shape or mse.ndim not in (1, 2):
        raise ValueError(f"mse {mse.shape} and risk {risk.shape} must both be (n,) or (n, m).")
    if mse.ndim == 1:
        mse, risk = mse[:, None], risk[:, None]
    diff = mse - risk
    n = len(diff)
    se = diff.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.zeros(diff.shape[1])
    mean_mse, mean_risk, mean_diff = mse.mean(axis=0), risk.mean(axis=0), diff.mean(axis=0)
    margin = 10 * np.log10(np.maximum(mean_risk, 1e-30) / np.maximum(mean_mse, 1e-30))
    return {"mse": mean_mse.tolist(), "risk": mean_risk.tolist(), "difference": mean_diff.tolist(),
            "se": se.tolist(), "margin_db": margin.tolist(),
            "at_or_below": [bool(d - z * s <= 0) for d, s in zip(mean_diff, se)],
            "worst_margin_db": float(margin.min()), "z": float(z)}


def _images(images, name="images"):
    """A finite float64 batch (n, H, W, C) (float64: the risks of small sigmas keep their digits)."""
    images = np.asarray(images, np.float64)
    if images.ndim != 4:
        raise ValueError(f"{name} must be a batch (n, H, W, C); got shape {images.shape} "
                         "(one image: pass x[None]).")
    if not np.all(np.isfinite(images)):
        raise ValueError(f"{name} contain non-finite values.")
    return images


def _check_side(n):
    if int(n) != n or n < 1:
        raise ValueError(f"A basis side must be a positive integer; got {n}.")
    return int(n)


def _check_orthonormal(matrix, size, name):
    if matrix.shape != (size, size):
        raise ValueError(f"The {name} must be ({size}, {size}) for these images; got "
                         f"{matrix.shape}.")
    if not np.all(np.isfinite(matrix)):
        raise ValueError(f"The {name} contains non-finite values.")
    error = float(np.max(np.abs(matrix @ matrix.T - np.eye(size))))
    if error > 1e-6:
        raise ValueError(f"The {name} is not orthonormal (max |M M^T - I| = {error:.2e} > 1e-6): "
                         "pass a matrix whose rows are orthonormal basis vectors (e.g. from "
                         "numpy.linalg.qr).")


__all__ = [
    "BASES",
    "basis_coefficients",
    "dct_matrix",
    "from_coefficients",
    "haar_matrix",
    "oracle_margin",
    "oracle_projection",
    "oracle_psnr",
    "oracle_risk",
    "oracle_slope",
    "orthonormal_basis",
    "threshold_denoise",
]
