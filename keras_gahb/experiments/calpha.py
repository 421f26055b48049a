"""Part "calpha": denoising C^alpha images against oracle projections and the slope alpha / (alpha + 1)."""

import os

import numpy as np

from keras_gahb import analysis, data, runs
from keras_gahb.analysis import figures
from keras_gahb.experiments.plan import plan
from keras_gahb.experiments.reproduction_config import PAPER_CALPHA_SLOPES, SCALES
from keras_gahb.experiments.trained_models import train_models
from keras_gahb.experiments.transition import _check
from keras_gahb.models import load_denoiser
from keras_gahb.utils import atomic_write_json

#: A measured slope within this distance of alpha / (alpha + 1) counts as optimal.
SLOPE_TOLERANCE = 0.1
#: Where the slope checks apply (80x80, the paper's window), within this distance of the paper's.
PAPER_SLOPE_TOLERANCE = 0.05
#: The slope checks apply only at this image size or larger, over the paper's window.
PAPER_IMAGE_SIZE = 80
PAPER_SLOPE_SIGMAS = tuple(float(s) for s in SCALES["paper"]["slope_sigmas"])
#: Oracle bases beside the network, and their names in the report.
ORACLE_BASES = ("dct", "haar")
ORACLE_NAMES = {"dct": "DCT", "haar": "Haar"}
#: Half-width, in standard errors over test images, of the intervals of the oracle checks.
ORACLE_Z = 2.0


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
        test = pool[config.calpha_n:]
        mse = analysis.mse_curve(denoiser, test, config.slope_sigmas, seed=config.seed)
        fit = calpha_fit(config.slope_sigmas, mse, test, alpha, seed=config.seed,
                         paper=PAPER_CALPHA_SLOPES.get(float(alpha)))
        fit["seed"] = spec.seed
        fits[f"{alpha:g}"] = fit
        curves[f"{alpha:g}"] = mse.mean(axis=0).tolist()
    atomic_write_json(os.path.join(out, "measures.json"), {"fits": fits, "mse": curves,
                                                           "sigmas": list(config.slope_sigmas)})
    figure = os.path.join(out, "mse_slopes.png")
    figures.mse_slope_figure(
        figure, config.slope_sigmas, {f"alpha = {a}": curves[a] for a in fits},
        fits={f"alpha = {a}": fits[a] for a in fits},
        references={f"alpha = {a}": fits[a]["oracle"]["dct"]["margin"]["risk"] for a in fits},
        reference_label="dashed: oracle DCT risk (same colour)",
    )
    rows = [
        [f"{float(a):g}", fit["slope"], f"[{fit['ci_low']:.2f}, {fit['ci_high']:.2f}]"]
        + [fit["oracle"][b]["slope"] for b in ORACLE_BASES]
        + [fit["optimal"], fit["paper"] if fit["paper"] is not None else "-"]
        for a, fit in fits.items()
    ]
    psnr_rows = [
        [f"{float(a):g}", f"{s:g}", fit["input_psnr"][j], fit["output_psnr"][j]]
        + [fit["oracle"][b]["psnr"][j] for b in ORACLE_BASES]
        for a, fit in fits.items() for j, s in enumerate(config.slope_sigmas)
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
            f"{config.calpha_variant}.",
            "Oracle references on the same test images: the projection risk "
            "sum_k min(c_k^2, sigma^2) / D of the 2-D DCT and of Haar wavelets (keep or kill each "
            "coefficient with the clean image known; keras_gahb.analysis.oracle_risk), and its "
            "slope by the same fit. alpha/(alpha+1) is an asymptotic rate: "
            + _slope_scope(config, fits),
        ],
        "checks": calpha_checks(config, fits),
        "numbers": {"fits": fits},
        "tables": [{
            "caption": "Slope of log MSE vs log sigma^2 per alpha, the network beside the oracle "
                       "projection risks of fixed bases",
            "header": ["alpha", "network slope", "95% interval"]
                      + [f"oracle {ORACLE_NAMES[b]} slope" for b in ORACLE_BASES]
                      + ["optimal alpha/(alpha+1)", "paper (UNet, N=1e5)"],
            "rows": rows,
        }, {
            "caption": "PSNR (dB, of the mean MSE over test images) per alpha and sigma: noisy "
                       "input, network, oracle projections",
            "header": ["alpha", "sigma", "input", "network"]
                      + [f"oracle {ORACLE_NAMES[b]}" for b in ORACLE_BASES],
            "rows": psnr_rows,
        }],
        "figures": [{"path": figure, "caption": (
            "MSE against sigma^2 (log-log) on held-out C^alpha images, with the fitted lines; "
            "dashed: the oracle DCT projection risk of the same images.")}],
    }


def calpha_fit(sigmas, mse, images, alpha, seed=0, paper=None, z=ORACLE_Z):
    """The numbers of one alpha: the network's slope and PSNR beside the oracle bases'.

    Args:
        sigmas: the window (m,).
        mse: the network's per-image MSE (n, m) on `images` (`keras_gahb.analysis.mse_curve`).
        images: the clean test images (n, H, W, C).
        alpha: the regularity.
        seed: seed of the bootstrap intervals. Default 0.
        paper: the paper's slope for this alpha, or None.
        z: half-width of the intervals over images, in standard errors. Default 2.

    Returns:
        dict: the `mse_slope` fit of the network, optimal, paper, output_psnr, input_psnr,
        identity (`oracle_margin` against sigma^2, the identity's MSE) and oracle: {basis:
        {slope, ci_low, ci_high, psnr, margin}} for "dct" and "haar" (margin["risk"]: the
        mean risk per sigma).
    """
    sigmas = np.asarray(sigmas, np.float64)
    mse = np.asarray(mse, np.float64)
    fit = analysis.mse_slope(sigmas, mse, seed=seed)
    fit["optimal"] = alpha / (alpha + 1.0)
    fit["paper"] = paper
    fit["output_psnr"] = (-10 * np.log10(np.maximum(mse.mean(axis=0), 1e-10))).tolist()
    fit["input_psnr"] = (-20 * np.log10(sigmas)).tolist()
    fit["identity"] = analysis.oracle_margin(mse, np.broadcast_to(sigmas**2, mse.shape), z=z)
    fit["oracle"] = {}
    for basis in ORACLE_BASES:
        risk = analysis.oracle_risk(images, sigmas, basis)
        slope = analysis.mse_slope(sigmas, risk, seed=seed)
        fit["oracle"][basis] = {
            "slope": slope["slope"], "ci_low": slope["ci_low"], "ci_high": slope["ci_high"],
            "psnr": (-10 * np.log10(risk.mean(axis=0))).tolist(),
            "margin": analysis.oracle_margin(mse, risk, z=z)}
    return fit


def slope_check_applies(config):
    """Whether alpha/(alpha+1) is attainable: 80x80 or larger, over the paper's window."""
    return (config.image_size >= PAPER_IMAGE_SIZE
            and tuple(float(s) for s in config.slope_sigmas) == PAPER_SLOPE_SIGMAS)


def _slope_scope(config, fits):
    dct = "/".join(f"{fits[a]['oracle']['dct']['slope']:.2f}" for a in fits)
    haar = "/".join(f"{fits[a]['oracle']['haar']['slope']:.2f}" for a in fits)
    measured = (f"at {config.image_size}x{config.image_size} over sigma "
                f"{min(config.slope_sigmas):g}-{max(config.slope_sigmas):g} the oracle DCT slopes "
                f"are {dct} and the Haar slopes {haar} for alpha = "
                + "/".join(fits) + ", flat in alpha")
    if slope_check_applies(config):
        return (measured + "; at the paper's size and window the slope checks apply.")
    return (measured + f"; the slope checks apply only at {PAPER_IMAGE_SIZE}x{PAPER_IMAGE_SIZE} "
            f"over the paper's window {list(PAPER_SLOPE_SIGMAS)}, and here they are information "
            "(N/A).")


def calpha_checks(config, fits):
    """Checks of the C^alpha part, each with the numbers it compares (the shared schema).

    At every scale: (i) output PSNR >= input PSNR at every sigma, (ii) the network's MSE at
    or below the oracle DCT and the oracle Haar projection risks at every sigma (paired
    intervals over test images, mean +- 2 s.e.). The slope checks (alpha/(alpha+1), slopes
    growing with alpha, the paper's slopes) apply only at 80x80 over the paper's window; at
    other sizes they are information (applicable False), with the oracle slopes beside.
    """
    alphas = list(fits)
    sigmas = [float(s) for s in config.slope_sigmas]
    checks = [_margin_check(
        "the denoiser is never worse than the identity: output PSNR >= input PSNR at every "
        f"sigma in {sigmas}", fits, sigmas, lambda fit: fit["identity"], "the input")]
    for basis in ORACLE_BASES:
        checks.append(_margin_check(
            f"MSE at or below the oracle {ORACLE_NAMES[basis]} projection risk "
            f"sum_k min(c_k^2, sigma^2) / D at every sigma in {sigmas}", fits, sigmas,
            lambda fit, b=basis: fit["oracle"][b]["margin"], f"the oracle {ORACLE_NAMES[basis]}"))

    applies = slope_check_applies(config)
    slopes = [fits[a]["slope"] for a in alphas]
    beside = ", ".join(
        f"alpha {a}: {fits[a]['slope']:.2f} (oracle DCT {fits[a]['oracle']['dct']['slope']:.2f}, "
        f"Haar {fits[a]['oracle']['haar']['slope']:.2f})" for a in alphas)
    not_here = ("" if applies else
                f"asymptotic rate; at {config.image_size}x{config.image_size} the oracle DCT "
                "slopes are " + "/".join(f"{fits[a]['oracle']['dct']['slope']:.2f}" for a in alphas)
                + " (Haar " + "/".join(f"{fits[a]['oracle']['haar']['slope']:.2f}" for a in alphas)
                + f") for alpha = {'/'.join(alphas)} over sigma {min(sigmas):g}-{max(sigmas):g}, "
                "flat in alpha: the check applies at "
                f"{PAPER_IMAGE_SIZE}x{PAPER_IMAGE_SIZE} over the paper's window "
                f"{list(PAPER_SLOPE_SIGMAS)}")
    low, high = fits[alphas[0]], fits[alphas[-1]]
    grows = bool(all(b > a for a, b in zip(slopes, slopes[1:])) and low["ci_high"] < high["ci_low"])
    checks.append(_check(
        "every alpha", f"slopes grow with alpha, with non-overlapping 95% intervals between "
        f"alpha={alphas[0]} and alpha={alphas[-1]}",
        ", ".join(f"{a}: {fits[a]['slope']:.2f} [{fits[a]['ci_low']:.2f}, "
                  f"{fits[a]['ci_high']:.2f}]" for a in alphas), grows, applicable=applies,
        reason=not_here or (f"alpha {alphas[0]} interval ends at {low['ci_high']:.2f}, alpha "
                            f"{alphas[-1]} starts at {high['ci_low']:.2f}"),
        distance=f"{high['ci_low'] - low['ci_high']:+.2f} in slope"))
    off = {a: abs(fits[a]["slope"] - fits[a]["optimal"]) for a in alphas}
    worst = max(alphas, key=off.get)
    checks.append(_check(
        "every alpha", f"every slope within {SLOPE_TOLERANCE} of alpha/(alpha+1)",
        ", ".join(f"{fits[a]['slope']:.2f} vs {fits[a]['optimal']:.2f}" for a in alphas)
        + f"; oracle slopes beside: {beside}", max(off.values()) <= SLOPE_TOLERANCE,
        applicable=applies,
        reason=not_here or (f"largest distance {off[worst]:.2f} at alpha {worst} "
                            f"({'<=' if off[worst] <= SLOPE_TOLERANCE else '>'} "
                            f"{SLOPE_TOLERANCE})"),
        distance=f"{off[worst] - SLOPE_TOLERANCE:+.2f} in slope at alpha {worst}"))
    with_paper = [a for a in alphas if fits[a]["paper"] is not None]
    if with_paper:
        gap = {a: abs(fits[a]["slope"] - fits[a]["paper"]) for a in with_paper}
        far = max(with_paper, key=gap.get)
        checks.append(_check(
            "every alpha", f"slopes within {PAPER_SLOPE_TOLERANCE} of the paper's",
            ", ".join(f"{fits[a]['slope']:.2f} vs {fits[a]['paper']:.2f}" for a in with_paper),
            max(gap.values()) <= PAPER_SLOPE_TOLERANCE, applicable=applies,
            reason=not_here or f"largest distance {gap[far]:.2f} at alpha {far}",
            distance=f"{gap[far] - PAPER_SLOPE_TOLERANCE:+.2f} in slope at alpha {far}"))
    return checks


def _margin_check(claim, fits, sigmas, margin_of, reference):
    """One row: at every alpha and sigma the network's MSE interval reaches the reference."""
    worst_alpha, worst_db, failures, parts = None, np.inf, [], []
    for a, fit in fits.items():
        margin = margin_of(fit)
        j = int(np.argmin(margin["margin_db"]))
        parts.append(f"alpha {a}: worst {margin['margin_db'][j]:+.2f} dB at sigma {sigmas[j]:g}")
        failures += [f"alpha {a} sigma {sigmas[k]:g} ({margin['margin_db'][k]:+.2f} dB)"
                     for k, ok in enumerate(margin["at_or_below"]) if not ok]
        if margin["margin_db"][j] < worst_db:
            worst_alpha, worst_db = a, margin["margin_db"][j]
    passed = not failures
    reason = (f"{'no' if passed else len(failures)} (alpha, sigma) where the network's MSE is "
              f"more than {ORACLE_Z:g} s.e. above {reference}'s"
              + ("" if passed else ": " + ", ".join(failures[:4])
                 + (", ..." if len(failures) > 4 else "")))
    return _check("every alpha", claim,
                  f"margin 10 log10(MSE of {reference} / network MSE), > 0 where the network is "
                  "better: " + "; ".join(parts),
                  passed, reason=reason,
                  distance=f"{worst_db:+.2f} dB at alpha {worst_alpha}")
