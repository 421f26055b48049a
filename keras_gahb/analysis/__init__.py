"""Analysis of denoisers: Jacobians, adaptive eigenbases (GAHB), and generalization measures.

- Jacobians: `jacobian` (full, chunked), checks `bias_free_error` and `asymmetry`,
  `eigen_analysis` -> `EigenAnalysis` (eigenvalues/vectors of sym J, <x, e_k>, tr J);
  matrix-free `top_eigenpairs` (block Krylov or Lanczos) and `hutchinson_trace`;
  measured facts `jacobian_facts` (asymmetry, negative eigenvalues of sym J, how well
  sym(J) y reconstructs f(y)) and `describe_jacobian_facts`.
- SURE: `sure_mse` (exact or Hutchinson tr J), `sure_from_trace`, and
  `optimal_mse_identity` (sigma^2 tr J / D: the MSE of the optimal denoiser only).
- Harmonic structure against a fixed-filter control: `contour_band`,
  `contour_concentration`, `contour_adaptation` (own-contour excess, 0 for any fixed filter).
- Measures: `psnr_curve`, `train_test_gap`, `mse_curve`, `mse_slope`,
  `cosine_similarity`, `nearest_neighbors`, `memorization_ratio`,
  `relative_model_variance`, `kl_bound`, and the `EmpiricalOptimalDenoiser`
  of a finite training set.
- Oracle references (`oracle.py`): `dct_matrix`, `haar_matrix`, `orthonormal_basis`,
  `basis_coefficients`, the oracle projection risk `oracle_risk` (sum_k min(c_k^2, sigma^2) / D),
  `oracle_psnr`, `oracle_slope`, the keep-or-kill `oracle_projection`, `threshold_denoise`, and
  `oracle_margin` (a denoiser's MSE against an oracle risk, with an interval over images).
- Sample realism: `gradient_energy_ratio`, `radial_power_spectrum`, `sample_realism`; the
  smoothness-matched baseline `gaussian_blur`, `blur_to_match`, `matched_blur_baseline`,
  `matched_agreement`.
- Beyond the paper: reference denoisers (`WienerDenoiser`, `GaussianMixtureDenoiser`,
  `SmoothedEmpiricalDenoiser`, `LocalPatchDenoiser`, `PCALocalDenoiser`) and
  `compare_with_references`; Jacobian `dimension_curve` across sigma; sampling probes
  `trajectory_agreement` and `branching`.
- Figures: `keras_gahb.analysis.figures`; command-line runs: `analyze_*`.

Reference: Kadkhodaie, Guth, Simoncelli, Mallat (2024), https://arxiv.org/abs/2310.02557.
"""

from keras_gahb.analysis import beyond_figures, figures
from keras_gahb.analysis.beyond_run import (
    analyze_branching,
    analyze_dimension,
    analyze_references,
)
from keras_gahb.analysis.dimension import (
    TangentProjectionDenoiser,
    dimension_curve,
    disc_tangent_basis,
    gaussian_jacobian_spectrum,
    implied_dimension,
    local_disc_images,
    per_sigma,
)
from keras_gahb.analysis.eigen_analysis import EigenAnalysis, eigen_analysis
from keras_gahb.analysis.empirical_optimal_denoiser import (
    EmpiricalOptimalDenoiser,
    empirical_optimal_denoiser,
)
from keras_gahb.analysis.harmonic import (
    contour_adaptation,
    contour_band,
    contour_concentration,
)
from keras_gahb.analysis.jacobian import asymmetry, bias_free_error, jacobian, symmetric_eigh
from keras_gahb.analysis.jacobian_facts import (
    describe_jacobian_facts,
    jacobian_facts,
    jacobian_facts_matrix_free,
)
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
from keras_gahb.analysis.oracle import (
    basis_coefficients,
    dct_matrix,
    from_coefficients,
    haar_matrix,
    oracle_margin,
    oracle_projection,
    oracle_psnr,
    oracle_risk,
    oracle_slope,
    orthonormal_basis,
    threshold_denoise,
)
from keras_gahb.analysis.probes import branching, trajectory_agreement
from keras_gahb.analysis.realism import (
    blur_to_match,
    gaussian_blur,
    gradient_energy_ratio,
    matched_agreement,
    matched_blur_baseline,
    radial_power_spectrum,
    sample_realism,
)
from keras_gahb.analysis.references import (
    REFERENCES,
    GaussianMixtureDenoiser,
    LocalPatchDenoiser,
    PCALocalDenoiser,
    SmoothedEmpiricalDenoiser,
    WienerDenoiser,
    calibrate_patch_size,
    compare_with_references,
    default_patch_size,
    r_squared,
    reference_denoiser,
)
from keras_gahb.analysis.run import (
    analyze_jacobian,
    analyze_psnr,
    analyze_similarity,
    analyze_slope,
    load_denoiser,
    load_images,
)
from keras_gahb.analysis.sure import optimal_mse_identity, sure_from_trace, sure_mse

__all__ = [
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
    "GaussianMixtureDenoiser",
    "LocalPatchDenoiser",
    "PCALocalDenoiser",
    "REFERENCES",
    "SmoothedEmpiricalDenoiser",
    "TangentProjectionDenoiser",
    "WienerDenoiser",
    "analyze_branching",
    "analyze_dimension",
    "analyze_references",
    "beyond_figures",
    "blur_to_match",
    "branching",
    "calibrate_patch_size",
    "compare_with_references",
    "contour_adaptation",
    "contour_band",
    "contour_concentration",
    "describe_jacobian_facts",
    "jacobian_facts",
    "jacobian_facts_matrix_free",
    "optimal_mse_identity",
    "sure_from_trace",
    "sure_mse",
    "default_patch_size",
    "dimension_curve",
    "disc_tangent_basis",
    "gaussian_jacobian_spectrum",
    "implied_dimension",
    "local_disc_images",
    "per_sigma",
    "r_squared",
    "reference_denoiser",
    "trajectory_agreement",
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
    "gaussian_blur",
    "gradient_energy_ratio",
    "hutchinson_trace",
    "jacobian",
    "kl_bound",
    "load_denoiser",
    "load_images",
    "matched_agreement",
    "matched_blur_baseline",
    "memorization_ratio",
    "mse_curve",
    "mse_slope",
    "nearest_neighbors",
    "psnr",
    "psnr_curve",
    "radial_power_spectrum",
    "sample_realism",
    "relative_model_variance",
    "symmetric_eigh",
    "top_eigenpairs",
    "train_test_gap",
]
