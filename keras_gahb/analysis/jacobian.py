"""Full Jacobians of a denoiser, their checks, and the eigenbasis of the symmetrized Jacobian."""

import numpy as np

from keras_gahb import backend
from keras_gahb.analysis.measures import denoise


def jacobian(denoiser, images, chunk_size=None, max_memory_gb=4.0, verbose=0):
    """Full Jacobians J(y_b) (B, D, D), D = H W C, built from chunks of rows.

    See `keras_gahb.backend.jacobian` (this is the same function).

    Example:

    >>> J = keras_gahb.analysis.jacobian(model, y, chunk_size=32)
    """
    return backend.jacobian(denoiser, images, chunk_size=chunk_size,
                            max_memory_gb=max_memory_gb, verbose=verbose)


def bias_free_error(jacobians, images, outputs):
    """Relative error ||f(y) - J(y) y|| / ||f(y)|| per image (0 for a bias-free ReLU net).

    Args:
        jacobians: (B, D, D).
        images: the points y (B, H, W, C).
        outputs: f(y) (B, H, W, C), or a denoiser to compute them.
    """
    jacobians = _check_jacobians(jacobians)
    y = np.asarray(images, np.float64).reshape(len(jacobians), -1)
    if callable(outputs):
        outputs = denoise(outputs, np.asarray(images, np.float32))
    f = np.asarray(outputs, np.float64).reshape(len(jacobians), -1)
    if y.shape[1] != jacobians.shape[1] or f.shape != y.shape:
        raise ValueError(f"Images {y.shape} and outputs {f.shape} do not match Jacobians {jacobians.shape}.")
    jy = np.einsum("bij,bj->bi", jacobians, y)
    return np.linalg.norm(f - jy, axis=1) / np.maximum(np.linalg.norm(f, axis=1), 1e-30)


def asymmetry(jacobians):
    """||J - J^T||_F / ||J||_F per Jacobian (0 for a symmetric J, e.g. a gradient field)."""
    jacobians = _check_jacobians(jacobians)
    norms = np.linalg.norm(jacobians, axis=(1, 2))
    diff = np.linalg.norm(jacobians - np.swapaxes(jacobians, 1, 2), axis=(1, 2))
    return diff / np.maximum(norms, 1e-30)


def symmetric_eigh(matrix):
    """Eigenvalues (descending) and eigenvectors (columns) of (J + J^T) / 2.

    Args:
        matrix: one Jacobian (D, D).

    Returns:
        `(eigenvalues (D,), eigenvectors (D, D))`, float64, with
        sym(J) e_k = lambda_k e_k and lambda_0 >= lambda_1 >= ...
    """
    matrix = np.asarray(matrix, np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"Expected a square matrix (D, D); got shape {matrix.shape}.")
    if not np.all(np.isfinite(matrix)):
        raise ValueError("The Jacobian contains non-finite values.")
    values, vectors = np.linalg.eigh(0.5 * (matrix + matrix.T))
    return values[::-1].copy(), vectors[:, ::-1].copy()


def _check_jacobians(jacobians):
    jacobians = np.asarray(jacobians, np.float64)
    if jacobians.ndim == 2:
        jacobians = jacobians[None]
    if jacobians.ndim != 3 or jacobians.shape[1] != jacobians.shape[2]:
        raise ValueError(f"Expected Jacobians (B, D, D) or (D, D); got shape {jacobians.shape}.")
    return jacobians
