"""Part "discs": on a 5-D manifold of discs the denoiser is sub-optimal and keeps extra GAHB vectors."""

import os

import numpy as np

from keras_gahb import analysis, data
from keras_gahb.analysis import figures
from keras_gahb.experiments.reproduction_config import PAPER_DISC_EIGENVALUES
from keras_gahb.experiments.trained_models import load_denoiser, train_model
from keras_gahb.utils import atomic_write_json

#: The manifold dimension: center x, y, radius, foreground and background intensity.
MANIFOLD_DIMENSION = 5
#: Images whose Jacobian spectrum is averaged.
JACOBIAN_IMAGES = 4
#: An eigenvalue above this counts as "well above zero" (kept, not cut off).
KEPT_THRESHOLD = 0.5


def run_discs(config, run_dir, verbose=1):
    """Train a disc denoiser, fit its MSE slope and analyse its Jacobian; returns the section."""
    out = os.path.join(run_dir, "discs")
    os.makedirs(out, exist_ok=True)
    pool = data.get_images("discs", config.discs_n + config.test_size, config.image_size,
                           seed=config.seed)
    train, test = pool[: config.discs_n], pool[config.discs_n:]
    model_dir = os.path.join(run_dir, "models", "discs")
    train_model(model_dir, config, train_images=train, test_images=test,
                images_per_model=config.discs_images_per_model, verbose=verbose, label="discs")
    denoiser = load_denoiser(model_dir)

    mse = analysis.mse_curve(denoiser, test, config.slope_sigmas, seed=config.seed)
    fit = analysis.mse_slope(config.slope_sigmas, mse, seed=config.seed)
    num_pixels = int(np.prod(test.shape[1:]))
    sigmas = np.asarray(config.slope_sigmas, float)
    optimal = MANIFOLD_DIMENSION * sigmas**2 / num_pixels  # projection on the tangent space

    if verbose:
        print(f"[discs] Jacobians of {JACOBIAN_IMAGES} test images at sigma={config.jacobian_sigma}",
              flush=True)
    spectra, first = [], None
    for i in range(JACOBIAN_IMAGES):
        result = analysis.eigen_analysis(denoiser, test[i], sigma=config.jacobian_sigma,
                                         seed=config.seed + i)
        spectra.append(result.eigenvalues)
        first = first or result
    spectra = np.stack(spectra)
    mean_top = spectra[:, :10].mean(axis=0)
    kept = (spectra > KEPT_THRESHOLD).sum(axis=1)
    traces = spectra.sum(axis=1)

    figure_slope = os.path.join(out, "mse_slope.png")
    figures.mse_slope_figure(figure_slope, sigmas, {"denoiser": mse.mean(axis=0)},
                             fits={"denoiser": fit}, optimal=optimal)
    figure_basis = os.path.join(out, "jacobian_basis.png")
    figures.fig2_layout(figure_basis, first, num_vectors=12, indices=list(range(12)))
    numbers = {
        "slope": fit,
        "optimal_slope": 1.0,
        "top_eigenvalues_mean": mean_top.tolist(),
        "paper_top_eigenvalues": list(PAPER_DISC_EIGENVALUES),
        "eigenvalues_above_threshold": kept.tolist(),
        "threshold": KEPT_THRESHOLD,
        "effective_dimensionality": traces.tolist(),
        "manifold_dimension": MANIFOLD_DIMENSION,
        "jacobian_sigma": config.jacobian_sigma,
    }
    atomic_write_json(os.path.join(out, "measures.json"), numbers)
    return {
        "id": "discs",
        "title": "Discs: a 5-dimensional manifold, sub-optimal denoising",
        "paragraphs": [
            "Images of one disc (center x, y, radius, foreground and background intensity: a "
            "curved 5-D manifold). At small sigma the optimal denoiser projects on the 5-D "
            "tangent space: MSE = 5 sigma^2 (per image), slope 1. The paper finds the network "
            "sub-optimal: a slope below 1, 5 eigenvalues near 1 for the tangent space, and extra "
            "geometry-adaptive harmonic vectors with eigenvalues that are not cut off.",
        ],
        "checks": [
            {
                "claim": "sub-optimal: MSE slope below the optimal slope 1",
                "value": f"{fit['slope']:.2f} [{fit['ci_low']:.2f}, {fit['ci_high']:.2f}]",
                "passed": bool(fit["slope"] < 1.0),
            },
            {
                "claim": f"the tangent space is kept: at least {MANIFOLD_DIMENSION} eigenvalues "
                         f"above {KEPT_THRESHOLD} at sigma={config.jacobian_sigma}",
                "value": f"{kept.tolist()} (per image)",
                "passed": bool(np.all(kept >= MANIFOLD_DIMENSION)),
            },
            {
                "claim": f"extra dimensions are not cut off: effective dimensionality tr J > "
                         f"{MANIFOLD_DIMENSION}",
                "value": ", ".join(f"{t:.1f}" for t in traces),
                "passed": bool(np.all(traces > MANIFOLD_DIMENSION)),
            },
        ],
        "numbers": numbers,
        "tables": [{
            "caption": f"Top eigenvalues of the Jacobian at sigma={config.jacobian_sigma} "
                       f"(mean over {JACOBIAN_IMAGES} test images) and the paper's (80x80, sigma=0.04)",
            "header": ["k"] + [str(k) for k in range(10)],
            "rows": [["measured"] + [float(v) for v in mean_top],
                     ["paper"] + list(PAPER_DISC_EIGENVALUES)],
        }],
        "figures": [
            {"path": figure_slope, "caption": (
                "MSE per pixel against sigma^2 on held-out discs; dashed: the optimal 5 sigma^2 / D.")},
            {"path": figure_basis, "caption": (
                "A test disc, its noisy and denoised versions, the Jacobian spectrum lambda_k with "
                "|<x, e_k>|, and the first 12 eigenvectors.")},
        ],
    }
