"""Part "transition": memorization -> generalization as the training set grows (Fig 1, 2 of the paper).

Per N three denoisers: S1 and S2 on disjoint training sets, and the S1' control (S1 again, another
seed), which measures how much two models differ by optimization noise alone. Every S1-vs-S2
measure is reported beside its S1-vs-S1' control and beside data baselines, and the checks compare
those numbers, so that an untrained network cannot pass them.
"""

import os

import numpy as np

from keras_gahb import analysis, data, runs, sampling
from keras_gahb.analysis import figures
from keras_gahb.experiments.plan import (
    transition_members,
    transition_model_dir,
    transition_seed,
)
from keras_gahb.experiments.trained_models import train_models
from keras_gahb.models import load_denoiser
from keras_gahb.utils import atomic_path, atomic_write_json, save_npz_atomic

#: The noise level of the headline train-test gap and of the "trained" check.
GAP_SIGMA = 0.1
#: A trained denoiser gains at least this much PSNR over its noisy input at GAP_SIGMA (dB).
TRAINED_GAIN_DB = 3.0
#: Memorization ratio needed to call the smallest N >= 2 "memorizing" (issue target).
MEMORIZATION_TARGET = 0.9
#: Memorization ratio below which the largest N is "not copying".
GENERALIZATION_MEMORIZATION_MAX = 0.1
#: At the smallest N the training set must matter: S1-vs-S2 variance >= this x S1-vs-S1'.
DATA_MATTERS_FACTOR = 1.5
#: At the largest N only optimization noise is left: S1-vs-S2 variance <= this x S1-vs-S1'.
NOISE_FLOOR_FACTOR = 1.2
#: Share of sampler runs that must converge at every N.
CONVERGED_TARGET = 0.95
#: Rows of the Fig 1 layout per N (one sample seed each).
FIG1_SAMPLES_PER_N = 2
#: Images of the data baselines (fresh image vs nearest training image, independent pairs).
BASELINE_IMAGES = 128


def transition_pool(config):
    """The image pool, and per N the `Split` (nested S1, S2 and one fixed test set)."""
    source = transition_source(config)
    pool = data.get_images(source["dataset"], source["num"], source["image_size"],
                           seed=source["seed"], channels=source["channels"], **source["options"])
    splits = {
        n: data.disjoint_subsets(source["num"], n, test_size=config.test_size, seed=config.seed)
        for n in config.n_values
    }
    return pool, splits


def transition_source(config):
    """The pool of the transition sweep as a `keras_gahb.runs.image_source` record."""
    options = dict(config.dataset_options)
    if config.dataset == "calpha":
        options.setdefault("variant", config.calpha_variant)
    return runs.image_source(config.dataset, 2 * max(config.n_values) + config.test_size,
                             config.image_size, seed=config.seed, **options)


def train_transition_models(config, run_dir, only=None, verbose=1):
    """Train (or resume) the models of every N; `only=(n, split, replicate)` trains one."""
    pool, splits = transition_pool(config)
    source = transition_source(config)
    for n in config.n_values:
        members = [(split, replicate) for split, replicate in transition_members(config)
                   if only is None or tuple(only) == (n, split, replicate)]
        if not members:
            continue
        train_models(
            [transition_model_dir(run_dir, n, s, r) for s, r in members], config,
            train_sets=[pool[getattr(splits[n], s)] for s, _ in members],
            test_sets=[pool[splits[n].test]] * len(members),
            images_per_model=config.images_per_model,
            seeds=[transition_seed(config, n, s, r) for s, r in members], verbose=verbose,
            labels=[f"transition N={n} " + s.upper() + "'" * r for s, r in members],
            sources=[{"source": source, "train": [int(i) for i in getattr(splits[n], s)],
                      "test": [int(i) for i in splits[n].test]} for s, _ in members],
        )
    return pool, splits


def smallest_memorization_n(n_values):
    """The smallest N >= 2 (the memorization ratio needs two training images)."""
    candidates = [n for n in n_values if n >= 2]
    if not candidates:
        raise ValueError(f"The transition needs some N >= 2; got n_values={list(n_values)}.")
    return min(candidates)


def data_baselines(pool, split, num_images=BASELINE_IMAGES):
    """Similarities that owe nothing to a model: a fresh (test) image vs its nearest training image,
    and two independent images. Correlation (mean-removed cosine)."""
    test = pool[split.test[:num_images]]
    fresh = analysis.nearest_neighbors(test, pool[split.s1], metric="correlation")["scores"][:, 0]
    half = len(test) // 2
    independent = analysis.cosine_similarity(test[:half], test[half:2 * half], mean_removed=True)
    return fresh, independent


def run_transition(config, run_dir, verbose=1):
    """Train the models of every N, measure, draw the figures; returns the section."""
    pool, splits = train_transition_models(config, run_dir, verbose=verbose)
    out = os.path.join(run_dir, "transition")
    os.makedirs(out, exist_ok=True)
    test = pool[splits[config.n_values[0]].test]
    sigmas = sorted(set(config.eval_sigmas) | {GAP_SIGMA})
    small_sigmas = [s for s in sigmas if s <= config.variance_sigma_max]
    per_n, curves, fig1_rows, similarities = {}, {}, [], {}
    for n in config.n_values:
        split = splits[n]
        train_sets = {"s1": pool[split.s1], "s2": pool[split.s2]}
        models = {
            key: load_denoiser(transition_model_dir(run_dir, n, s, r))[0]
            for key, (s, r) in zip(("s1", "s2", "s1c"), transition_members(config))
        }
        if verbose:
            print(f"[transition] measuring N={n}", flush=True)
        train_curve = analysis.psnr_curve(models["s1"], train_sets["s1"][: config.test_size],
                                          sigmas, seed=config.seed)
        test_curve = analysis.psnr_curve(models["s1"], test, sigmas, seed=config.seed)
        test_curve_s2 = analysis.psnr_curve(models["s2"], test, [GAP_SIGMA], seed=config.seed)
        curves[n] = {
            name: {"input_psnr": curve["input_psnr"].tolist(),
                   "output_psnr": curve["output_psnr"].tolist()}
            for name, curve in (("train", train_curve), ("test", test_curve))
        }
        gap = dict(zip(map(_key, sigmas),
                       analysis.train_test_gap(train_curve, test_curve).tolist()))
        variance = {"s1_s2": _variance(models["s1"], models["s2"], test, sigmas, config.seed + 1)}
        if "s1c" in models:
            variance["s1_s1c"] = _variance(models["s1"], models["s1c"], test, sigmas,
                                           config.seed + 1)

        shape = (config.num_samples,) + test.shape[1:]
        results = {key: sampling.sample(f, shape, seed=config.seed + 7, **config.sampler)
                   for key, f in models.items()}
        save_npz_atomic(os.path.join(out, f"samples_n{n}.npz"),
                        **{k: r.images for k, r in results.items()},
                        **{f"{k}_converged": r.converged for k, r in results.items()})
        ok = {k: np.asarray(r.converged, bool) for k, r in results.items()}
        images = {k: r.images for k, r in results.items()}
        corr_s1_s2 = _pair(images["s1"], images["s2"], ok["s1"] & ok["s2"], True)
        cos_s1_s2 = _pair(images["s1"], images["s2"], ok["s1"] & ok["s2"], False)
        corr_s1_s1c = (_pair(images["s1"], images["s1c"], ok["s1"] & ok["s1c"], True)
                       if "s1c" in images else np.zeros(0))
        closest, closest_cos, closest_index, memo, memo_ray, scale = {}, {}, {}, {}, {}, {}
        for key in ("s1", "s2"):
            good = images[key][ok[key]]
            if len(good):
                nn = analysis.nearest_neighbors(good, train_sets[key], metric="correlation")
                closest[key], closest_index[key] = nn["scores"][:, 0], nn["indices"][:, 0]
                closest_cos[key] = analysis.nearest_neighbors(
                    good, train_sets[key], metric="cosine")["scores"][:, 0]
            else:
                closest[key] = closest_cos[key] = closest_index[key] = np.zeros(0)
            if n >= 2 and len(good):
                memo[key] = analysis.memorization_ratio(good, train_sets[key])["memorized"]
                ray = analysis.memorization_ratio(good, train_sets[key], scale_invariant=True)
                memo_ray[key] = ray["memorized"]
                scale[key] = _copy_scale(good, train_sets[key][ray["nearest"]])
            else:
                memo[key] = memo_ray[key] = np.zeros(0, bool)
                scale[key] = np.zeros(0)
        fresh, independent = data_baselines(pool, split)
        corr_train = np.concatenate([closest["s1"], closest["s2"]])
        # Per sample seed, both models converged: the S1-S2 similarity against the mean of the
        # two samples' similarities to their own nearest training images.
        both = ok["s1"] & ok["s2"]
        own = 0.5 * (_at(closest["s1"], ok["s1"], both) + _at(closest["s2"], ok["s2"], both))
        per_n[n] = {
            "n": n,
            "seeds": {k: transition_seed(config, n, s, r) for k, (s, r) in
                      zip(("s1", "s2", "s1c"), transition_members(config))},
            "test_psnr_at_gap_sigma": {"s1": _at_sigma(test_curve, GAP_SIGMA),
                                       "s2": float(test_curve_s2["output_psnr"][0])},
            "input_psnr_at_gap_sigma": float(-20 * np.log10(GAP_SIGMA)),
            "psnr_gap_db": gap,
            "train_test_gap_db": gap[_key(GAP_SIGMA)],
            "relative_model_variance": dict(zip(map(_key, sigmas), variance["s1_s2"])),
            "relative_model_variance_control": (
                dict(zip(map(_key, sigmas), variance["s1_s1c"])) if "s1_s1c" in variance else {}),
            "model_variance_s1_s2": _mean_at(variance["s1_s2"], sigmas, small_sigmas),
            "model_variance_s1_s1c": (_mean_at(variance["s1_s1c"], sigmas, small_sigmas)
                                      if "s1_s1c" in variance else float("nan")),
            "sample_correlation_s1_s2": _mean(corr_s1_s2),
            "sample_cosine_s1_s2": _mean(cos_s1_s2),
            "sample_correlation_s1_s1c": _mean(corr_s1_s1c),
            "sample_correlation_to_closest_train": _mean(corr_train),
            "sample_correlation_to_closest_train_s1": _mean(closest["s1"]),
            "sample_correlation_to_closest_train_s2": _mean(closest["s2"]),
            "sample_cosine_to_closest_train": _mean(np.concatenate(list(closest_cos.values()))),
            "samples_closer_to_each_other_than_to_train": _mean(corr_s1_s2 > own),
            "memorization_ratio": _mean(np.concatenate([memo["s1"], memo["s2"]])),
            "memorization_ratio_scale_invariant": _mean(
                np.concatenate([memo_ray["s1"], memo_ray["s2"]])),
            # A bias-free denoiser maps a x_i to a f(x_i): a memorized x_i is a memorized ray, and
            # the sampler lands on it at the scale its start and injected noise give it. The
            # median of a = <sample, x_i> / ||x_i||^2 (x_i: its nearest ray) shows how far from 1.
            "copy_scale_median": (float(np.median(np.concatenate([scale["s1"], scale["s2"]])))
                                  if len(scale["s1"]) + len(scale["s2"]) else float("nan")),
            "sampler_converged_fraction": _mean(np.concatenate(list(ok.values()))),
            "sampler_converged_fraction_per_model": {k: _mean(v) for k, v in ok.items()},
            "sampler_diverged": int(sum(r.diverged.sum() for r in results.values())),
            "baseline_fresh_to_closest_train": _mean(fresh),
            "baseline_independent_images": _mean(independent),
        }
        per_n[n]["model_variance_ratio"] = _ratio(per_n[n]["model_variance_s1_s2"],
                                                  per_n[n]["model_variance_s1_s1c"])
        similarities[n] = {"S1 vs S2 samples": corr_s1_s2, "S1 vs S1' samples": corr_s1_s1c,
                           "sample vs closest train": corr_train,
                           "fresh image vs closest train": fresh}
        for i in range(min(FIG1_SAMPLES_PER_N, config.num_samples)):
            fig1_rows.append(_fig1_row(n, i, images, ok, train_sets, closest_index))
    atomic_write_json(os.path.join(out, "measures.json"), {"per_n": per_n, "curves": curves})
    return _section(config, out, per_n, curves, fig1_rows, similarities)


def transition_checks(config, per_n):
    """The checks of the transition, each with the numbers it compares and the N it is about.

    Returns a list of {"claim", "value", "passed", "scope"} with scope "smallest N",
    "largest N" or "every N".
    """
    ns = list(config.n_values)
    small_n, large_n = smallest_memorization_n(ns), ns[-1]
    small, large = per_n[small_n], per_n[large_n]
    gaps = [per_n[n]["train_test_gap_db"] for n in ns]
    trained_min = min(large["test_psnr_at_gap_sigma"].values())
    trained_target = large["input_psnr_at_gap_sigma"] + TRAINED_GAIN_DB
    s_sim = small["sample_correlation_s1_s2"]
    s_own = (small["sample_correlation_to_closest_train_s1"],
             small["sample_correlation_to_closest_train_s2"])
    l_sim, l_train = large["sample_correlation_s1_s2"], large["sample_correlation_to_closest_train"]
    converged = [per_n[n]["sampler_converged_fraction"] for n in ns]
    # A generalization claim presupposes a trained denoiser: an untrained (near-identity or
    # random) network makes "no copies" and "the same function" trivially true.
    trained = trained_min >= trained_target
    untrained_note = "" if trained else " [FAILS: the denoisers are not trained, see above]"
    return [
        _check("smallest N", f"memorization at N={small_n}: memorization ratio (plain L2, 1/3 "
               f"rule) >= {MEMORIZATION_TARGET}",
               f"{small['memorization_ratio']:.2f} (scale-invariant rule: "
               f"{small['memorization_ratio_scale_invariant']:.2f}; median scale of the copies "
               f"{small.get('copy_scale_median', float('nan')):.2f})",
               small["memorization_ratio"] >= MEMORIZATION_TARGET),
        _check("smallest N", f"memorization at N={small_n} up to scale: memorization ratio "
               f"(distance to the ray of each training image, 1/3 rule) >= {MEMORIZATION_TARGET}",
               f"{small['memorization_ratio_scale_invariant']:.2f} (plain L2 rule: "
               f"{small['memorization_ratio']:.2f})",
               small["memorization_ratio_scale_invariant"] >= MEMORIZATION_TARGET),
        _check("smallest N", f"at N={small_n} each model's samples are closer to its own training "
               "images than to the other model's samples (correlation)",
               f"S1-S2 {s_sim:.3f} vs closest train S1 {s_own[0]:.3f}, S2 {s_own[1]:.3f}",
               s_sim < min(s_own)),
        _check("smallest N", f"at N={small_n} the training set matters: model variance S1-vs-S2 "
               f">= {DATA_MATTERS_FACTOR}x S1-vs-S1' (sigma <= {config.variance_sigma_max})",
               f"{small['model_variance_s1_s2']:.3f} vs {small['model_variance_s1_s1c']:.3f} "
               f"(ratio {small['model_variance_ratio']:.2f})",
               small["model_variance_ratio"] >= DATA_MATTERS_FACTOR),
        _check("largest N", f"at N={large_n} the denoisers are trained: test PSNR at sigma="
               f"{GAP_SIGMA} >= input + {TRAINED_GAIN_DB:g} dB",
               f"S1 {large['test_psnr_at_gap_sigma']['s1']:.2f}, S2 "
               f"{large['test_psnr_at_gap_sigma']['s2']:.2f} vs {trained_target:.2f} dB",
               trained),
        _check("largest N", f"at N={large_n} samples are not copies: memorization ratio <= "
               f"{GENERALIZATION_MEMORIZATION_MAX} (plain L2 and scale-invariant rules)",
               f"{large['memorization_ratio']:.2f} (scale-invariant rule: "
               f"{large['memorization_ratio_scale_invariant']:.2f})" + untrained_note,
               trained and max(large["memorization_ratio"],
                               large["memorization_ratio_scale_invariant"])
               <= GENERALIZATION_MEMORIZATION_MAX),
        _check("largest N", f"at N={large_n} only optimization noise separates the models: model "
               f"variance S1-vs-S2 <= {NOISE_FLOOR_FACTOR}x S1-vs-S1'",
               f"{large['model_variance_s1_s2']:.3f} vs {large['model_variance_s1_s1c']:.3f} "
               f"(ratio {large['model_variance_ratio']:.2f})" + untrained_note,
               trained and large["model_variance_ratio"] <= NOISE_FLOOR_FACTOR),
        _check("largest N", f"at N={large_n} the two models make the same new images: S1-S2 "
               "sample correlation above the samples' correlation to their closest training "
               "images",
               f"{l_sim:.3f} vs {l_train:.3f} (data baseline: fresh image vs closest train "
               f"{large['baseline_fresh_to_closest_train']:.3f}, independent images "
               f"{large['baseline_independent_images']:.3f})" + untrained_note,
               trained and l_sim > l_train),
        _check("every N", f"train-test PSNR gap at sigma={GAP_SIGMA} shrinks with N",
               ", ".join(f"N={n}: {g:.2f} dB" for n, g in zip(ns, gaps)),
               gaps[-1] < gaps[0] and all(b <= a + 0.25 for a, b in zip(gaps, gaps[1:]))),
        _check("every N", f"sampler converged for >= {CONVERGED_TARGET:.0%} of the samples at "
               "every N (only converged samples enter the measures)",
               ", ".join(f"N={n}: {c:.0%}" for n, c in zip(ns, converged)),
               min(converged) >= CONVERGED_TARGET),
    ]


def _check(scope, claim, value, passed):
    return {"claim": claim, "value": value, "passed": bool(passed), "scope": scope}


def _variance(f1, f2, test, sigmas, seed):
    return analysis.relative_model_variance(f1, f2, test, sigmas, seed=seed).tolist()


def _copy_scale(samples, nearest):
    """Per sample, a = <s, x> / ||x||^2: the scale of the ray point closest to s."""
    s = samples.reshape(len(samples), -1).astype(np.float64)
    x = nearest.reshape(len(nearest), -1).astype(np.float64)
    return (s * x).sum(axis=1) / np.maximum((x * x).sum(axis=1), 1e-30)


def _pair(a, b, mask, mean_removed):
    if not mask.any():
        return np.zeros(0)
    return analysis.cosine_similarity(a[mask], b[mask], mean_removed=mean_removed)


def _at(values, converged, both):
    """Values (one per converged sample) at the samples where `both` holds."""
    full = np.full(len(converged), np.nan)
    full[converged] = values
    return full[both]


def _at_sigma(curve, sigma):
    return float(curve["output_psnr"][list(curve["sigmas"]).index(sigma)])


def _mean_at(values, sigmas, chosen):
    return float(np.mean([v for s, v in zip(sigmas, values) if s in chosen]))


def _mean(values):
    values = np.asarray(values, float)
    return float(values.mean()) if values.size else float("nan")


def _ratio(a, b):
    return float(a / b) if b > 0 else float("nan")


def _key(sigma):
    return f"{sigma:g}"


def _fig1_row(n, i, images, ok, train_sets, closest_index):
    def closest(key):
        if not ok[key][i]:
            return None
        return train_sets[key][closest_index[key][int(np.sum(ok[key][:i]))]]

    row = {"n": n, "images": [closest("s1"), images["s1"][i], images["s2"][i]],
           "converged": [True, bool(ok["s1"][i]), bool(ok["s2"][i])]}
    if "s1c" in images:
        row["images"].append(images["s1c"][i])
        row["converged"].append(bool(ok["s1c"][i]))
    row["images"].append(closest("s2"))
    row["converged"].append(True)
    return row


def _section(config, out, per_n, curves, fig1_rows, similarities):
    ns = list(config.n_values)
    checks = transition_checks(config, per_n)
    table_rows = [
        [
            n,
            per_n[n]["sampler_converged_fraction"],
            per_n[n]["model_variance_s1_s2"],
            per_n[n]["model_variance_s1_s1c"],
            per_n[n]["sample_correlation_s1_s2"],
            per_n[n]["sample_correlation_s1_s1c"],
            per_n[n]["sample_correlation_to_closest_train"],
            per_n[n]["baseline_fresh_to_closest_train"],
            per_n[n]["baseline_independent_images"],
            per_n[n]["memorization_ratio"],
            per_n[n]["memorization_ratio_scale_invariant"],
            per_n[n]["train_test_gap_db"],
            per_n[n]["test_psnr_at_gap_sigma"]["s1"],
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
    _fig1_figure(fig_paths["fig1"], fig1_rows, config.control)
    figures.psnr_curves_figure(fig_paths["psnr"], curves)
    figures.train_test_gap_figure(
        fig_paths["gap"],
        {f"sigma = {s:g}": {n: per_n[n]["psnr_gap_db"][_key(s)] for n in ns}
         for s in config.eval_sigmas if s <= 0.3},
    )
    _model_variance_figure(fig_paths["variance"], config, per_n)
    figures.similarity_histograms(
        fig_paths["hist"],
        {n: {k: v for k, v in similarities[n].items() if len(v)} or {"(no converged sample)": [0.0]}
         for n in ns},
        xlabel="correlation (mean-removed cosine)",
    )
    pairing = ("independent seeds for every model (weights and noise stream), as in the paper"
               if config.pairing == "independent" else
               "ABLATION: S1 and S2 share the master seed (same initial weights and noise stream)")
    return {
        "id": "transition",
        "title": "Memorization to generalization",
        "paragraphs": [
            f"Per training-set size N three denoisers on {config.dataset} images: S1 and S2 on "
            "disjoint training sets, and the control S1' (trained on S1 again with another seed). "
            f"Model pairing: {pairing}. The seeds are in each model's config.json. S1' measures "
            "how far two models land apart by optimization noise alone: the training set matters "
            "when S1-vs-S2 exceeds S1-vs-S1', and has stopped mattering when they are equal. "
            "All models are sampled from the same seed (same initial image and injected noise). "
            "Only samples whose sampler converged enter a measure; the converged fraction is "
            "reported per N and failures are drawn as failures.",
            "Similarity is the correlation (mean-removed cosine). Data baselines, which owe "
            "nothing to a model: a fresh (test) image against its closest S1 image, and two "
            "independent images. A sample is memorized when its L2 distance to the nearest "
            "training image is below 1/3 of the distance to the second nearest (Gu et al. 2023); "
            "the scale-invariant version (distance to the nearest scaled training image, what a "
            "bias-free memorizer reproduces) is given beside it. Model variance is "
            "||f_a(y) - f_b(y)||^2 / ||f_a(y) - x||^2 on held-out noisy images, averaged over "
            f"sigma <= {config.variance_sigma_max}.",
        ],
        "checks": checks,
        "numbers": {str(n): per_n[n] for n in ns},
        "tables": [{
            "caption": "Per training-set size N: S1-vs-S2 beside the S1-vs-S1' control and the "
                       "data baselines",
            "header": ["N", "sampler converged", "model var. S1-S2", "model var. S1-S1'",
                       "sample corr. S1-S2", "sample corr. S1-S1'",
                       "sample corr. to closest train", "baseline: fresh image to closest train",
                       "baseline: two independent images", "memorization ratio (L2)",
                       "memorization ratio (scale-inv.)",
                       f"train-test gap (dB, sigma={GAP_SIGMA})",
                       f"test PSNR S1 (dB, sigma={GAP_SIGMA})"],
            "rows": table_rows,
        }],
        "figures": [
            {"path": fig_paths["fig1"], "caption": (
                "Per N (rows): closest S1 training image, samples of the S1, S2 (and S1') models "
                "from the same seed, closest S2 training image. A sample whose sampler did not "
                "converge is framed in red and marked: it enters no measure.")},
            {"path": fig_paths["psnr"], "caption": (
                "Output vs input PSNR of the S1 model on training (solid) and test (dashed) "
                "images per N (Fig 1).")},
            {"path": fig_paths["gap"], "caption": (
                "Train - test output PSNR gap against N, per noise level (Fig 15).")},
            {"path": fig_paths["variance"], "caption": (
                "Relative model variance S1-vs-S2 (solid) and S1-vs-S1' (dashed, the "
                "optimization-noise floor) on held-out noisy images, per noise level and N.")},
            {"path": fig_paths["hist"], "caption": (
                "Histograms of the correlation between the S1 and S2 samples, the S1 and S1' "
                "samples, a sample and its closest training image, and a fresh image and its "
                "closest training image (the paper's Fig 2 histograms with the baseline).")},
        ],
    }


def _fig1_figure(path, rows, control):
    titles = ["closest train (S1)", "sample S1", "sample S2"] + (
        ["sample S1'"] if control else []) + ["closest train (S2)"]
    fig = figures.new_figure(figsize=(1.6 * len(titles), 1.7 * len(rows)))
    axes = fig.subplots(len(rows), len(titles), squeeze=False)
    for r, row in enumerate(rows):
        for c, (image, converged) in enumerate(zip(row["images"], row["converged"])):
            ax = axes[r, c]
            if image is None:
                ax.set_facecolor("#eeeeee")
                ax.text(0.5, 0.5, "no converged\nsample", ha="center", va="center", fontsize=6,
                        transform=ax.transAxes)
            else:
                image = np.asarray(image, float)
                ax.imshow(image[..., 0] if image.shape[-1] == 1 else np.clip(image, 0, 1),
                          cmap="gray", vmin=0, vmax=1)
            if not converged:
                for spine in ax.spines.values():
                    spine.set_color("red")
                    spine.set_linewidth(2)
                ax.set_xlabel("NOT CONVERGED", color="red", fontsize=6)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(titles[c], fontsize=7)
        axes[r, 0].set_ylabel(f"N = {row['n']:,}", fontsize=8)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=150, bbox_inches="tight")
    return path


def _model_variance_figure(path, config, per_n):
    sigmas = sorted(set(config.eval_sigmas) | {GAP_SIGMA})
    fig = figures.new_figure(figsize=(4.2, 3.2))
    ax = fig.add_subplot(1, 1, 1)
    for i, (n, numbers) in enumerate(per_n.items()):
        ax.plot(sigmas, [numbers["relative_model_variance"][_key(s)] for s in sigmas],
                marker="o", ms=3, color=f"C{i}", label=f"N = {n:,}")
        if numbers["relative_model_variance_control"]:
            ax.plot(sigmas, [numbers["relative_model_variance_control"][_key(s)] for s in sigmas],
                    ls="--", color=f"C{i}", lw=0.9)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("noise level sigma")
    ax.set_ylabel(r"$\|f_a(y) - f_b(y)\|^2 / \|f_a(y) - x\|^2$")
    ax.legend(fontsize=7, frameon=False, title="solid S1-S2, dashed S1-S1'", title_fontsize=6)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=150, bbox_inches="tight")
    return path
