"""Part "transition": memorization -> generalization as the training set grows (Fig 1, 2 of the paper)."""

import os

import numpy as np

from keras_gahb import analysis, data, sampling
from keras_gahb.analysis import figures
from keras_gahb.experiments.trained_models import load_denoiser, train_model
from keras_gahb.utils import atomic_path, atomic_write_json, save_npz_atomic

#: The noise level of the headline train-test gap (the training engineers' convention too).
GAP_SIGMA = 0.1
#: Memorization ratio needed to call the smallest N "memorizing" (issue target).
MEMORIZATION_TARGET = 0.9
#: Rows of the Fig 1 layout per N (one sample seed each).
FIG1_SAMPLES_PER_N = 2
#: Relative model variance to reach at the largest N (issue target).
VARIANCE_TARGET = 0.2


def transition_pool(config):
    """The image pool, and per N the `Split` (nested S1, S2 and one fixed test set)."""
    pool_size = 2 * max(config.n_values) + config.test_size
    pool = data.get_images(
        config.dataset, pool_size, config.image_size, seed=config.seed, **config.dataset_options
    )
    splits = {
        n: data.disjoint_subsets(pool_size, n, test_size=config.test_size, seed=config.seed)
        for n in config.n_values
    }
    return pool, splits


def transition_model_dir(run_dir, n, split):
    return os.path.join(run_dir, "models", f"transition_n{n}_{split}")


def train_transition_models(config, run_dir, only=None, verbose=1):
    """Train (or resume) the two models of every N; `only=(n, split)` trains one."""
    pool, splits = transition_pool(config)
    for n in config.n_values:
        for split in ("s1", "s2"):
            if only is not None and only != (n, split):
                continue
            indices = getattr(splits[n], split)
            train_model(
                transition_model_dir(run_dir, n, split), config,
                train_images=pool[indices], test_images=pool[splits[n].test],
                images_per_model=config.images_per_model, verbose=verbose,
                label=f"transition N={n} {split.upper()}",
            )
    return pool, splits


def run_transition(config, run_dir, verbose=1):
    """Train the S1/S2 pair of every N, measure, draw the figures; returns the section."""
    pool, splits = train_transition_models(config, run_dir, verbose=verbose)
    out = os.path.join(run_dir, "transition")
    os.makedirs(out, exist_ok=True)
    test = pool[splits[config.n_values[0]].test]
    per_n, fig1_rows = {}, []
    curves = {}
    for n in config.n_values:
        split = splits[n]
        s1, s2 = pool[split.s1], pool[split.s2]
        f1 = load_denoiser(transition_model_dir(run_dir, n, "s1"))
        f2 = load_denoiser(transition_model_dir(run_dir, n, "s2"))
        if verbose:
            print(f"[transition] measuring N={n}", flush=True)
        train_eval = s1[: config.test_size]
        train_curve = analysis.psnr_curve(f1, train_eval, config.eval_sigmas, seed=config.seed)
        test_curve = analysis.psnr_curve(f1, test, config.eval_sigmas, seed=config.seed)
        curves[n] = {
            split: {"input_psnr": curve["input_psnr"].tolist(),
                    "output_psnr": curve["output_psnr"].tolist()}
            for split, curve in (("train", train_curve), ("test", test_curve))
        }
        gap = dict(zip(map(_key, config.eval_sigmas),
                       analysis.train_test_gap(train_curve, test_curve).tolist()))
        variance = dict(zip(map(_key, config.eval_sigmas), analysis.relative_model_variance(
            f1, f2, test, config.eval_sigmas, seed=config.seed + 1).tolist()))

        shape = (config.num_samples,) + test.shape[1:]
        seed = config.seed + 7
        r1 = sampling.sample(f1, shape, seed=seed, **config.sampler)
        r2 = sampling.sample(f2, shape, seed=seed, **config.sampler)
        save_npz_atomic(os.path.join(out, f"samples_n{n}.npz"), s1=r1.images, s2=r2.images)
        corr_models = analysis.cosine_similarity(r1.images, r2.images, mean_removed=True)
        cos_models = analysis.cosine_similarity(r1.images, r2.images, mean_removed=False)
        near = {}
        for metric in ("correlation", "cosine"):
            near[metric] = [analysis.nearest_neighbors(r.images, train, metric=metric)
                            for r, train in ((r1, s1), (r2, s2))]
        corr_train = np.concatenate([nn["scores"][:, 0] for nn in near["correlation"]])
        cos_train = np.concatenate([nn["scores"][:, 0] for nn in near["cosine"]])
        memo = [analysis.memorization_ratio(r.images, train, scale_invariant=True)["ratio"]
                if n >= 2 else np.nan for r, train in ((r1, s1), (r2, s2))]
        memo_l2 = [analysis.memorization_ratio(r.images, train)["ratio"] if n >= 2 else np.nan
                   for r, train in ((r1, s1), (r2, s2))]
        per_n[n] = {
            "n": n,
            "psnr_gap_db": gap,
            "train_test_gap_db": gap[_key(GAP_SIGMA)],
            "relative_model_variance": variance,
            "sample_correlation_s1_s2": float(np.mean(corr_models)),
            "sample_cosine_s1_s2": float(np.mean(cos_models)),
            "sample_correlation_to_closest_train": float(np.mean(corr_train)),
            "sample_cosine_to_closest_train": float(np.mean(cos_train)),
            "memorization_ratio": float(np.nanmean(memo)),
            "memorization_ratio_plain_l2": float(np.nanmean(memo_l2)),
            "sampler_converged_fraction": float(
                np.mean(np.concatenate([r1.converged, r2.converged]))
            ),
            "sampler_diverged": int(r1.diverged.sum() + r2.diverged.sum()),
            "similarities": {"s1_s2": corr_models.tolist(), "closest_train": corr_train.tolist()},
        }
        closest1 = near["correlation"][0]["indices"][:, 0]
        closest2 = near["correlation"][1]["indices"][:, 0]
        for i in range(min(FIG1_SAMPLES_PER_N, config.num_samples)):
            fig1_rows.append({
                "n": n,
                "images": [s1[closest1[i]], r1.images[i], r2.images[i], s2[closest2[i]]],
                "similarity": float(corr_models[i]),
            })
    atomic_write_json(os.path.join(out, "measures.json"), {"per_n": per_n, "curves": curves})
    return _section(config, out, per_n, curves, fig1_rows)


def _key(sigma):
    return f"{sigma:g}"


def _section(config, out, per_n, curves, fig1_rows):
    ns = list(config.n_values)
    small, large = per_n[ns[0]], per_n[ns[-1]]
    sigmas = [s for s in config.eval_sigmas if s <= config.variance_sigma_max]
    var_small = {s: small["relative_model_variance"][_key(s)] for s in sigmas}
    var_large = {s: large["relative_model_variance"][_key(s)] for s in sigmas}
    gaps = [per_n[n]["train_test_gap_db"] for n in ns]
    checks = [
        {
            "claim": (f"memorization at N={ns[0]}: memorization ratio (1/3 rule, distance to the "
                      f"nearest scaled training image) >= {MEMORIZATION_TARGET}"),
            "value": f"{small['memorization_ratio']:.2f}",
            "passed": bool(small["memorization_ratio"] >= MEMORIZATION_TARGET),
        },
        {
            "claim": f"at N={ns[0]} the two models' samples differ (correlation < 0.9)",
            "value": f"{small['sample_correlation_s1_s2']:.2f}",
            "passed": bool(small["sample_correlation_s1_s2"] < 0.9),
        },
        {
            "claim": f"train-test PSNR gap at sigma={GAP_SIGMA} shrinks with N",
            "value": ", ".join(f"N={n}: {g:.2f} dB" for n, g in zip(ns, gaps)),
            "passed": bool(gaps[-1] < gaps[0] and all(
                later <= earlier + 0.25 for earlier, later in zip(gaps, gaps[1:]))),
        },
        {
            "claim": (f"relative model variance lower at N={ns[-1]} than at N={ns[0]} for every "
                      f"sigma <= {config.variance_sigma_max}"),
            "value": ", ".join(f"{s:g}: {var_small[s]:.2f} -> {var_large[s]:.2f}" for s in sigmas),
            "passed": bool(all(var_large[s] < var_small[s] for s in sigmas)),
        },
        {
            "claim": (f"relative model variance <= {VARIANCE_TARGET} at N={ns[-1]} for every "
                      f"sigma <= {config.variance_sigma_max}"),
            "value": f"max {max(var_large.values()):.3f}",
            "passed": bool(max(var_large.values()) <= VARIANCE_TARGET),
        },
    ]
    table_rows = [
        [
            n,
            per_n[n]["train_test_gap_db"],
            per_n[n]["relative_model_variance"][_key(GAP_SIGMA)]
            if _key(GAP_SIGMA) in per_n[n]["relative_model_variance"] else float("nan"),
            per_n[n]["sample_correlation_s1_s2"],
            per_n[n]["sample_cosine_s1_s2"],
            per_n[n]["sample_correlation_to_closest_train"],
            per_n[n]["sample_cosine_to_closest_train"],
            per_n[n]["memorization_ratio"],
            per_n[n]["memorization_ratio_plain_l2"],
            per_n[n]["sampler_converged_fraction"],
        ]
        for n in ns
    ]
    fig_paths = {
        "fig1": os.path.join(out, "fig1_samples.png"),
        "psnr": os.path.join(out, "psnr_curves.png"),
        "gap": os.path.join(out, "train_test_gap.png"),
        "variance": os.path.join(out, "model_variance.png"),
        "hist": os.path.join(out, "similarity_histograms.png"),
    }
    figures.fig1_layout(fig_paths["fig1"], fig1_rows)
    figures.psnr_curves_figure(fig_paths["psnr"], curves)
    figures.train_test_gap_figure(
        fig_paths["gap"],
        {f"sigma = {s:g}": {n: per_n[n]["psnr_gap_db"][_key(s)] for n in ns}
         for s in config.eval_sigmas if s <= 0.3},
    )
    _model_variance_figure(
        fig_paths["variance"], config.eval_sigmas,
        {n: [per_n[n]["relative_model_variance"][_key(s)] for s in config.eval_sigmas] for n in ns},
    )
    figures.similarity_histograms(
        fig_paths["hist"],
        {n: {"S1 vs S2 samples": per_n[n]["similarities"]["s1_s2"],
             "sample vs closest train": per_n[n]["similarities"]["closest_train"]} for n in ns},
        xlabel="correlation (mean-removed cosine)",
    )
    return {
        "id": "transition",
        "title": "Memorization to generalization",
        "paragraphs": [
            f"Two denoisers per training-set size N, trained on disjoint sets S1 and S2 of "
            f"{config.dataset} images, are compared on held-out images and through their samples "
            "(same seeds: same initial image and same injected noise). A sample is memorized when "
            "its distance to the nearest training image is below 1/3 of the distance to the second "
            "nearest (Gu et al. 2023). A bias-free denoiser that memorizes x maps every multiple "
            "a x to itself, so its samples are copies up to a global scale (the sampler's noise "
            "random-walks along that ray, by about 30% at 16x16); the checked ratio therefore "
            "measures the distance to the nearest scaled training image, and the plain L2 ratio is "
            "reported beside it.",
        ],
        "checks": checks,
        "numbers": {str(n): {k: v for k, v in per_n[n].items() if k != "similarities"}
                    for n in ns},
        "tables": [{
            "caption": "Per training-set size N (two models trained on disjoint S1, S2)",
            "header": ["N", f"train-test gap (dB, sigma={GAP_SIGMA})",
                       f"rel. model variance (sigma={GAP_SIGMA})", "S1-S2 sample corr.",
                       "S1-S2 sample cosine", "corr. to closest train", "cosine to closest train",
                       "memorization ratio", "memorization ratio (plain L2)",
                       "sampler converged"],
            "rows": table_rows,
        }],
        "figures": [
            {"path": fig_paths["fig1"], "caption": (
                "Per N (rows): closest S1 training image, sample of the S1 model, sample of the S2 "
                "model from the same seed, closest S2 training image (the paper's Fig 1/2 layout).")},
            {"path": fig_paths["psnr"], "caption": (
                "Output vs input PSNR on training (solid) and test (dashed) images per N (Fig 1).")},
            {"path": fig_paths["gap"], "caption": (
                "Train - test output PSNR gap against N, per noise level (Fig 15).")},
            {"path": fig_paths["variance"], "caption": (
                "Relative model variance ||f_S1(y) - f_S2(y)||^2 / ||f_S1(y) - x||^2 on held-out "
                "noisy images, per noise level and N.")},
            {"path": fig_paths["hist"], "caption": (
                "Correlation (mean-removed cosine) between the two models' samples and between a "
                "sample and its closest training image.")},
        ],
    }


def _model_variance_figure(path, sigmas, series):
    fig = figures.new_figure(figsize=(4.2, 3.2))
    ax = fig.add_subplot(1, 1, 1)
    for i, (n, values) in enumerate(series.items()):
        ax.plot(sigmas, values, marker="o", ms=3, color=f"C{i}", label=f"N = {n:,}")
    ax.axhline(VARIANCE_TARGET, color="gray", ls=":", lw=0.8, label=f"target {VARIANCE_TARGET}")
    ax.set_xscale("log")
    ax.set_xlabel("noise level sigma")
    ax.set_ylabel(r"$\|f_{S1}(y) - f_{S2}(y)\|^2 / \|f_{S1}(y) - x\|^2$")
    ax.legend(fontsize=7, frameon=False)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=150, bbox_inches="tight")
    return path
