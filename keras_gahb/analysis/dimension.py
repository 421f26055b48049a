"""Jacobian diagnostics across noise levels: effective dimension tr J(sigma), spectral gap, implied dimension.

A denoiser near a d-dimensional manifold at small sigma acts like the
projection onto the manifold's tangent space: d eigenvalues of its Jacobian
near 1, the rest near 0, so tr J ~ d and the largest spectral gap sits after
the d-th eigenvalue (the disc manifold of the paper has d = 5). For a Gaussian
prior N(m, C) the Jacobian is C (C + sigma^2 I)^-1, whose spectrum is
lambda_k / (lambda_k + sigma^2) (`gaussian_jacobian_spectrum`).

Reference: Kadkhodaie et al. (2024), https://arxiv.org/abs/2310.02557 (Sec. 3.2, Fig 3).
"""

import keras
import numpy as np

from keras_gahb.analysis.jacobian import jacobian, symmetric_eigh
from keras_gahb.analysis.matrix_free import hutchinson_trace, top_eigenpairs
from keras_gahb.analysis.measures import check_sigmas
from keras_gahb.data.discs import render_discs
from keras_gahb.utils import numpy_rng


def gaussian_jacobian_spectrum(covariance_eigenvalues, sigma):
    """lambda_k / (lambda_k + sigma^2), descending: the Jacobian spectrum of the Wiener filter."""
    values = np.sort(np.maximum(np.asarray(covariance_eigenvalues, np.float64), 0.0))[::-1]
    return values / (values + float(sigma) ** 2)


def implied_dimension(eigenvalues, max_dimension=None, criterion="ratio", floor=1e-3):
    """The dimension d implied by the largest spectral gap after the d-th eigenvalue.

    - "ratio" (default): the largest log(lambda_d / lambda_{d+1}), with every
      eigenvalue floored at `floor` lambda_1 (so the numerically zero tail
      does not count): scale-free, finds d when d eigenvalues of different
      sizes stand above a flat floor (a manifold's tangent directions);
    - "difference": the largest lambda_d - lambda_{d+1}.

    Args:
        eigenvalues: eigenvalues (at least 2), sorted descending here.
        max_dimension: only gaps after the first `max_dimension` eigenvalues
            are considered. Default: all.
        criterion: "ratio" or "difference". Default "ratio".
        floor: relative floor of the "ratio" criterion. Default 1e-3.

    Returns:
        dict: "dimension" (d >= 1), "gap" (the log-ratio or the difference at d).

    Example:

    >>> keras_gahb.analysis.implied_dimension([1, 0.8, 0.5, 0.4, 0.3, 0.01, 0.009])["dimension"]
    5
    """
    values = np.sort(np.asarray(eigenvalues, np.float64))[::-1]
    if values.ndim != 1 or len(values) < 2:
        raise ValueError("implied_dimension needs at least 2 eigenvalues.")
    if criterion not in ("ratio", "difference"):
        raise ValueError(f"criterion must be 'ratio' or 'difference'; got {criterion!r}.")
    limit = len(values) - 1 if max_dimension is None else max(1, min(int(max_dimension), len(values) - 1))
    if criterion == "ratio":
        floored = np.maximum(values, max(float(floor) * abs(values[0]), 1e-30))
        gaps = np.log(floored[:limit] / floored[1:limit + 1])
    else:
        gaps = values[:limit] - values[1:limit + 1]
    d = int(np.argmax(gaps)) + 1
    return {"dimension": d, "gap": float(gaps[d - 1])}


def dimension_curve(denoiser, image, sigmas, method="full", top_k=32, num_probes=32, seed=0,
                    max_dimension=None, verbose=0):
    """Effective dimension tr J, top spectrum and implied dimension of a denoiser across noise levels.

    At each sigma the Jacobian is taken at y = x + sigma z (same z for all sigmas).

    Args:
        denoiser: a Keras model or keras.ops callable, or `per_sigma(factory)`
            with `factory(sigma) -> denoiser` for a denoiser built per noise
            level (e.g. `per_sigma(lambda s: WienerDenoiser(train, s))`).
        image: the clean image x (H, W, C).
        sigmas: noise levels.
        method: "full" (whole Jacobian, exact eigenvalues and trace) or
            "matrix_free" (top_k eigenpairs by block Krylov, tr J by Hutchinson
            with `num_probes` probes): use it for large images. Default "full".
        top_k: eigenvalues kept (and computed, for "matrix_free"). Default 32.
        num_probes: Hutchinson probes. Default 32.
        seed: int, seed of z and of the probes. Default 0.
        max_dimension: largest dimension the gap may imply. Default top_k - 1.
        verbose: 1 prints one line per sigma. Default 0.

    Returns:
        dict: "sigmas", "trace" (per sigma), "trace_standard_error" (0 for "full"),
        "eigenvalues" (len(sigmas), top_k), "dimension" (implied per sigma),
        "gap" (per sigma, log-ratio), "method".

    Example:

    >>> curve = keras_gahb.analysis.dimension_curve(model, x[0], [0.02, 0.05, 0.1, 0.2])
    """
    if method not in ("full", "matrix_free"):
        raise ValueError(f"Unknown method '{method}'. Use 'full' or 'matrix_free'.")
    sigmas = check_sigmas(sigmas)
    clean = np.asarray(image, np.float32)
    if clean.ndim == 4 and clean.shape[0] == 1:
        clean = clean[0]
    if clean.ndim != 3:
        raise ValueError(f"image must be one image (H, W, C); got shape {clean.shape}.")
    dim = clean.size
    top_k = int(min(top_k, dim - 1))
    noise = numpy_rng(seed).standard_normal(clean.shape).astype(np.float32)
    traces, errors, spectra, dims, gaps = [], [], [], [], []
    for sigma in sigmas:
        f = denoiser(float(sigma)) if isinstance(denoiser, _PerSigma) else denoiser
        noisy = clean + np.float32(sigma) * noise
        if method == "full":
            J = jacobian(f, noisy[None])[0]
            values = symmetric_eigh(J)[0][:top_k]
            trace, error = float(np.trace(J, dtype=np.float64)), 0.0
        else:
            top = top_eigenpairs(f, noisy, k=top_k, seed=seed)
            values = top["eigenvalues"]
            est = hutchinson_trace(f, noisy, num_probes=num_probes, seed=seed)
            trace, error = est["trace"], est["standard_error"]
        gap = implied_dimension(values, max_dimension or top_k - 1)
        traces.append(trace)
        errors.append(error)
        spectra.append(values)
        dims.append(gap["dimension"])
        gaps.append(gap["gap"])
        if verbose:
            print(f"sigma {sigma:g}: tr J = {trace:.2f}, implied dimension {gap['dimension']} "
                  f"(gap {gap['gap']:.3f})")
    return {"sigmas": sigmas, "trace": np.array(traces), "trace_standard_error": np.array(errors),
            "eigenvalues": np.array(spectra), "dimension": np.array(dims), "gap": np.array(gaps),
            "method": method}


class _PerSigma:
    def __init__(self, factory):
        self.factory = factory

    def __call__(self, sigma):
        return self.factory(sigma)


def per_sigma(factory):
    """Mark `factory(sigma) -> denoiser` for `dimension_curve` (a reference built at each sigma).

    Example:

    >>> f = keras_gahb.analysis.per_sigma(lambda s: keras_gahb.analysis.WienerDenoiser(train, s))
    >>> keras_gahb.analysis.dimension_curve(f, x[0], [0.05, 0.1])
    """
    if not callable(factory):
        raise ValueError("per_sigma needs a function sigma -> denoiser.")
    return _PerSigma(factory)


def disc_tangent_basis(params, size, edge_width=0.5, step=1e-2):
    """Orthonormal basis (D, 5) of the disc manifold's tangent space at one disc.

    Central finite differences of `render_discs` in each of the 5 parameters
    (step relative to the parameter's scale), orthonormalized by QR.

    Args:
        params: the 5 disc parameters (center_x, center_y, radius, foreground, background).
        size: image side.
    """
    params = np.asarray(params, np.float64).reshape(5)
    scales = np.array([1.0, 1.0, 1.0, 0.1, 0.1]) * step * 10
    columns = []
    for k in range(5):
        delta = np.zeros(5)
        delta[k] = scales[k]
        plus = render_discs((params + delta)[None], size, edge_width).astype(np.float64)
        minus = render_discs((params - delta)[None], size, edge_width).astype(np.float64)
        columns.append(((plus - minus) / (2 * scales[k])).ravel())
    basis, _ = np.linalg.qr(np.stack(columns, axis=1))
    return basis


class TangentProjectionDenoiser:
    """f(y) = x + P (y - x): the ideal small-noise denoiser of a manifold near its point x.

    P = U U^T projects on the tangent space spanned by the orthonormal columns
    of U; the Jacobian is P, with exactly rank(U) eigenvalues equal to 1.

    Args:
        point: the manifold point x (H, W, C).
        basis: orthonormal tangent basis (D, d), e.g. `disc_tangent_basis`.
    """

    def __init__(self, point, basis):
        point = np.asarray(point, np.float32)
        basis = np.asarray(basis, np.float64)
        if basis.ndim != 2 or basis.shape[0] != point.size:
            raise ValueError(f"basis must be (D={point.size}, d); got {basis.shape}.")
        self.image_shape = point.shape
        self._point = keras.ops.convert_to_tensor(point.reshape(1, -1))
        self._projection = keras.ops.convert_to_tensor((basis @ basis.T).astype(np.float32))

    def __call__(self, y):
        ops = keras.ops
        flat = ops.reshape(ops.cast(y, "float32"), (ops.shape(y)[0], -1))
        out = self._point + ops.matmul(flat - self._point, self._projection)
        return ops.reshape(out, ops.shape(y))


def local_disc_images(params, n, size, spread=(1.0, 1.0, 1.0, 0.05, 0.05), seed=0, edge_width=0.5):
    """n discs whose parameters are uniform within +-spread around `params` (a patch of the manifold).

    The empirical optimal denoiser of such a set, at a noise level comparable
    to the patch's extent, has a Jacobian (the posterior covariance / sigma^2)
    dominated by the 5 tangent directions.
    """
    params = np.asarray(params, np.float64).reshape(5)
    rng = numpy_rng(seed)
    jitter = rng.uniform(-1.0, 1.0, (int(n), 5)) * np.asarray(spread, np.float64)
    return render_discs(params[None] + jitter, size, edge_width)


__all__ = [
    "TangentProjectionDenoiser",
    "dimension_curve",
    "disc_tangent_basis",
    "gaussian_jacobian_spectrum",
    "implied_dimension",
    "local_disc_images",
    "per_sigma",
]
