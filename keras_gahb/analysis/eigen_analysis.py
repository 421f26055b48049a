"""Eigen-analysis of a denoiser's Jacobian at a noisy image: the adaptive (GAHB) basis."""


import numpy as np

from keras_gahb.analysis.jacobian import asymmetry, bias_free_error, jacobian, symmetric_eigh
from keras_gahb.analysis.jacobian_facts import jacobian_facts
from keras_gahb.analysis.measures import denoise
from keras_gahb.analysis.sure import optimal_mse_identity, sure_from_trace
from keras_gahb.utils import atomic_write_json, numpy_rng, save_npz_atomic


class EigenAnalysis:
    """The eigendecomposition of the symmetrized Jacobian of a denoiser at y = x + sigma z.

    A bias-free denoiser satisfies f(y) = J(y) y; where J is symmetric, with
    sym(J) = sum_k lambda_k e_k e_k^T, it acts as a shrinkage in an adaptive basis:

        f(y) = sum_k lambda_k <y, e_k> e_k.

    How far that holds for this J is measured in `facts` (`jacobian_facts`:
    asymmetry, negative eigenvalues of sym(J), PSNR of sym(J) y against f(y)).
    The effective dimensionality is tr J = sum_k lambda_k. `sure_mse` is SURE,
    (||y - f(y)||^2 + 2 sigma^2 tr J - D sigma^2) / D, an unbiased estimate of
    this denoiser's MSE per pixel; `optimal_mse_identity` is sigma^2 tr J / D,
    equal to the MSE only for the optimal denoiser. `coefficients` are <x, e_k>
    of the clean image.

    Attributes:
        clean, noisy, denoised: (H, W, C) images.
        sigma: noise level (None if unknown).
        eigenvalues: (D,) descending; eigenvectors: (D, D) columns e_k.
        coefficients: <x, e_k> (D,); noisy_coefficients: <y, e_k> (D,).
        trace: tr J; bias_free_error: ||f(y) - J y|| / ||f(y)||;
        asymmetry: ||J - J^T|| / ||J||; jacobian: (D, D) or None.
        facts: the `jacobian_facts` dict, or None (matrix-free: no full J).
        sure_mse, optimal_mse_identity: see above (None without sigma).
    """

    def __init__(self, clean, noisy, denoised, sigma, eigenvalues, eigenvectors, trace,
                 bias_free_error, asymmetry, jacobian=None, facts=None):
        self.clean = np.asarray(clean, np.float32)
        self.noisy = np.asarray(noisy, np.float32)
        self.denoised = np.asarray(denoised, np.float32)
        self.sigma = None if sigma is None else float(sigma)
        self.eigenvalues = np.asarray(eigenvalues, np.float64)
        self.eigenvectors = np.asarray(eigenvectors, np.float64)
        self.trace = float(trace)
        self.bias_free_error = float(bias_free_error)
        self.asymmetry = float(asymmetry)
        self.jacobian = jacobian
        self.facts = facts
        self.coefficients = self.eigenvectors.T @ self.clean.ravel().astype(np.float64)
        self.noisy_coefficients = self.eigenvectors.T @ self.noisy.ravel().astype(np.float64)

    @property
    def image_shape(self):
        return self.clean.shape

    @property
    def sure_mse(self):
        """SURE (||y - f(y)||^2 + 2 sigma^2 tr J - D sigma^2) / D: this denoiser's MSE, estimated."""
        if self.sigma is None or not self.sigma > 0:
            return None
        return sure_from_trace(self.noisy, self.denoised, self.trace, self.sigma)

    @property
    def optimal_mse_identity(self):
        """sigma^2 tr J / D, equal to the MSE only for the optimal denoiser (not SURE)."""
        if self.sigma is None or not self.sigma > 0:
            return None
        return float(optimal_mse_identity(self.trace, self.sigma, self.clean.size))

    def eigenvector_images(self, indices):
        """Eigenvectors e_k for `indices` as images (len(indices), H, W, C)."""
        indices = np.asarray(indices, int)
        return self.eigenvectors[:, indices].T.reshape((len(indices),) + self.image_shape)

    def summary(self, eigenvalue_indices=(0, 5, 17, 41, 101, 197, 245)):
        """A JSON-ready dict of the scalar results and selected eigenvalues."""
        mse_in = float(np.mean((self.noisy - self.clean) ** 2))
        mse_out = float(np.mean((self.denoised - self.clean) ** 2))
        picked = {str(int(k)): float(self.eigenvalues[k]) for k in eigenvalue_indices
                  if 0 <= k < len(self.eigenvalues)}
        identity = self.optimal_mse_identity
        summary = {
            "image_shape": list(self.image_shape),
            "sigma": self.sigma,
            "input_psnr": float(-10 * np.log10(max(mse_in, 1e-30))),
            "output_psnr": float(-10 * np.log10(max(mse_out, 1e-30))),
            "mse": mse_out,
            "effective_dimensionality": self.trace,
            "sum_of_eigenvalues": float(self.eigenvalues.sum()),
            "sure_mse": self.sure_mse,
            "optimal_mse_identity": identity,
            "mse_over_optimal_mse_identity": None if not identity
            else float(mse_out / identity),
            # Deprecated alias of optimal_mse_identity (it never was SURE; see sure_mse).
            "sure_mse_estimate": identity,
            "bias_free_error": self.bias_free_error,
            "asymmetry": self.asymmetry,
            "top_eigenvalues": self.eigenvalues[:16].tolist(),
            "eigenvalues": picked,
        }
        if self.facts is not None:
            summary["jacobian_facts"] = dict(self.facts)
        return summary

    def save(self, folder):
        """Write eigen.npz (arrays) and eigen.json (summary) into `folder`, atomically."""
        arrays = dict(clean=self.clean, noisy=self.noisy, denoised=self.denoised,
                      eigenvalues=self.eigenvalues, eigenvectors=self.eigenvectors.astype(np.float32),
                      coefficients=self.coefficients, noisy_coefficients=self.noisy_coefficients)
        if self.jacobian is not None:
            arrays["jacobian"] = np.asarray(self.jacobian, np.float32)
        save_npz_atomic(f"{folder}/eigen.npz", **arrays)
        atomic_write_json(f"{folder}/eigen.json", self.summary())


def eigen_analysis(denoiser, image, sigma=None, noisy=None, seed=0, chunk_size=None,
                   max_memory_gb=4.0, keep_jacobian=False, verbose=0):
    """Full Jacobian at y = x + sigma z, its symmetrized eigenbasis and checks.

    Args:
        denoiser: Keras model or keras.ops callable on (B, H, W, C) batches.
        image: the clean image x, (H, W, C) or (1, H, W, C).
        sigma: noise level used to draw y when `noisy` is None.
        noisy: optional noisy image y (then no noise is drawn).
        seed: int or numpy Generator of z. Default 0.
        chunk_size, max_memory_gb: passed to `jacobian`.
        keep_jacobian: keep J on the result (D^2 floats). Default False.
        verbose: 1 shows a progress bar. Default 0.

    Returns:
        an `EigenAnalysis`.

    Example:

    >>> result = keras_gahb.analysis.eigen_analysis(model, x[0], sigma=0.1)
    >>> result.eigenvalues[:3], result.trace

    Reference: Kadkhodaie et al. (2024), https://arxiv.org/abs/2310.02557 (Sec. 3, Fig 2).
    """
    clean = np.asarray(image, np.float32)
    if clean.ndim == 4 and clean.shape[0] == 1:
        clean = clean[0]
    if clean.ndim != 3:
        raise ValueError(f"image must be one image (H, W, C) or (1, H, W, C); got shape {clean.shape}.")
    if not np.all(np.isfinite(clean)):
        raise ValueError("image contains non-finite values.")
    if noisy is None:
        if sigma is None:
            raise ValueError("Pass sigma (noise level to draw y = x + sigma z) or a noisy image.")
        if not (np.isfinite(sigma) and sigma >= 0):
            raise ValueError(f"sigma must be finite and >= 0; got {sigma}.")
        noisy = clean + np.float32(sigma) * numpy_rng(seed).standard_normal(clean.shape).astype(np.float32)
    noisy = np.asarray(noisy, np.float32).reshape(clean.shape)
    J = jacobian(denoiser, noisy[None], chunk_size=chunk_size, max_memory_gb=max_memory_gb,
                 verbose=verbose)
    denoised = denoise(denoiser, noisy[None])
    values, vectors = symmetric_eigh(J[0])
    return EigenAnalysis(
        clean=clean, noisy=noisy, denoised=denoised[0], sigma=sigma,
        eigenvalues=values, eigenvectors=vectors, trace=float(np.trace(J[0], dtype=np.float64)),
        bias_free_error=bias_free_error(J, noisy[None], denoised)[0],
        asymmetry=asymmetry(J)[0], jacobian=J[0] if keep_jacobian else None,
        facts=jacobian_facts(J[0], noisy, denoised[0], clean=clean, eigenvalues=values),
    )
