"""Part "discs": on a 5-D manifold of discs the denoiser is sub-optimal and keeps extra GAHB vectors."""

import os

import numpy as np

from keras_gahb import analysis, data, runs
from keras_gahb.analysis import figures
from keras_gahb.experiments.plan import plan
from keras_gahb.experiments.reproduction_config import PAPER_DISC_EIGENVALUES
from keras_gahb.experiments.trained_models import train_model
from keras_gahb.models import load_denoiser
from keras_gahb.utils import atomic_write_json

#: The manifold dimension: center x, y, radius, foreground and background intensity.
MANIFOLD_DIMENSION = 5
#: Images whose Jacobian spectrum is averaged.
JACOBIAN_IMAGES = 4
#: An eigenvalue above this counts as "well above zero" (kept, not cut off).
KEPT_THRESHOLD = 0.5
#: A denoiser that adapts to the 5-D manifold keeps at most this many times 5 eigenvalues above
#: KEPT_THRESHOLD (the paper's: 7); the identity keeps all D of them.
KEPT_FACTOR_MAX = 3


def run_discs(config, run_dir, verbose=1):
    """Train a disc denoiser, fit its MSE slope and analyse its Jacobian; returns the section."""
    out = os.path.join(run_dir, "discs")
    os.makedirs(out, exist_ok=True)
    num = config.discs_n + config.test_size
    pool = data.get_images("discs", num, config.image_size, seed=config.seed)
    train, test = pool[: config.discs_n], pool[config.discs_n:]
    spec = next(spec for spec in plan(config, run_dir) if spec.part == "discs")
    source = {"source": runs.image_source("discs", num, config.image_size, seed=config.seed),
              "train": list(range(config.discs_n)), "test": list(range(config.discs_n, num))}
    train_model(spec.run_dir, config, train_images=train, test_images=test,
                images_per_model=config.discs_images_per_model, seed=spec.seed, verbose=verbose,
                label="discs", source=source)
    denoiser = load_denoiser(spec.run_dir)[0]

    mse = analysis.mse_curve(denoiser, test, config.slope_sigmas, seed=config.seed)
    fit = analysis.mse_slope(config.slope_sigmas, mse, seed=config.seed)
    num_pixels = int(np.prod(test.shape[1:]))
    sigmas = np.asarray(config.slope_sigmas, float)
    optimal = MANIFOLD_DIMENSION * sigmas**2 / num_pixels  # projection on the tangent space
    mean_mse = mse.mean(axis=0)
    output_psnr = -10 * np.log10(np.maximum(mean_mse, 1e-10))
    input_psnr = -20 * np.log10(sigmas)

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
    figures.mse_slope_figure(figure_slope, sigmas, {"denoiser": mean_mse},
                             fits={"denoiser": fit}, optimal=optimal)
    figure_basis = os.path.join(out, "jacobian_basis.png")
    figures.fig2_layout(figure_basis, first, num_vectors=12, indices=list(range(12)))
    numbers = {
        "seed": spec.seed,
        "slope": fit,
        "mse_per_pixel": mean_mse.tolist(),
        "optimal_mse_per_pixel": optimal.tolist(),
        "mse_over_optimal": (mean_mse / optimal).tolist(),
        "output_psnr": output_psnr.tolist(),
        "input_psnr": input_psnr.tolist(),
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
                "claim": "the denoiser is never worse than the identity: output PSNR >= input "
                         f"PSNR at every sigma in {list(config.slope_sigmas)}",
                "value": ", ".join(f"{o:.1f} vs {i:.1f} dB" for o, i in zip(output_psnr,
                                                                          input_psnr)),
                "passed": bool(np.all(output_psnr >= input_psnr)),
            },
            {
                "claim": f"the Jacobian keeps the {MANIFOLD_DIMENSION} tangent directions and cuts "
                         f"off most others: between {MANIFOLD_DIMENSION} and "
                         f"{KEPT_FACTOR_MAX * MANIFOLD_DIMENSION} eigenvalues above "
                         f"{KEPT_THRESHOLD} at sigma={config.jacobian_sigma} (paper: 7; "
                         f"identity: {num_pixels})",
                "value": f"{kept.tolist()} (per image)",
                "passed": bool(np.all((kept >= MANIFOLD_DIMENSION)
                                      & (kept <= KEPT_FACTOR_MAX * MANIFOLD_DIMENSION))),
            },
        ],
        "numbers": numbers,
        "tables": [{
            "caption": "MSE per pixel against the optimal manifold denoiser's small-sigma limit "
                       f"5 sigma^2 / D (D = {num_pixels}); a ratio of 1 is optimal, the paper's "
                       "network is above it (slope < 1)",
            "header": ["sigma"] + [f"{s:g}" for s in sigmas],
            "rows": [["MSE"] + [float(v) for v in mean_mse],
                     ["optimal 5 sigma^2/D"] + [float(v) for v in optimal],
                     ["MSE / optimal"] + [float(v) for v in mean_mse / optimal],
                     ["slope (fit)", f"{fit['slope']:.2f} [{fit['ci_low']:.2f}, "
                      f"{fit['ci_high']:.2f}] (optimal 1)"] + [""] * (len(sigmas) - 1)],
        }, {
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
