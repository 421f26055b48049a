"""`gahb reproduce --seeds`: the same reproduction under several master seeds, and the spread."""

import os

import numpy as np

from keras_gahb.experiments.reproduce import reproduce
from keras_gahb.utils import atomic_write_json, atomic_write_text

#: Per-N transition numbers whose spread over master seeds is reported.
SPREAD_NUMBERS = (
    "sampler_converged_fraction",
    "sampler_floor_fraction",
    "sampler_diverged_fraction",
    "sampler_max_steps_fraction",
    "model_variance_s1_s2",
    "model_variance_s1_s1c",
    "model_variance_ratio",
    "sample_correlation_s1_s2",
    "sample_correlation_s1_s1c",
    "sample_correlation_to_closest_train",
    "matched_baseline_correlation",
    "agreement_margin_matched",
    "sample_gradient_energy_ratio",
    "data_gradient_energy_ratio",
    "sample_smoothness_ratio",
    "baseline_fresh_to_closest_train",
    "memorization_ratio",
    "memorization_ratio_scale_invariant",
    "copy_scale_median",
    "train_test_gap_db",
)


def reproduce_seeds(run_dir, seeds=(0, 1, 2), scale="quick", parts=None, verbose=1,
                    **overrides):
    """Run `reproduce` once per master seed (in run_dir/seed<S>) and report the spread.

    Every model's seed derives from the master seed, and so do the data pool and the
    sampler, so the runs are independent repetitions of the whole protocol. Writes
    run_dir/spread.json and run_dir/spread.md: per N and per number the mean, standard
    deviation, min and max over seeds, and per check how many seeds passed it (and for how
    many it applied: a check with "applicable": False is N/A there, never a pass).

    Args:
        run_dir: output folder (one sub-folder per seed; rerun to resume).
        seeds: master seeds (at least 1). Defaults to (0, 1, 2).
        scale, parts, verbose, **overrides: as `reproduce` (without `seed`).

    Returns:
        The spread dict (also in spread.json).

    Example:

    >>> spread = keras_gahb.experiments.reproduce_seeds("runs/spread", seeds=(0, 1, 2),
    ...                                                 scale="tiny")
    """
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct integers (at least one), got {seeds}.")
    if "seed" in overrides:
        raise ValueError("Pass the master seeds through `seeds`, not `seed`.")
    summaries = {}
    for seed in seeds:
        if verbose:
            print(f"[reproduce] master seed {seed}", flush=True)
        summaries[seed] = reproduce(os.path.join(run_dir, f"seed{seed}"), scale=scale,
                                    parts=parts, verbose=verbose, seed=seed, **overrides)
    spread = summarize_spread(summaries)
    atomic_write_json(os.path.join(run_dir, "spread.json"), spread)
    atomic_write_text(os.path.join(run_dir, "spread.md"), spread_markdown(spread))
    return spread


def summarize_spread(summaries):
    """The spread of per-N transition numbers and the pass counts of every check over seeds."""
    seeds = list(summaries)
    per_n = {}
    transitions = [s["parts"].get("transition", {}).get("numbers", {}) for s in summaries.values()]
    for n in (transitions[0] if transitions else {}):
        per_n[n] = {}
        for key in SPREAD_NUMBERS:
            values = np.array([t[n].get(key, np.nan) for t in transitions], float)
            finite = values[np.isfinite(values)]
            per_n[n][key] = {
                "values": values.tolist(),
                "mean": float(finite.mean()) if finite.size else float("nan"),
                "std": float(finite.std(ddof=1)) if finite.size > 1 else float("nan"),
                "min": float(finite.min()) if finite.size else float("nan"),
                "max": float(finite.max()) if finite.size else float("nan"),
            }
    checks = {}
    for summary in summaries.values():
        for part, section in summary["parts"].items():
            for check in section["checks"]:
                # Claims name N values and thresholds, not seeds: identical across seeds.
                key = f"{part}: {check['claim']}"
                entry = checks.setdefault(key, {"passed": 0, "applicable": 0, "values": []})
                applicable = check.get("applicable", True) is not False
                entry["applicable"] += int(applicable)  # N/A (information) is never "passed"
                entry["passed"] += int(applicable and check["passed"])
                entry["values"].append(check["value"])
    return {
        "seeds": seeds,
        "total_seconds": [summaries[s]["total_seconds"] for s in seeds],
        "per_n": per_n,
        "checks": checks,
    }


def spread_markdown(spread):
    """spread.md: a per-N table (mean +- sd [min, max]) and the pass count of every check."""
    seeds = spread["seeds"]
    lines = [f"# Spread over master seeds {seeds}", "",
             "Seconds per run: " + ", ".join(f"{t:.0f}" for t in spread["total_seconds"]), ""]
    if spread["per_n"]:
        ns = list(spread["per_n"])
        lines += ["| number | " + " | ".join(f"N={n}" for n in ns) + " |",
                  "|---|" + "---|" * len(ns)]
        for key in SPREAD_NUMBERS:
            cells = []
            for n in ns:
                s = spread["per_n"][n][key]
                cells.append(f"{s['mean']:.3f} ± {s['std']:.3f} [{s['min']:.3f}, {s['max']:.3f}]")
            lines.append(f"| {key} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["| check | passed | measured per seed |", "|---|---|---|"]
    for claim, entry in spread["checks"].items():
        values = " / ".join(str(v) for v in entry["values"])
        applicable = entry.get("applicable", len(seeds))
        passed = (f"{entry['passed']}/{len(seeds)}" if applicable == len(seeds) else
                  "N/A" if applicable == 0 else
                  f"{entry['passed']}/{applicable} (N/A in {len(seeds) - applicable})")
        lines.append(f"| {claim} | {passed} | {values} |")
    return "\n".join(lines) + "\n"
