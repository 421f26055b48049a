"""Analysis of denoisers: Jacobians, adaptive eigenbases (GAHB), and generalization measures.

- Jacobians: `jacobian` (full, chunked), checks `bias_free_error` and `asymmetry`,
  `eigen_analysis` -> `EigenAnalysis` (eigenvalues/vectors of sym J, <x, e_k>, tr J);
  matrix-free `top_eigenpairs` (block Krylov or Lanczos) and `hutchinson_trace`.
- Measures: `psnr_curve`, `train_test_gap`, `mse_curve`, `mse_slope`,
  `cosine_similarity`, `nearest_neighbors`, `memorization_ratio`,
  `relative_model_variance`, `kl_bound`, and the `EmpiricalOptimalDenoiser`
  of a finite training set.
- Figures: `keras_gahb.analysis.figures`; command-line runs: `analyze_*`.

Reference: Kadkhodaie, Guth, Simoncelli, Mallat (2024), https://arxiv.org/abs/2310.02557.
"""

from keras_gahb.analysis import figures
from keras_gahb.analysis.eigen_analysis import EigenAnalysis, eigen_analysis
from keras_gahb.analysis.empirical_optimal_denoiser import (
    EmpiricalOptimalDenoiser,
    empirical_optimal_denoiser,
)
from keras_gahb.analysis.jacobian import asymmetry, bias_free_error, jacobian, symmetric_eigh
from keras_gahb.analysis.matrix_free import hutchinson_trace, top_eigenpairs
from keras_gahb.analysis.measures import (
    cosine_similarity,
    denoise,
    kl_bound,
    memorization_ratio,
    mse_curve,
    mse_slope,
    nearest_neighbors,
    psnr,
    psnr_curve,
    relative_model_variance,
    train_test_gap,
)
from keras_gahb.analysis.run import (
    analyze_jacobian,
    analyze_psnr,
    analyze_similarity,
    analyze_slope,
    load_denoiser,
    load_images,
)

__all__ = [
    "EigenAnalysis",
    "EmpiricalOptimalDenoiser",
    "analyze_jacobian",
    "analyze_psnr",
    "analyze_similarity",
    "analyze_slope",
    "asymmetry",
    "bias_free_error",
    "cosine_similarity",
    "denoise",
    "eigen_analysis",
    "empirical_optimal_denoiser",
    "figures",
    "hutchinson_trace",
    "jacobian",
    "kl_bound",
    "load_denoiser",
    "load_images",
    "memorization_ratio",
    "mse_curve",
    "mse_slope",
    "nearest_neighbors",
    "psnr",
    "psnr_curve",
    "relative_model_variance",
    "symmetric_eigh",
    "top_eigenpairs",
    "train_test_gap",
]
