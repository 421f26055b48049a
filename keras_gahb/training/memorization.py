"""When memorization sets in: tau_gen and tau_mem from training-time records, and their scaling with N.

Bonnaire et al. (2025) find two time scales in score-based training: the test
loss reaches its minimum (generalization) at tau_gen, independent of the
training-set size N, and memorization sets in much later, at tau_mem
proportional to N. `memorization_sweep` trains one small model per N with a
`MemorizationCallback`, reads both times off, and `fit_power_law` fits
tau_mem = a N^b with a bootstrap interval on b.

Reference: Bonnaire, Urfin, Biroli, Mezard (2025), https://arxiv.org/abs/2505.17638
"""

import numpy as np

from keras_gahb.training.memorization_callback import MemorizationCallback
from keras_gahb.utils import numpy_rng


def memorization_times(records, gen_tolerance=0.01, mem_threshold=0.5, rise_tolerance=0.05):
    """tau_gen and tau_mem (in optimizer steps) from `MemorizationCallback.records`.

    - tau_gen: the first step at which the test loss is within `gen_tolerance`
      (relative) of its minimum over the run;
    - tau_mem_ratio: the first step at which the memorization ratio exceeds
      `mem_threshold`;
    - tau_mem_loss: the first step after the test-loss minimum at which the
      test loss has risen by more than `rise_tolerance` (relative) above it;
    - tau_mem: tau_mem_ratio when it is reached, else tau_mem_loss.

    Times not reached are None.

    Returns:
        dict with the four times, "min_test_loss" and "final_memorization_ratio".

    Example:

    >>> records = [{"step": 100 * (i + 1), "test_loss": l, "memorization_ratio": m}
    ...            for i, (l, m) in enumerate([(0.02, 0), (0.01, 0), (0.012, 0.25), (0.02, 0.75)])]
    >>> keras_gahb.training.memorization_times(records)["tau_mem"]
    400
    """
    if not records:
        raise ValueError("No records: train with a MemorizationCallback for at least `every` steps.")
    steps = np.array([r["step"] for r in records])
    test = np.array([r["test_loss"] for r in records], np.float64)
    ratio = np.array([r["memorization_ratio"] for r in records], np.float64)
    best = int(np.nanargmin(test))
    minimum = test[best]
    tau_gen = int(steps[np.flatnonzero(test <= minimum * (1 + gen_tolerance))[0]])
    over = np.flatnonzero(ratio > mem_threshold)
    tau_ratio = int(steps[over[0]]) if len(over) else None
    rising = np.flatnonzero((np.arange(len(test)) > best) & (test > minimum * (1 + rise_tolerance)))
    tau_loss = int(steps[rising[0]]) if len(rising) else None
    return {"tau_gen": tau_gen, "tau_mem": tau_ratio if tau_ratio is not None else tau_loss,
            "tau_mem_ratio": tau_ratio, "tau_mem_loss": tau_loss, "min_test_loss": float(minimum),
            "final_memorization_ratio": float(ratio[-1])}


def fit_power_law(ns, taus, confidence=0.95, num_bootstrap=2000, seed=0):
    """Fit tau = a N^b by least squares in log-log, with a t-interval and a bootstrap interval on b.

    The bootstrap resamples the (N, tau) pairs with replacement (resamples
    with fewer than two distinct N are redrawn); with 3-4 points treat its
    interval as indicative, and prefer the t-interval.

    Returns:
        dict: "exponent", "prefactor", "ci_low", "ci_high" (bootstrap),
        "t_ci_low", "t_ci_high", "num_points", "r2".

    Example:

    >>> fit = keras_gahb.training.fit_power_law([10, 20, 40], [100, 200, 400])
    >>> round(fit["exponent"], 6)
    1.0
    """
    from scipy import stats

    ns = np.asarray(ns, np.float64)
    taus = np.asarray(taus, np.float64)
    keep = np.isfinite(taus) & (taus > 0) & (ns > 0)
    ns, taus = ns[keep], taus[keep]
    if len(np.unique(ns)) < 3:
        raise ValueError(f"Need tau at 3 or more distinct N to fit an exponent; got {len(np.unique(ns))}.")
    x, y = np.log(ns), np.log(taus)
    fit = stats.linregress(x, y)
    t = stats.t.ppf(0.5 + confidence / 2, len(x) - 2)
    rng = numpy_rng(seed)
    slopes = []
    while len(slopes) < int(num_bootstrap):
        pick = rng.integers(0, len(x), len(x))
        if len(np.unique(x[pick])) < 2:
            continue
        slopes.append(np.polyfit(x[pick], y[pick], 1)[0])
    alpha = (1 - confidence) / 2
    low, high = np.quantile(slopes, [alpha, 1 - alpha])
    return {"exponent": float(fit.slope), "prefactor": float(np.exp(fit.intercept)),
            "ci_low": float(low), "ci_high": float(high),
            "t_ci_low": float(fit.slope - t * fit.stderr), "t_ci_high": float(fit.slope + t * fit.stderr),
            "num_points": int(len(x)), "r2": float(fit.rvalue**2), "confidence": float(confidence)}


def memorization_sweep(images, test_images, ns, steps=2000, every=100, preset="unet_tiny",
                       batch_size=8, learning_rate=1e-3, sigma_max=1.0, seed=0, num_samples=8,
                       sampler_options=None, scale_invariant=True, stop_at_memorization=True, verbose=0,
                       recipe="paper", sigma_distribution=None, loss_weight=None, **time_options):
    """Train one model per training-set size N and find tau_gen, tau_mem; fit tau_mem ~ N^b.

    Each model (a fresh `preset`, same initial weights seed) trains with Adam at a
    constant learning rate on the first N of `images` for `steps` steps, with a
    `MemorizationCallback` evaluating every `every` steps on `test_images`.

    Args:
        images: the image pool (at least max(ns)) (n, H, W, C).
        test_images: held-out images.
        ns: training-set sizes.
        steps: optimizer steps per model. Default 2000.
        every: evaluation interval (steps). Default 100.
        preset: model preset. Default "unet_tiny".
        batch_size, learning_rate, sigma_max: training. Defaults 8, 1e-3, 1.0.
        seed: seed of weights, noise, samples. Default 0.
        num_samples, sampler_options: of the callback.
        scale_invariant: count copies up to a global scale as memorized (a
            bias-free network memorizes rays of training images; see
            `memorization_ratio`). Default True.
        stop_at_memorization: stop a model's training at the first evaluation
            whose memorization ratio exceeds `mem_threshold` (its tau_mem), so
            that `steps` is only a cap and small N cost little. Default True.
        verbose: 1 prints a line per N. Default 0.
        recipe, sigma_distribution, loss_weight: the training recipe (`TrainConfig`'s
            fields: "paper" = quadratic sigma, plain MSE; "cpu" = log-uniform sigma,
            loss weight 1/sigma). Default "paper".
        **time_options: passed to `memorization_times`.

    Returns:
        dict: "ns", "records" {N: records}, "times" {N: memorization_times},
        "fit_mem" (fit_power_law of tau_mem_ratio when at least 3 N reach it,
        else of tau_mem_loss, with "source" saying which; None with fewer than
        3 times), "fit_gen" (same for tau_gen).
    """
    import keras

    import keras_gahb.models
    from keras_gahb.data.noise import noisy_pairs

    from keras_gahb.training.train_config import TrainConfig

    recipe = TrainConfig(recipe=recipe, sigma_distribution=sigma_distribution,
                         loss_weight=loss_weight, sigma_max=sigma_max)
    images = np.asarray(images, np.float32)
    ns = [int(n) for n in ns]
    if not ns or min(ns) < 2 or max(ns) > len(images):
        raise ValueError(f"ns must be between 2 and the pool size {len(images)}; got {ns}.")
    steps, every = int(steps), int(every)
    if steps < every or every < 1:
        raise ValueError(f"Need 1 <= every <= steps; got every={every}, steps={steps}.")
    records, times = {}, {}
    for n in ns:
        keras.utils.set_random_seed(seed)
        model = keras_gahb.models.from_preset(preset, image_channels=images.shape[-1])
        model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mean_squared_error")
        stop = time_options.get("mem_threshold", 0.5) if stop_at_memorization else None
        callback = MemorizationCallback(images[:n], test_images, every=every, num_samples=num_samples,
                                        seed=seed, sigma_max=sigma_max, sampler_options=sampler_options,
                                        scale_invariant=scale_invariant, stop_threshold=stop)
        weighted = recipe.loss_weight != "none"
        pairs = noisy_pairs(images[:n], batch_size, sigma=recipe.sigma_distribution,
                            sigma_min=recipe.sigma_min
                            if isinstance(recipe.sigma_distribution, str) else None,
                            sigma_max=sigma_max, seed=seed, images_per_epoch=every * batch_size,
                            loss_weight=recipe.loss_weight if weighted else None,
                            sigma_data=recipe.sigma_data)
        model.fit(pairs, epochs=steps // every, callbacks=[callback], verbose=0)
        records[n] = callback.records
        times[n] = memorization_times(callback.records, **time_options)
        if verbose:
            for r in callback.records:
                print(f"  step {r['step']}: memorization {r['memorization_ratio']:.2f} (median d1/d2 "
                      f"{r['median_distance_ratio']:.2f}), train loss "
                      f"{r['train_loss']:.4g}, test loss {r['test_loss']:.4g}")
            print(f"N={n}: tau_gen={times[n]['tau_gen']}, tau_mem={times[n]['tau_mem']} "
                  f"(ratio {times[n]['tau_mem_ratio']}, loss {times[n]['tau_mem_loss']}), "
                  f"final memorization ratio {times[n]['final_memorization_ratio']:.2f}")
    # One definition of tau_mem for every N of the fit: the memorization ratio's when at least
    # three N reach it, else the test-loss rise's (never a mix of the two).
    fit_mem = _maybe_fit(ns, [times[n]["tau_mem_ratio"] for n in ns], seed)
    if fit_mem is not None:
        fit_mem["source"] = "memorization ratio"
    else:
        fit_mem = _maybe_fit(ns, [times[n]["tau_mem_loss"] for n in ns], seed)
        if fit_mem is not None:
            fit_mem["source"] = "test-loss rise"
    return {"ns": ns, "records": records, "times": times, "fit_mem": fit_mem,
            "fit_gen": _maybe_fit(ns, [times[n]["tau_gen"] for n in ns], seed)}


def _maybe_fit(ns, taus, seed):
    pairs = [(n, t) for n, t in zip(ns, taus) if t is not None]
    if len({n for n, _ in pairs}) < 3:
        return None
    return fit_power_law([n for n, _ in pairs], [t for _, t in pairs], seed=seed)


__all__ = ["fit_power_law", "memorization_sweep", "memorization_times"]
