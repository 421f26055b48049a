"""Part "calpha": denoising C^alpha images reaches the optimal MSE slope alpha / (alpha + 1)."""

import os

import numpy as np

from keras_gahb import analysis, data, runs
from keras_gahb.analysis import figures
from keras_gahb.experiments.plan import plan
from keras_gahb.experiments.reproduction_config import PAPER_CALPHA_SLOPES
from keras_gahb.experiments.trained_models import train_models
from keras_gahb.models import load_denoiser
from keras_gahb.utils import atomic_write_json

#: A measured slope within this distance of alpha / (alpha + 1) counts as optimal.
SLOPE_TOLERANCE = 0.1
#: At the medium and paper scales the slopes must be within this distance of the paper's.
PAPER_SLOPE_TOLERANCE = 0.05


def run_calpha(config, run_dir, verbose=1):
    """Train one denoiser per alpha and fit log MSE against log sigma^2; returns the section."""
    out = os.path.join(run_dir, "calpha")
    os.makedirs(out, exist_ok=True)
    fits, curves = {}, {}
    specs = {spec.split: spec for spec in plan(config, run_dir) if spec.part == "calpha"}
    sources = {
        alpha: runs.image_source("calpha", config.calpha_n + config.test_size, config.image_size,
                                 seed=config.seed, alpha=alpha, variant=config.calpha_variant)
        for alpha in config.calpha_alphas
    }
    pools = {alpha: data.get_images("calpha", source["num"], source["image_size"],
                                    seed=source["seed"], **source["options"])
             for alpha, source in sources.items()}
    indices = {"train": list(range(config.calpha_n)),
               "test": list(range(config.calpha_n, config.calpha_n + config.test_size))}
    chosen = [specs[f"alpha{alpha:g}"] for alpha in config.calpha_alphas]
    train_models([spec.run_dir for spec in chosen], config,
                 train_sets=[pools[a][: config.calpha_n] for a in config.calpha_alphas],
                 test_sets=[pools[a][config.calpha_n:] for a in config.calpha_alphas],
                 images_per_model=config.calpha_images_per_model,
                 seeds=[spec.seed for spec in chosen], verbose=verbose,
                 labels=[f"C^alpha alpha={a:g}" for a in config.calpha_alphas],
                 sources=[{"source": sources[a], **indices} for a in config.calpha_alphas])
    for alpha in config.calpha_alphas:
        pool = pools[alpha]
        spec = specs[f"alpha{alpha:g}"]
        denoiser = load_denoiser(spec.run_dir)[0]
        mse = analysis.mse_curve(denoiser, pool[config.calpha_n:], config.slope_sigmas,
                                 seed=config.seed)
        fit = analysis.mse_slope(config.slope_sigmas, mse, seed=config.seed)
        fit["optimal"] = alpha / (alpha + 1.0)
        fit["paper"] = PAPER_CALPHA_SLOPES.get(float(alpha))
        fit["seed"] = spec.seed
        # Output PSNR against the noisy input's, per sigma: a denoiser must not be worse than
        # the identity.
        fit["output_psnr"] = (-10 * np.log10(np.maximum(mse.mean(axis=0), 1e-10))).tolist()
        fit["input_psnr"] = (-20 * np.log10(np.asarray(config.slope_sigmas, float))).tolist()
        fits[f"{alpha:g}"] = fit
        curves[f"{alpha:g}"] = mse.mean(axis=0).tolist()
    atomic_write_json(os.path.join(out, "measures.json"), {"fits": fits, "mse": curves,
                                                           "sigmas": list(config.slope_sigmas)})
    figure = os.path.join(out, "mse_slopes.png")
    figures.mse_slope_figure(
        figure, config.slope_sigmas, {f"alpha = {a}": curves[a] for a in fits},
        fits={f"alpha = {a}": fits[a] for a in fits},
    )
    rows = [
        [f"{float(a):g}", fit["slope"], f"[{fit['ci_low']:.2f}, {fit['ci_high']:.2f}]",
         fit["optimal"], fit["paper"] if fit["paper"] is not None else "-"]
        for a, fit in fits.items()
    ]
    return {
        "id": "calpha",
        "title": "C^alpha images: near-optimal denoising",
        "paragraphs": [
            "C^alpha images (Appendix E of the paper): two regions separated by a boundary curve "
            "of regularity alpha, each filled with a background of regularity alpha. The optimal "
            "MSE decays as (sigma^2)^(alpha/(alpha+1)) (Korostelev & Tsybakov 1993), which a "
            "bandlet basis reaches; a denoiser that shrinks in a geometry-adaptive harmonic basis "
            "reaches it too. We fit log MSE against log sigma^2 on held-out images over sigma in "
            f"{list(config.slope_sigmas)} (95% bootstrap interval over images). Generator: "
            f"{config.calpha_variant}."
        ],
        "checks": calpha_checks(config, fits),
        "numbers": {"fits": fits},
        "tables": [{
            "caption": "Slope of log MSE vs log sigma^2 per alpha",
            "header": ["alpha", "measured slope", "95% interval", "optimal alpha/(alpha+1)",
                       "paper (UNet, N=1e5)"],
            "rows": rows,
        }],
        "figures": [{"path": figure, "caption": (
            "MSE against sigma^2 (log-log) on held-out C^alpha images, with the fitted lines and "
            "the optimal slopes.")}],
    }


def calpha_checks(config, fits):
    """Checks of the C^alpha part, each with the numbers it compares."""
    alphas = list(fits)
    slopes = [fits[a]["slope"] for a in alphas]
    low, high = fits[alphas[0]], fits[alphas[-1]]
    worst = {a: min(o - i for o, i in zip(fits[a]["output_psnr"], fits[a]["input_psnr"]))
             for a in alphas}
    checks = [
        {
            "claim": f"slopes grow with alpha, with non-overlapping 95% intervals between "
                     f"alpha={alphas[0]} and alpha={alphas[-1]}",
            "value": ", ".join(f"{a}: {fits[a]['slope']:.2f} [{fits[a]['ci_low']:.2f}, "
                               f"{fits[a]['ci_high']:.2f}]" for a in alphas),
            "passed": bool(all(b > a for a, b in zip(slopes, slopes[1:]))
                           and low["ci_high"] < high["ci_low"]),
        },
        {
            "claim": f"every slope within {SLOPE_TOLERANCE} of alpha/(alpha+1)",
            "value": ", ".join(f"{fits[a]['slope']:.2f} vs {fits[a]['optimal']:.2f}"
                               for a in alphas),
            "passed": bool(all(abs(fits[a]["slope"] - fits[a]["optimal"]) <= SLOPE_TOLERANCE
                               for a in alphas)),
        },
        {
            "claim": "the denoiser is never worse than the identity: output PSNR >= input PSNR "
                     f"at every sigma in {list(config.slope_sigmas)}",
            "value": "worst output - input: " + ", ".join(
                f"alpha {a}: {worst[a]:+.2f} dB" for a in alphas),
            "passed": bool(all(w >= 0 for w in worst.values())),
        },
    ]
    if config.scale in ("medium", "paper"):
        with_paper = [a for a in alphas if fits[a]["paper"] is not None]
        checks.append({
            "claim": f"slopes within {PAPER_SLOPE_TOLERANCE} of the paper's",
            "value": ", ".join(f"{fits[a]['slope']:.2f} vs {fits[a]['paper']:.2f}"
                               for a in with_paper),
            "passed": bool(with_paper and all(
                abs(fits[a]["slope"] - fits[a]["paper"]) <= PAPER_SLOPE_TOLERANCE
                for a in with_paper)),
        })
    return checks
