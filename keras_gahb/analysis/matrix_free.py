"""Matrix-free spectra of a denoiser's Jacobian: top eigenpairs and Hutchinson's trace.

For large images the (D, D) Jacobian is expensive (D reverse passes) and
eigh costs O(D^3); these functions only use products with J and J^T at the
image, batched through `keras_gahb.backend.linearize`.
"""

import time

import numpy as np

from keras_gahb.utils import numpy_rng
from scipy import linalg
from scipy.sparse import linalg as sparse_linalg

from keras_gahb import backend


def top_eigenpairs(denoiser, image, k=64, method="block", tol=1e-5, block_size=None,
                   max_products=None, seed=0, verbose=0):
    """Largest k eigenpairs of the symmetrized Jacobian A = (J + J^T) / 2 at one image.

    Each product A V = (J V + J^T V) / 2 costs one Jacobian-vector and one
    vector-Jacobian product per column.

    - "block" (default): block Krylov (block Lanczos with full
      reorthogonalization) from a random block of `block_size` vectors; after
      each block a Rayleigh-Ritz step on the whole Krylov basis gives Ritz
      pairs, and it stops when no top-k Ritz value moved by more than
      `tol` (relative) in the last step. Products are evaluated `block_size`
      at a time, which is what makes it fast.
    - "lanczos": scipy's ARPACK `eigsh` (implicitly restarted Lanczos) with
      one product per iteration, to tolerance `tol`.

    Stated accuracy: for each Ritz pair (theta, v) the residual
    r = ||A v - theta v|| is returned; A symmetric guarantees an eigenvalue
    within r of theta, and within r^2 / gap when theta is separated from the
    rest of the spectrum by `gap`.

    Args:
        denoiser: Keras model or keras.ops callable on (B, H, W, C) batches.
        image: the point y, (H, W, C) or (1, H, W, C).
        k: eigenpairs to return. Default 64.
        method: "block" or "lanczos". Default "block".
        tol: relative tolerance (see above). Default 1e-5.
        block_size: columns per product for "block". Default k + max(8, k // 4).
        max_products: stop after this many columns of A V. Default 20 blocks
            ("block") or 10 D ("lanczos").
        seed: int or numpy Generator of the starting vectors. Default 0.
        verbose: 1 prints one line per block. Default 0.

    Returns:
        dict: "eigenvalues" (k,) descending, "eigenvectors" (D, k),
        "residuals" (k,), "products" (columns of A V computed), "converged",
        "seconds", "method".

    Example:

    >>> top = keras_gahb.analysis.top_eigenpairs(model, y[0], k=8)
    >>> top["eigenvalues"].shape
    (8,)
    """
    if method not in ("block", "lanczos"):
        raise ValueError(f"Unknown method '{method}'. Use 'block' or 'lanczos'.")
    start_time = time.perf_counter()
    _, jvp_fn, vjp_fn = backend.linearize(denoiser, image)
    shape = np.asarray(image).shape[-3:]
    dim = int(np.prod(shape))
    k = int(k)
    if not 1 <= k < dim:
        raise ValueError(f"k must be between 1 and D - 1 = {dim - 1}; got {k}.")
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol}.")
    count = [0]

    def apply(columns):
        count[0] += columns.shape[1]
        stack = np.ascontiguousarray(columns.T, np.float32).reshape((-1,) + shape)
        product = 0.5 * (jvp_fn(stack) + vjp_fn(stack))
        return product.reshape(columns.shape[1], dim).T.astype(np.float64)

    rng = numpy_rng(seed)
    if method == "lanczos":
        operator = sparse_linalg.LinearOperator(
            (dim, dim), matvec=lambda v: apply(np.reshape(v, (dim, 1)))[:, 0], dtype=np.float64
        )
        max_products = int(max_products or 10 * dim)
        try:
            values, vectors = sparse_linalg.eigsh(
                operator, k=k, which="LA", tol=tol, v0=rng.standard_normal(dim),
                maxiter=max(1, max_products // max(1, min(dim, max(2 * k + 1, 20)))),
            )
            converged = True
        except sparse_linalg.ArpackNoConvergence as error:
            values, vectors = error.eigenvalues, error.eigenvectors
            converged = False
        order = np.argsort(values)[::-1]
        values, vectors = values[order], vectors[:, order]
        residuals = np.linalg.norm(apply(vectors) - vectors * values, axis=0)
    else:
        values, vectors, residuals, converged = _block_krylov(
            apply, dim, k, tol, block_size, max_products, rng, verbose
        )
    return {
        "eigenvalues": values,
        "eigenvectors": vectors,
        "residuals": residuals,
        "products": count[0],
        "converged": bool(converged),
        "seconds": time.perf_counter() - start_time,
        "method": method,
    }


def hutchinson_trace(denoiser, image, num_probes=64, batch_size=16, seed=0):
    """Hutchinson's estimate of tr J(y) (the effective dimensionality) with its standard error.

        tr J = E[v^T J v],  v with independent +-1 (Rademacher) entries;

    the estimate is the mean over `num_probes` probes and the standard error
    is their standard deviation / sqrt(num_probes). Products are J^T v
    (same trace), `batch_size` probes at a time.

    Returns:
        dict: "trace", "standard_error", "num_probes".

    Example:

    >>> est = keras_gahb.analysis.hutchinson_trace(model, y[0], num_probes=32)
    """
    num_probes, batch_size = int(num_probes), int(batch_size)
    if num_probes < 2 or batch_size < 1:
        raise ValueError("hutchinson_trace needs num_probes >= 2 and batch_size >= 1.")
    _, _, vjp_fn = backend.linearize(denoiser, image)
    shape = np.asarray(image).shape[-3:]
    rng = numpy_rng(seed)
    samples = []
    for start in range(0, num_probes, batch_size):
        n = min(batch_size, num_probes - start)
        probes = rng.choice(np.array([-1.0, 1.0], np.float32), size=(n,) + shape)
        products = vjp_fn(probes)
        samples.append(np.sum(probes.astype(np.float64) * products, axis=(1, 2, 3)))
    samples = np.concatenate(samples)
    return {
        "trace": float(samples.mean()),
        "standard_error": float(samples.std(ddof=1) / np.sqrt(num_probes)),
        "num_probes": num_probes,
    }


def _block_krylov(apply, dim, k, tol, block_size, max_products, rng, verbose):
    block = int(block_size or k + max(8, k // 4))
    if block < k:
        raise ValueError(f"block_size must be >= k = {k}; got {block}.")
    block = min(block, dim)
    max_products = int(max_products or 20 * block)
    basis = [linalg.qr(rng.standard_normal((dim, block)), mode="economic")[0]]
    images = [apply(basis[0])]
    previous = None
    converged = False
    while True:
        q = np.concatenate(basis, axis=1)
        aq = np.concatenate(images, axis=1)
        t = q.T @ aq
        theta, s = np.linalg.eigh(0.5 * (t + t.T))
        theta, s = theta[::-1][:k], s[:, ::-1][:, :k]
        vectors = q @ s
        residuals = np.linalg.norm(aq @ s - vectors * theta, axis=0)
        if previous is not None:
            change = np.max(np.abs(theta - previous) / np.maximum(np.abs(theta), 1e-30))
            if verbose:
                print(f"block Krylov: {q.shape[1]} vectors, max change {change:.2e}, "
                      f"max residual {residuals.max():.2e}")
            if change <= tol:
                converged = True
                break
        previous = theta
        room = min(dim - q.shape[1], max_products - q.shape[1])
        if room <= 0:
            break
        w = images[-1][:, :room]
        for _ in range(2):  # full reorthogonalization, twice is enough
            w = w - q @ (q.T @ w)
        new, r = linalg.qr(w, mode="economic")
        keep = np.abs(np.diag(r)) > 1e-10 * max(1.0, np.abs(np.diag(r)).max())
        if not keep.any():
            converged = True  # the Krylov space is invariant: Ritz pairs are exact
            break
        new = new[:, keep]
        basis.append(new)
        images.append(apply(new))
    return theta, vectors, residuals, converged




__all__ = ["hutchinson_trace", "top_eigenpairs"]
