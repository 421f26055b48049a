"""What a denoiser's Jacobian is, measured: asymmetry, negative mass of sym(J), shrinkage reconstruction.

The paper describes a denoiser by the eigendecomposition of its Jacobian,
f(y) ~ sum_k lambda_k <y, e_k> e_k. That description is exact for the optimal
denoiser, whose Jacobian J* = Cov[x | y] / sigma^2 is symmetric and positive
semi-definite, and holds for a trained network only as far as its J is. These
functions measure how far:

- asymmetry ||J - J^T||_F / ||J||_F (0 for J*);
- the eigenvalues of sym(J) = (J + J^T) / 2: how many are negative, their sum
  and the smallest (J* has none: a covariance has no negative variance);
- how well the shrinkage form sym(J) y = sum_k lambda_k <y, e_k> e_k
  reconstructs f(y), as a PSNR (peak 1, the package's convention), beside
  J y against f(y), which is exact for a bias-free f (the homogeneity identity
  f(y) = J(y) y).

Reference: Kadkhodaie et al. (2024), https://arxiv.org/abs/2310.02557 (Sec. 2, Eq. 4-5).
"""

import numpy as np

from keras_gahb import backend
from keras_gahb.metrics import PSNR_CAP_DB
from keras_gahb.utils import numpy_rng

#: Eigenvalues of sym(J) below -NEGATIVE_TOLERANCE * max |lambda| count as negative: float32
#: round-off of an exactly positive semi-definite J gives about 1e-7 relative.
NEGATIVE_TOLERANCE = 1e-5


def jacobian_facts(jacobian, noisy, denoised, clean=None, eigenvalues=None):
    """Measured facts of one Jacobian J at y: asymmetry, negative mass of sym(J), reconstructions.

    Args:
        jacobian: J(y), (D, D).
        noisy: the point y (any shape with D entries).
        denoised: f(y) (D entries).
        clean: optional clean image x (D entries): then the denoising error
            ||f(y) - x|| is given beside the reconstruction error of sym(J) y.
        eigenvalues: optional eigenvalues of sym(J) (computed when None).

    Returns:
        dict with "asymmetry" (||J - J^T||_F / ||J||_F), "negative_count",
        "negative_sum" (sum of the negative eigenvalues of sym(J), 0 when none),
        "min_eigenvalue", "trace" (tr J), "sym_reconstruction_psnr" (PSNR of
        sym(J) y against f(y)), "sym_relative_error" (||sym(J) y - f|| / ||f||),
        "homogeneity_psnr" (PSNR of J y against f(y)), "homogeneity_relative_error",
        and with `clean`: "output_psnr" (f(y) against x) and
        "sym_error_over_denoising_error" (||sym(J) y - f|| / ||f - x||).

    Example:

    >>> J = np.array([[1.0, 2.0], [0.0, 1.0]])
    >>> facts = keras_gahb.analysis.jacobian_facts(J, [1.0, 1.0], J @ [1.0, 1.0])
    >>> round(facts["asymmetry"], 3), facts["negative_count"]
    (1.155, 1)
    """
    J = np.asarray(jacobian, np.float64)
    if J.ndim != 2 or J.shape[0] != J.shape[1]:
        raise ValueError(f"jacobian must be one square matrix (D, D); got shape {J.shape}.")
    if not np.all(np.isfinite(J)):
        raise ValueError("The Jacobian contains non-finite values.")
    dim = J.shape[0]
    y = _flat(noisy, dim, "noisy")
    f = _flat(denoised, dim, "denoised")
    sym = 0.5 * (J + J.T)
    values = (np.linalg.eigvalsh(sym) if eigenvalues is None
              else np.asarray(eigenvalues, np.float64).ravel())
    scale = max(float(np.max(np.abs(values))), 1e-30)
    negative = values[values < -NEGATIVE_TOLERANCE * scale]
    sym_y, j_y = sym @ y, J @ y
    norm_f = max(float(np.linalg.norm(f)), 1e-30)
    facts = {
        "asymmetry": float(np.linalg.norm(J - J.T) / max(np.linalg.norm(J), 1e-30)),
        "negative_count": int(negative.size),
        "negative_sum": float(negative.sum()),
        "min_eigenvalue": float(values.min()),
        "trace": float(np.trace(J)),
        "sym_reconstruction_psnr": _psnr(sym_y, f),
        "sym_relative_error": float(np.linalg.norm(sym_y - f) / norm_f),
        "homogeneity_psnr": _psnr(j_y, f),
        "homogeneity_relative_error": float(np.linalg.norm(j_y - f) / norm_f),
    }
    if clean is not None:
        x = _flat(clean, dim, "clean")
        facts["output_psnr"] = _psnr(f, x)
        facts["sym_error_over_denoising_error"] = float(
            np.linalg.norm(sym_y - f) / max(np.linalg.norm(f - x), 1e-30))
    return facts


def jacobian_facts_matrix_free(denoiser, noisy, clean=None, num_probes=16, seed=0):
    """`jacobian_facts` from products with J and J^T only, for images too large for the full J.

    The reconstructions are exact: sym(J) y = (J y + J^T y) / 2 costs one Jacobian-vector and one
    vector-Jacobian product. The asymmetry is estimated with Gaussian probes v (E||A v||^2 =
    ||A||_F^2): sqrt(sum ||J v - J^T v||^2 / sum ||J v||^2), with a delta-method standard error
    over probes. The negative eigenvalues of sym(J) need its whole spectrum and are not given.

    Args:
        denoiser: Keras model or keras.ops callable on (B, H, W, C) batches.
        noisy: the point y, (H, W, C) or (1, H, W, C).
        clean: optional clean image x (for "output_psnr" and the error ratio).
        num_probes: Gaussian probes for the asymmetry (>= 2). Default 16.
        seed: int or numpy Generator of the probes. Default 0.

    Returns:
        dict with the keys of `jacobian_facts` except the eigenvalue ones, plus
        "asymmetry_standard_error" and "num_probes".

    Example:

    >>> facts = keras_gahb.analysis.jacobian_facts_matrix_free(model, y[0], num_probes=8)
    """
    num_probes = int(num_probes)
    if num_probes < 2:
        raise ValueError(f"num_probes must be >= 2; got {num_probes}.")
    fy, jvp_fn, vjp_fn = backend.linearize(denoiser, noisy)
    shape = fy.shape
    y = np.asarray(noisy, np.float32).reshape((1,) + shape)
    j_y = jvp_fn(y)[0].astype(np.float64).ravel()
    jt_y = vjp_fn(y)[0].astype(np.float64).ravel()
    f = np.asarray(fy, np.float64).ravel()
    probes = numpy_rng(seed).standard_normal((num_probes,) + shape).astype(np.float32)
    jv = jvp_fn(probes).reshape(num_probes, -1).astype(np.float64)
    jtv = vjp_fn(probes).reshape(num_probes, -1).astype(np.float64)
    diff2 = np.sum((jv - jtv) ** 2, axis=1)
    norm2 = np.sum(jv**2, axis=1)
    ratio = float(np.sum(diff2) / max(np.sum(norm2), 1e-30))
    # Delta method for sqrt(mean a / mean b): var of (a - r b) / mean b, over probes.
    residual = (diff2 - ratio * norm2) / max(norm2.mean(), 1e-30)
    ratio_se = float(residual.std(ddof=1) / np.sqrt(num_probes))
    asym = float(np.sqrt(ratio))
    sym_y = 0.5 * (j_y + jt_y)
    norm_f = max(float(np.linalg.norm(f)), 1e-30)
    facts = {
        "asymmetry": asym,
        "asymmetry_standard_error": ratio_se / max(2 * asym, 1e-30),
        "num_probes": num_probes,
        "sym_reconstruction_psnr": _psnr(sym_y, f),
        "sym_relative_error": float(np.linalg.norm(sym_y - f) / norm_f),
        "homogeneity_psnr": _psnr(j_y, f),
        "homogeneity_relative_error": float(np.linalg.norm(j_y - f) / norm_f),
    }
    if clean is not None:
        x = _flat(clean, f.size, "clean")
        facts["output_psnr"] = _psnr(f, x)
        facts["sym_error_over_denoising_error"] = float(
            np.linalg.norm(sym_y - f) / max(np.linalg.norm(f - x), 1e-30))
    return facts


def describe_jacobian_facts(facts):
    """One sentence that states the measured facts and what they say, with no threshold of its own.

    "Symmetric" is said only to float precision (asymmetry <= NEGATIVE_TOLERANCE * 100); the
    shrinkage form is called a description of f(y) when its error is below the denoiser's own
    error ||f(y) - x|| (given `clean` to `jacobian_facts`), the scale that decides whether the
    difference matters for the MSE.

    Example:

    >>> keras_gahb.analysis.describe_jacobian_facts(facts)
    '||J - J^T||/||J|| = 0.49: J is not symmetric (the optimal J* = Cov[x|y]/sigma^2 is); ...'
    """
    asym = facts["asymmetry"]
    if asym <= 100 * NEGATIVE_TOLERANCE:
        text = f"||J - J^T||/||J|| = {asym:.1e}: J is symmetric to float precision, like the " \
               "optimal J* = Cov[x|y]/sigma^2"
    else:
        text = f"||J - J^T||/||J|| = {asym:.2f}: J is not symmetric (the optimal " \
               "J* = Cov[x|y]/sigma^2 is)"
    if "negative_count" not in facts:
        text += "; the negative eigenvalues of sym(J) were not computed (matrix-free)"
    elif facts["negative_count"]:
        text += (f"; sym(J) has {facts['negative_count']} negative eigenvalues (sum "
                 f"{facts['negative_sum']:.2g}, min {facts['min_eigenvalue']:.2g}), which J* "
                 "cannot have")
    else:
        text += "; sym(J) has no negative eigenvalue, like J*"
    text += (f"; the shrinkage form sym(J) y = sum_k lambda_k <y, e_k> e_k reconstructs f(y) at "
             f"{facts['sym_reconstruction_psnr']:.1f} dB (J y: "
             f"{facts['homogeneity_psnr']:.1f} dB, the bias-free identity f(y) = J y)")
    ratio = facts.get("sym_error_over_denoising_error")
    if ratio is not None:
        if ratio < 1:
            text += (f", its error {ratio:.2f} of the denoising error ||f(y) - x||: the "
                     "eigenbasis of sym(J) describes f")
        else:
            text += (f", its error {ratio:.2f} times the denoising error ||f(y) - x||: the "
                     "eigenbasis of sym(J) does not describe f to the accuracy of f")
    return text


def _flat(values, dim, name):
    flat = np.asarray(values, np.float64).ravel()
    if flat.size != dim:
        raise ValueError(f"{name} has {flat.size} entries; the Jacobian needs D = {dim}.")
    return flat


def _psnr(estimate, reference):
    mse = float(np.mean((estimate - reference) ** 2))
    return float(min(PSNR_CAP_DB, -10 * np.log10(max(mse, 1e-30))))


__all__ = ["NEGATIVE_TOLERANCE", "describe_jacobian_facts", "jacobian_facts",
           "jacobian_facts_matrix_free"]
