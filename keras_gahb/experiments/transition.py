"""Part "transition": memorization -> generalization as the training set grows (Fig 1, 2 of the paper).

Per N three denoisers: S1 and S2 on disjoint training sets, and the S1' control (S1 again, another
seed), which measures how much two models differ by optimization noise alone. Every S1-vs-S2
measure is reported beside its S1-vs-S1' control and beside data baselines, and the checks compare
those numbers, so that an untrained network cannot pass them. The sampler's outcomes (reached
sigma_final, noise floor, diverged, max_steps) are counted apart; the samples' realism (gradient
energy and power spectrum against test images) sets a smoothness-matched baseline for the
largest-N agreement check; memorization is measured up to scale (plain L2 is information).
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
from keras_gahb.experiments.report_settings import SAMPLE_SEED_OFFSET
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
#: Share of sampler runs that must reach sigma_final at every N (a stop at the denoiser's noise
#: floor, a divergence or max_steps does not count).
CONVERGED_TARGET = 0.95
#: Standard errors by which the S1-S2 agreement must exceed the smoothness-matched baseline.
AGREEMENT_Z = 2.0
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
            part="transition",
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
    per_n, curves, fig1_rows, similarities, spectra = {}, {}, [], {}, {}
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
        results = {key: sampling.sample(f, shape, seed=config.seed + SAMPLE_SEED_OFFSET, **config.sampler)
                   for key, f in models.items()}
        save_npz_atomic(os.path.join(out, f"samples_n{n}.npz"),
                        **{k: r.images for k, r in results.items()},
                        **{f"{k}_converged": r.converged for k, r in results.items()},
                        **{f"{k}_at_floor": r.at_floor for k, r in results.items()},
                        **{f"{k}_diverged": r.diverged for k, r in results.items()})
        # Samples that reached sigma_final or stopped at the noise floor end with a denoising
        # at the run's lowest noise level and enter the measures; the outcomes are counted apart.
        ok = {k: np.asarray(r.usable, bool) for k, r in results.items()}
        outcomes = {k: r.outcome_counts() for k, r in results.items()}
        pooled = {name: sum(c[name] for c in outcomes.values()) for name in sampling.OUTCOMES}
        total = max(sum(pooled.values()), 1)
        floor_sigmas = np.concatenate([r.final_sigmas[r.at_floor] for r in results.values()])
        clean_floor = {k: float(np.median(sampling.clean_image_floor(f, test[:BASELINE_IMAGES])))
                       for k, f in models.items()}
        images = {k: r.images for k, r in results.items()}
        realism = _realism(np.concatenate([images["s1"][ok["s1"]], images["s2"][ok["s2"]]]), test)
        spectra[n] = {"frequencies": realism["frequencies"], "samples": realism["spectrum"],
                      "data": realism["reference_spectrum"]}
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
        matched = _matched(images["s1"][both], images["s2"][both], test[:BASELINE_IMAGES],
                           train_sets["s1"])
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
            # Sampler outcomes apart (keras_gahb.sampling.OUTCOMES), pooled over the models and
            # per model; "converged" = reached sigma_final, nothing else.
            "sampler_outcomes": pooled,
            "sampler_outcomes_per_model": outcomes,
            "sampler_converged_fraction": pooled["reached"] / total,
            "sampler_floor_fraction": pooled["floor"] / total,
            "sampler_diverged_fraction": pooled["diverged"] / total,
            "sampler_max_steps_fraction": pooled["max_steps"] / total,
            "sampler_measured_fraction": _mean(np.concatenate(list(ok.values()))),
            "sampler_converged_fraction_per_model": {
                k: _mean(r.converged) for k, r in results.items()},
            "sampler_diverged": pooled["diverged"],
            "sampler_floor_sigma_median": (float(np.median(floor_sigmas)) if len(floor_sigmas)
                                           else float("nan")),
            "denoiser_clean_floor": clean_floor,
            "sample_gradient_energy_ratio": realism["gradient_energy_ratio"],
            "data_gradient_energy_ratio": realism["reference_gradient_energy_ratio"],
            "sample_smoothness_ratio": realism["smoothness_ratio"],
            "sample_high_frequency_log_ratio": realism["high_frequency_log_ratio"],
            "sample_spectral_distance": realism["spectral_distance"],
            "matched_baseline_blur_sigma": matched["blur_sigma"],
            "matched_baseline_correlation": matched["baseline"],
            "matched_baseline_one_sided": matched["one_sided"],
            "agreement_margin_matched": matched["margin"],
            "agreement_margin_se": matched["margin_se"],
            "agreement_above_matched_baseline": matched["above_baseline"],
            "agreement_margin_closest_train": _mean(corr_s1_s2) - _mean(corr_train),
            "baseline_fresh_to_closest_train": _mean(fresh),
            "baseline_independent_images": _mean(independent),
        }
        per_n[n]["model_variance_ratio"] = _ratio(per_n[n]["model_variance_s1_s2"],
                                                  per_n[n]["model_variance_s1_s1c"])
        if n == config.n_values[-1]:
            per_n[n]["identity_margin"] = identity_margins(
                {k: models[k] for k in ("s1", "s2")}, test, config.slope_sigmas, config.seed)
        similarities[n] = {"S1 vs S2 samples": corr_s1_s2, "S1 vs S1' samples": corr_s1_s1c,
                           "sample vs closest train": corr_train,
                           "fresh image vs closest train": fresh}
        labels = {k: r.outcomes for k, r in results.items()}
        for i in range(min(FIG1_SAMPLES_PER_N, config.num_samples)):
            fig1_rows.append(_fig1_row(n, i, images, ok, train_sets, closest_index, labels))
    spectra = {n: {k: np.asarray(v, float).tolist() for k, v in entry.items()}
               for n, entry in spectra.items()}
    atomic_write_json(os.path.join(out, "measures.json"),
                      {"per_n": per_n, "curves": curves, "spectra": spectra})
    return _section(config, out, per_n, curves, fig1_rows, similarities, spectra)


def identity_margins(models, test, sigmas, seed):
    """Each model's test MSE against the identity's at every sigma of the window.

    The identity's MSE is that of the same noisy images (common noise), so the comparison is
    paired per image. Returns {"sigmas": [...], name: `analysis.oracle_margin` dict}
    (margin_db > 0 where the denoiser beats the noisy input; intervals mean +- 2 s.e.).
    """
    sigmas = [float(s) for s in sigmas]
    margins = {"sigmas": sigmas}
    identity = analysis.mse_curve(lambda y: y, test, sigmas, seed=seed)
    for name, model in models.items():
        mse = analysis.mse_curve(model, test, sigmas, seed=seed)
        margins[name] = analysis.oracle_margin(mse, identity)
    return margins


def _identity_check(large_n, large, trained=True, not_trained="", untrained_note=""):
    """The largest-N denoisers at least the identity at every sigma of the window.

    The identity passes this by definition, so like every largest-N check it also needs a
    trained denoiser (`trained`): an untrained network near f(y) = y must not pass.
    """
    margins = large["identity_margin"]
    sigmas, names = margins["sigmas"], [k for k in ("s1", "s2") if k in margins]
    worst = {k: int(np.argmin(margins[k]["margin_db"])) for k in names}
    at_least = all(all(margins[k]["at_or_below"]) for k in names)
    value = "; ".join(
        f"{k.upper()}: " + ", ".join(f"{m:+.2f}" for m in margins[k]["margin_db"]) + " dB"
        for k in names)
    low = min(names, key=lambda k: margins[k]["margin_db"][worst[k]])
    worst_db = margins[low]["margin_db"][worst[low]]
    return _check(
        "largest N", f"at N={large_n} each denoiser is at least the identity: test MSE at or "
        f"below the noisy input's (the same noise) at every sigma in {sigmas} (paired intervals, "
        "mean +- 2 s.e.)",
        f"output - input PSNR at sigma {', '.join(f'{s:g}' for s in sigmas)}: {value}"
        + untrained_note, trained and at_least,
        reason=(not_trained if not trained else
                f"worst {worst_db:+.2f} dB ({low.upper()} at sigma {sigmas[worst[low]]:g}): "
                + ("never worse than returning the noisy image" if at_least else
                   "worse than returning the noisy image there")),
        distance=f"{worst_db:+.2f} dB")


def transition_checks(config, per_n):
    """The checks of the transition, each with the numbers it compares and the N it is about.

    Returns a list of check dicts {"claim", "value", "passed", "applicable", "reason",
    "distance", "scope"} (the reproduction's shared schema; scope "smallest N", "largest N" or
    "every N"). "applicable": False marks information that is not a check (the plain-L2
    memorization ratio): shown as N/A, not counted in `all_checks_passed`.
    """
    ns = list(config.n_values)
    small_n, large_n = smallest_memorization_n(ns), ns[-1]
    small, large = per_n[small_n], per_n[large_n]
    gaps = [per_n[n]["train_test_gap_db"] for n in ns]
    trained_min = min(large["test_psnr_at_gap_sigma"].values())
    trained_target = large["input_psnr_at_gap_sigma"] + TRAINED_GAIN_DB
    # A generalization claim presupposes a trained denoiser: an untrained (near-identity or
    # random) network makes "no copies" and "the same function" trivially true.
    trained = trained_min >= trained_target
    not_trained = (f"the N={large_n} denoisers are not trained (test PSNR {trained_min:.2f} dB < "
                   f"{trained_target:.2f} dB at sigma {GAP_SIGMA}): a generalization claim "
                   "needs a trained denoiser")
    untrained_note = "" if trained else " [FAILS: the denoisers are not trained, see above]"
    checks = []

    plain, ray = small["memorization_ratio"], small["memorization_ratio_scale_invariant"]
    scale = small.get("copy_scale_median", float("nan"))
    checks.append(_check(
        "smallest N", f"information, not a check: memorization at N={small_n} in plain L2 "
        f"(1/3 rule) >= {MEMORIZATION_TARGET}",
        f"{plain:.2f} (up to scale: {ray:.2f}; median scale of the copies {scale:.2f})",
        plain >= MEMORIZATION_TARGET, applicable=False,
        reason=(f"a bias-free denoiser memorizes the ray through each training image and the "
                f"sampler sets the scale (median copy scale {scale:.2f}), so plain L2 counts "
                f"scaled copies as new ({plain:.2f} plain vs {ray:.2f} up to scale); the paper's "
                "measure, cosine similarity, is scale-invariant")))
    checks.append(_check(
        "smallest N", f"memorization at N={small_n}: memorization ratio up to scale (distance to "
        f"the ray of each training image, 1/3 rule) >= {MEMORIZATION_TARGET}",
        f"{ray:.2f} (plain L2, information: {plain:.2f})", ray >= MEMORIZATION_TARGET,
        reason=_no_samples(small) or (
            f"{ray:.2f} of the N={small_n} samples are within 1/3 of the second-nearest ray "
            f"distance from a training image's ray ({'>=' if ray >= MEMORIZATION_TARGET else '<'}"
            f" {MEMORIZATION_TARGET})"),
        distance=f"{ray - MEMORIZATION_TARGET:+.2f} in ratio"))

    s_sim = small["sample_correlation_s1_s2"]
    s_own = (small["sample_correlation_to_closest_train_s1"],
             small["sample_correlation_to_closest_train_s2"])
    checks.append(_check(
        "smallest N", f"at N={small_n} each model's samples are closer to its own training "
        "images than to the other model's samples (correlation)",
        f"S1-S2 {s_sim:.3f} vs closest train S1 {s_own[0]:.3f}, S2 {s_own[1]:.3f}",
        s_sim < min(s_own),
        reason=_no_samples(small) or (
            f"S1-S2 samples correlate {s_sim:.3f}, "
            + (f"below their closest-train correlations ({min(s_own):.3f}): each model copies "
               "its own set" if s_sim < min(s_own) else
               f"not below the lower closest-train correlation {min(s_own):.3f}")),
        distance=f"{min(s_own) - s_sim:+.3f} in correlation"))
    ratio = small["model_variance_ratio"]
    checks.append(_check(
        "smallest N", f"at N={small_n} the training set matters: model variance S1-vs-S2 "
        f">= {DATA_MATTERS_FACTOR}x S1-vs-S1' (sigma <= {config.variance_sigma_max})",
        f"{small['model_variance_s1_s2']:.3f} vs {small['model_variance_s1_s1c']:.3f} "
        f"(ratio {ratio:.2f})", ratio >= DATA_MATTERS_FACTOR,
        reason=(f"two models on different sets differ {ratio:.2f}x as much as two on the same "
                f"set ({'>=' if ratio >= DATA_MATTERS_FACTOR else '<'} {DATA_MATTERS_FACTOR})"),
        distance=f"{ratio - DATA_MATTERS_FACTOR:+.2f} in ratio"))

    checks.append(_check(
        "largest N", f"at N={large_n} the denoisers are trained: test PSNR at sigma="
        f"{GAP_SIGMA} >= input + {TRAINED_GAIN_DB:g} dB",
        f"S1 {large['test_psnr_at_gap_sigma']['s1']:.2f}, S2 "
        f"{large['test_psnr_at_gap_sigma']['s2']:.2f} vs {trained_target:.2f} dB", trained,
        reason=(f"lower test PSNR {trained_min:.2f} dB {'>=' if trained else '<'} "
                f"{trained_target:.2f} dB (input {large['input_psnr_at_gap_sigma']:.2f} dB + "
                f"{TRAINED_GAIN_DB:g}) at sigma {GAP_SIGMA}"),
        distance=f"{trained_min - trained_target:+.2f} dB"))
    l_plain, l_ray = large["memorization_ratio"], large["memorization_ratio_scale_invariant"]
    copies_ok = l_ray <= GENERALIZATION_MEMORIZATION_MAX
    checks.append(_check(
        "largest N", f"at N={large_n} samples are not copies: memorization ratio up to scale "
        f"<= {GENERALIZATION_MEMORIZATION_MAX}",
        f"{l_ray:.2f} (plain L2, information: {l_plain:.2f})" + untrained_note,
        trained and copies_ok,
        reason=(not_trained if not trained else _no_samples(large) or (
            f"{l_ray:.2f} of the N={large_n} samples copy a training image up to scale "
            f"({'<=' if copies_ok else '>'} {GENERALIZATION_MEMORIZATION_MAX})")),
        distance=f"{GENERALIZATION_MEMORIZATION_MAX - l_ray:+.2f} in ratio"))
    l_ratio = large["model_variance_ratio"]
    noise_ok = l_ratio <= NOISE_FLOOR_FACTOR
    checks.append(_check(
        "largest N", f"at N={large_n} only optimization noise separates the models: model "
        f"variance S1-vs-S2 <= {NOISE_FLOOR_FACTOR}x S1-vs-S1'",
        f"{large['model_variance_s1_s2']:.3f} vs {large['model_variance_s1_s1c']:.3f} "
        f"(ratio {l_ratio:.2f})" + untrained_note, trained and noise_ok,
        reason=(not_trained if not trained else
                f"S1-vs-S2 differ {l_ratio:.2f}x as much as S1-vs-S1' "
                f"({'<=' if noise_ok else '>'} {NOISE_FLOOR_FACTOR})"),
        distance=f"{NOISE_FLOOR_FACTOR - l_ratio:+.2f} in ratio"))
    checks.append(_agreement_check(large_n, large, trained, not_trained, untrained_note))
    if "identity_margin" in large:  # runs measured before this check lack it
        checks.append(_identity_check(large_n, large, trained, not_trained, untrained_note))

    gaps_ok = gaps[-1] < gaps[0] and all(b <= a + 0.25 for a, b in zip(gaps, gaps[1:]))
    rises = [b - a for a, b in zip(gaps, gaps[1:])]
    checks.append(_check(
        "every N", f"train-test PSNR gap at sigma={GAP_SIGMA} shrinks with N",
        ", ".join(f"N={n}: {g:.2f} dB" for n, g in zip(ns, gaps)), gaps_ok,
        reason=(f"the gap goes {gaps[0]:.2f} -> {gaps[-1]:.2f} dB"
                + ("" if gaps_ok else f", with a largest rise of {max(rises, default=0):+.2f} dB "
                   "between consecutive N (at most +0.25)")),
        distance=(f"{max(max(rises, default=0) - 0.25, gaps[-1] - gaps[0]):+.2f} dB")))
    checks.append(_outcome_check(config, ns, per_n))
    return checks


def _agreement_check(large_n, large, trained, not_trained, untrained_note):
    """S1-S2 agreement against the smoothness-matched baseline (the old closest-train
    comparison is kept in the value, as information)."""
    agree, base = large["sample_correlation_s1_s2"], large["matched_baseline_correlation"]
    margin, se = large["agreement_margin_matched"], large["agreement_margin_se"]
    above = bool(large["agreement_above_matched_baseline"])
    value = (f"{agree:.3f} vs matched baseline {base:.3f} (margin {margin:+.3f}, se {se:.3f}; "
             f"test images blurred by {large['matched_baseline_blur_sigma']:.2f} px to the "
             f"samples' gradient-energy ratio {large['sample_gradient_energy_ratio']:.3f}, data "
             f"{large['data_gradient_energy_ratio']:.3f}); information: samples' closest train "
             f"{large['sample_correlation_to_closest_train']:.3f}, blurred test vs closest sharp "
             f"train {large['matched_baseline_one_sided']:.3f}, fresh image vs closest train "
             f"{large['baseline_fresh_to_closest_train']:.3f}, independent images "
             f"{large['baseline_independent_images']:.3f}" + untrained_note)
    if not trained:
        reason = not_trained
    elif not np.isfinite(agree):
        reason = "no pair of S1 and S2 samples both ended usable: nothing to compare"
    elif above:
        reason = (f"S1-S2 {agree:.3f} exceeds by {margin:+.3f} ({margin / se:.1f} se) what two "
                  f"data images at the samples' smoothness correlate as nearest neighbours "
                  f"({base:.3f})")
    else:
        reason = (f"S1-S2 {agree:.3f} is not {AGREEMENT_Z:g} se above the matched baseline "
                  f"{base:.3f} (margin {margin:+.3f}, se {se:.3f}): within what smoothness and "
                  "nearest-neighbour similarity give")
    return _check(
        "largest N", f"at N={large_n} the two models make the same new images: S1-S2 sample "
        "correlation above the smoothness-matched baseline (test images blurred to the "
        "samples' gradient energy vs their closest blurred training image) by more than "
        f"{AGREEMENT_Z:g} standard errors",
        value, trained and above, reason=reason,
        distance=f"{margin - AGREEMENT_Z * se:+.3f} in correlation")


def _outcome_check(config, ns, per_n):
    """Every N: >= CONVERGED_TARGET of the runs reach sigma_final (only "reached" counts)."""
    reached = {n: per_n[n]["sampler_converged_fraction"] for n in ns}
    worst = min(ns, key=lambda n: reached[n])
    w = per_n[worst]
    counts = w["sampler_outcomes"]
    passed = reached[worst] >= CONVERGED_TARGET
    value = "; ".join(
        f"N={n}: " + ", ".join(f"{per_n[n]['sampler_outcomes'][k]} {label}" for k, label in (
            ("reached", "reached"), ("floor", "at floor"), ("diverged", "diverged"),
            ("max_steps", "max steps"))) for n in ns)
    sigma_final = config.sampler.get("sigma_final")
    floors = ", ".join(f"{k.upper()} {v:.3f}" for k, v in w["denoiser_clean_floor"].items())
    reason = (f"lowest share reaching sigma_final {sigma_final:g}: {reached[worst]:.0%} at N={worst} "
              f"({'>=' if passed else '<'} {CONVERGED_TARGET:.0%})")
    if counts["floor"]:
        reason += (f"; {counts['floor']} stopped at the noise floor (median sigma "
                   f"{w['sampler_floor_sigma_median']:.3f}; clean-image floor ||f(x) - x|| / "
                   f"sqrt(D): {floors})")
    if counts["diverged"] or counts["max_steps"]:
        reason += f"; {counts['diverged']} diverged, {counts['max_steps']} hit max_steps"
    return _check(
        "every N", f"sampler reached sigma_final for >= {CONVERGED_TARGET:.0%} of the samples at "
        "every N (stops at the denoiser's noise floor do not count; reached and floor samples "
        "enter the measures)", value, passed, reason=reason,
        distance=f"{reached[worst] - CONVERGED_TARGET:+.2f} in share at N={worst}")


def _check(scope, claim, value, passed, reason="", distance=None, applicable=True):
    """A check dict of the shared schema; `distance` is kept only for a failed applicable check."""
    passed = bool(passed)
    return {"claim": claim, "value": value, "passed": passed, "applicable": bool(applicable),
            "reason": reason, "distance": None if passed or not applicable else distance,
            "scope": scope}


def _no_samples(numbers):
    if numbers["sampler_measured_fraction"] > 0:
        return ""
    return ("no sample ended usable (reached sigma_final or stopped at the noise floor): "
            "nothing to measure")


def _realism(samples, test):
    if len(samples):
        return analysis.sample_realism(samples, test)
    nan = float("nan")
    spectrum = analysis.radial_power_spectrum(test)
    return {"gradient_energy_ratio": nan,
            "reference_gradient_energy_ratio": float(np.nanmean(
                analysis.gradient_energy_ratio(test))),
            "smoothness_ratio": nan, "high_frequency_log_ratio": nan, "spectral_distance": nan,
            "frequencies": spectrum["frequencies"],
            "spectrum": np.full_like(spectrum["power"], np.nan),
            "reference_spectrum": spectrum["power"]}


def _matched(a, b, test, train):
    """`analysis.matched_agreement` of the paired usable samples, NaN entries without pairs."""
    nan = float("nan")
    if not len(a):
        return {"blur_sigma": nan, "baseline": nan, "one_sided": nan, "margin": nan,
                "margin_se": nan, "above_baseline": False}
    out = analysis.matched_agreement(a, b, test, train, z=AGREEMENT_Z)
    return {"blur_sigma": out["matched_baseline"]["blur_sigma"], "baseline": out["baseline"],
            "one_sided": out["matched_baseline"]["one_sided_mean"], "margin": out["margin"],
            "margin_se": out["margin_se"], "above_baseline": out["above_baseline"]}


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


def _fig1_row(n, i, images, ok, train_sets, closest_index, labels):
    def closest(key):
        if not ok[key][i]:
            return None
        return train_sets[key][closest_index[key][int(np.sum(ok[key][:i]))]]

    row = {"n": n, "images": [closest("s1"), images["s1"][i], images["s2"][i]],
           "converged": [True, bool(ok["s1"][i]), bool(ok["s2"][i])],
           "outcomes": ["", labels["s1"][i], labels["s2"][i]]}
    if "s1c" in images:
        row["images"].append(images["s1c"][i])
        row["converged"].append(bool(ok["s1c"][i]))
        row["outcomes"].append(labels["s1c"][i])
    row["images"].append(closest("s2"))
    row["converged"].append(True)
    row["outcomes"].append("")
    return row


def _section(config, out, per_n, curves, fig1_rows, similarities, spectra):
    ns = list(config.n_values)
    checks = transition_checks(config, per_n)
    table_rows = [
        [
            n,
            _outcome_cell(per_n[n]["sampler_outcomes"]),
            per_n[n]["model_variance_s1_s2"],
            per_n[n]["model_variance_s1_s1c"],
            per_n[n]["sample_correlation_s1_s2"],
            per_n[n]["sample_correlation_s1_s1c"],
            per_n[n]["sample_correlation_to_closest_train"],
            per_n[n]["matched_baseline_correlation"],
            per_n[n]["agreement_margin_matched"],
            per_n[n]["baseline_fresh_to_closest_train"],
            per_n[n]["baseline_independent_images"],
            per_n[n]["memorization_ratio"],
            per_n[n]["memorization_ratio_scale_invariant"],
            per_n[n]["train_test_gap_db"],
            per_n[n]["test_psnr_at_gap_sigma"]["s1"],
        ]
        for n in ns
    ]
    realism_rows = [
        [
            n,
            _outcome_cell(per_n[n]["sampler_outcomes"]),
            per_n[n]["sampler_floor_sigma_median"],
            per_n[n]["denoiser_clean_floor"]["s1"],
            per_n[n]["sample_gradient_energy_ratio"],
            per_n[n]["data_gradient_energy_ratio"],
            per_n[n]["sample_smoothness_ratio"],
            per_n[n]["sample_high_frequency_log_ratio"],
            per_n[n]["matched_baseline_blur_sigma"],
            per_n[n]["matched_baseline_one_sided"],
        ]
        for n in ns
    ]
    fig_paths = {
        "fig1": os.path.join(out, "fig1_samples.png"),
        "psnr": os.path.join(out, "psnr_curves.png"),
        "gap": os.path.join(out, "train_test_gap.png"),
        "variance": os.path.join(out, "model_variance.png"),
        "hist": os.path.join(out, "similarity_histograms.png"),
        "spectra": os.path.join(out, "sample_spectra.png"),
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
    _spectra_figure(fig_paths["spectra"], spectra)
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
            "Each sampler run ends in one of four outcomes, counted per N: it reached "
            f"sigma_final = {config.sampler.get('sigma_final')}; it stopped at the denoiser's "
            "noise floor (sigma_t set no new minimum while the schedule should have halved the "
            "noise; its output is the denoising at its lowest sigma_t, beside which the report "
            "gives the floor measured without sampling, ||f(x) - x|| / sqrt(D) on clean test "
            "images); it diverged (sigma_t > 2, the authors' rule); or it hit max_steps. Samples "
            "that reached sigma_final or stopped at the floor enter the measures; the others are "
            "drawn as failures. The sampler check counts only those that reached sigma_final.",
            "Similarity is the correlation (mean-removed cosine). Data baselines, which owe "
            "nothing to a model: a fresh (test) image against its closest S1 image, and two "
            "independent images. A sample is memorized when its distance to the nearest "
            "training image's ray (its positive multiples: what a bias-free denoiser memorizes, "
            "f(a x_i) = a x_i) is below 1/3 of the distance to the second nearest (Gu et al. "
            "2023, up to scale, as the paper's cosine similarity is): that is the memorization "
            "check. The plain L2 version is given beside it as information: it counts the "
            "sampler's scaled copies as new. "
            "Samples of an under-trained denoiser are smoother than data, and smoothness alone "
            "raises correlations: the realism table gives the samples' gradient energy over "
            "variance, mean |grad x|^2 / var(x), against the test images' and the high-frequency "
            "deficit of their radially averaged power spectrum (log10 ratio above 0.25 "
            "cycles/pixel). The largest-N agreement check compares S1-S2 with a baseline of the "
            "samples' smoothness: test images blurred (Gaussian) to the samples' gradient-energy "
            "ratio, against their closest training image blurred alike (two nearest neighbours "
            f"in the data, as smooth as the samples); it must be exceeded by {AGREEMENT_Z:g} "
            "standard errors. Model variance is "
            "||f_a(y) - f_b(y)||^2 / ||f_a(y) - x||^2 on held-out noisy images, averaged over "
            f"sigma <= {config.variance_sigma_max}.",
        ],
        "checks": checks,
        "numbers": {str(n): per_n[n] for n in ns},
        "tables": [{
            "caption": "Per training-set size N: S1-vs-S2 beside the S1-vs-S1' control and the "
                       "data baselines",
            "header": ["N", "sampler: reached / floor / diverged / max steps",
                       "model var. S1-S2", "model var. S1-S1'",
                       "sample corr. S1-S2", "sample corr. S1-S1'",
                       "sample corr. to closest train",
                       "smoothness-matched baseline", "S1-S2 minus matched baseline",
                       "baseline: fresh image to closest train",
                       "baseline: two independent images",
                       "memorization ratio (L2, information)",
                       "memorization ratio (scale-inv.)",
                       f"train-test gap (dB, sigma={GAP_SIGMA})",
                       f"test PSNR S1 (dB, sigma={GAP_SIGMA})"],
            "rows": table_rows,
        }, {
            "caption": "Per N: sampler outcomes, the noise floor, and how data-like the samples "
                       "(S1 and S2, reached or floor) are against the test images",
            "header": ["N", "sampler: reached / floor / diverged / max steps",
                       "median sigma at the floor", "S1 clean-image floor ||f(x)-x||/sqrt(D)",
                       "samples: gradient energy / variance", "test images: gradient energy / "
                       "variance", "smoothness ratio (samples / data)",
                       "high-frequency log10 power ratio", "matched blur (px)",
                       "blurred test vs closest sharp train"],
            "rows": realism_rows,
        }],
        "figures": [
            {"path": fig_paths["fig1"], "caption": (
                "Per N (rows): closest S1 training image, samples of the S1, S2 (and S1') models "
                "from the same seed, closest S2 training image. A sample whose sampler diverged "
                "or hit max_steps is framed in red and marked: it enters no measure; one "
                "stopped at the noise floor is marked in orange.")},
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
            {"path": fig_paths["spectra"], "caption": (
                "Radially averaged power spectra (Hann window, each image normalized to unit "
                "power) of the S1 and S2 samples per N against the test images: a sample "
                "spectrum below the data's at high frequency means missing fine detail.")},
        ],
    }


_OUTCOME_LABELS = {"diverged": "DIVERGED", "max_steps": "MAX STEPS"}


def _spectra_figure(path, spectra):
    fig = figures.new_figure(figsize=(4.2, 3.2))
    ax = fig.add_subplot(1, 1, 1)
    data_drawn = False
    for i, (n, entry) in enumerate(spectra.items()):
        if not data_drawn:
            ax.plot(entry["frequencies"], entry["data"], color="black", lw=1.6, label="test images")
            data_drawn = True
        ax.plot(entry["frequencies"], entry["samples"], marker="o", ms=3, color=f"C{i}",
                label=f"samples, N = {n:,}")
    ax.set_yscale("log")
    ax.set_xlabel("spatial frequency (cycles / pixel)")
    ax.set_ylabel("power per frequency (normalized)")
    ax.legend(fontsize=7, frameon=False)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=150, bbox_inches="tight")
    return path


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
                          cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            outcome = row.get("outcomes", [""] * len(row["images"]))[c]
            if not converged:
                for spine in ax.spines.values():
                    spine.set_color("red")
                    spine.set_linewidth(2)
                ax.set_xlabel(_OUTCOME_LABELS.get(outcome, "NOT CONVERGED"), color="red",
                              fontsize=6)
            elif outcome == "floor":
                ax.set_xlabel("at noise floor", color="#b26a00", fontsize=6)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(titles[c], fontsize=7)
        axes[r, 0].set_ylabel(f"N = {row['n']:,}", fontsize=8)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=150, bbox_inches="tight")
    return path


def _outcome_cell(counts):
    return " / ".join(str(counts[k]) for k in sampling.OUTCOMES)


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
