"""Section "Beyond the paper" of the reproduce report (`gahb reproduce --with extras`).

Runs the instruments of `keras_gahb.analysis` that go beyond the paper on the transition part's
already-trained models (models/transition_n{N}_{s1,s2}); nothing new is trained:

- reference denoisers: per N, r^2 between the S1 network's output and each closed-form reference
  of its training set (empirical optimum, Wiener, ELS patch machine, PCA locality) per sigma;
- a known answer: the sampler driven by the empirical optimum of the smallest S1 set returns
  training images (memorization ratio 1);
- noise-level probes: agreement of S1 and S2 along S1's sampling trajectories as a function of
  the iterate's noise level, and branching runs (where a sample's identity is decided);
- Jacobian dimension across sigma of the largest-N S1 network at one test image, beside the
  Gaussian closed form sum lambda / (lambda + sigma^2) of its training covariance.

Memorization over training time needs its own training runs (`gahb analyze dynamics`), so it
is not part of this section. The section's checks are claims from the literature beyond the
paper; they are reported but do not enter the reproduction's `all_checks_passed`.
"""

import os
import time

import numpy as np

from keras_gahb import analysis
from keras_gahb.analysis import beyond_figures
from keras_gahb.analysis.figures import _save, _subplots
from keras_gahb.experiments.plan import transition_model_dir
from keras_gahb.experiments.transition import train_transition_models
from keras_gahb.models import load_denoiser
from keras_gahb.utils import atomic_write_json, read_json

#: Noise levels of the reference comparison and of the dimension curve.
EXTRAS_SIGMAS = (0.05, 0.1, 0.2, 0.4)
#: References compared with every network (D = H W C <= 4096 for wiener and pca_local).
REFERENCE_NAMES = ("empirical", "wiener", "els", "pca_local")
#: Branch levels of the branching probe.
BRANCH_SIGMAS = (0.5, 0.3, 0.2, 0.1)
#: The probes' sampler: a faster schedule than the paper's (h0 = 0.01, beta = 0.1), so that the
#: trunk, its branches and the agreement runs stay within minutes.
PROBE_SAMPLER = {"h0": 0.1, "beta": 0.5, "max_steps": 300}
#: The empirical optimum's samples must all be copies (memorization ratio >= this).
EMPIRICAL_MEMORIZATION_TARGET = 1.0


def run_extras(config, run_dir, verbose=1):
    """Measure the beyond-the-paper instruments on the transition models; returns the section.

    Trains the transition models first when some are missing (finished ones are reused).

    Args:
        config: the `ReproductionConfig` of the run.
        run_dir: the reproduction's folder.
        verbose: 0 silent, 1 one line per step.

    Returns:
        dict: a report section ("id" = "extras", "title", "paragraphs", "checks",
        "tables", "figures", "numbers").

    Example:

    >>> config = keras_gahb.experiments.config_for_scale("tiny")
    >>> section = keras_gahb.experiments.run_extras(config, "runs/tiny")
    """
    pool, splits = train_transition_models(config, run_dir, verbose=verbose)
    out = os.path.join(run_dir, "extras")
    os.makedirs(out, exist_ok=True)
    ns = [int(n) for n in config.n_values if int(n) >= 2]
    if not ns:
        raise ValueError(f"The extras need some N >= 2; got n_values={list(config.n_values)}.")
    small, large = min(ns), max(ns)
    test = pool[splits[ns[0]].test]
    num_eval = int(min(16, len(test)))
    num_probe = 2 if config.scale == "tiny" else 4
    sampler = {**PROBE_SAMPLER, "sigma0": config.sampler.get("sigma0", 1.0),
               "sigma_final": config.sampler.get("sigma_final", 0.05)}
    if config.scale == "tiny":
        sampler["max_steps"] = 60
    names = tuple(n for n in REFERENCE_NAMES if n not in ("wiener", "pca_local") or test[0].size <= 4096)
    numbers = {"references": {}, "agreement": {}, "branching": {}}
    models, train = {}, {}

    def log(message):
        if verbose:
            print(f"[extras] {message}", flush=True)

    for n in ns:
        models[n] = {s: load_denoiser(transition_model_dir(run_dir, n, s))[0] for s in ("s1", "s2")}
        train[n] = pool[splits[n].s1]
        start = time.time()
        comparison = analysis.compare_with_references(models[n]["s1"], train[n], test[:num_eval],
                                                      EXTRAS_SIGMAS, references=names,
                                                      seed=config.seed)
        numbers["references"][str(n)] = _jsonable(comparison)
        log(f"N={n}: references in {time.time() - start:.0f} s; closest per sigma {comparison['closest']}")
        start = time.time()
        agreement = analysis.trajectory_agreement(models[n]["s1"], models[n]["s2"],
                                                  (num_probe,) + test.shape[1:],
                                                  seed=config.seed + 11, num_bins=6, **sampler)
        numbers["agreement"][str(n)] = _jsonable({k: v for k, v in agreement.items() if k != "samples"})
        log(f"N={n}: S1-S2 agreement along the trajectory in {time.time() - start:.0f} s")

    start = time.time()
    empirical = analysis.EmpiricalOptimalDenoiser(train[small])
    memorizer = _empirical_memorization(empirical, train[small], num_probe * 2, config.seed + 13, sampler)
    numbers["empirical_optimum_memorization_ratio"] = memorizer
    log(f"empirical optimum of N={small}: memorization ratio {memorizer:.2f} "
        f"({time.time() - start:.0f} s)")

    branch_sigmas = [s for s in BRANCH_SIGMAS if sampler["sigma_final"] < s < sampler["sigma0"]]
    for n in sorted({small, large}):
        start = time.time()
        result = analysis.branching(models[n]["s1"], (num_probe,) + test.shape[1:], branch_sigmas,
                                    num_branches=3, seed=config.seed + 17, train_images=train[n],
                                    **sampler)
        numbers["branching"][str(n)] = _jsonable({k: v for k, v in result.items() if k != "endpoints"})
        beyond_figures.branching_figure(os.path.join(out, f"branching_n{n}.png"), result)
        log(f"N={n}: branching in {time.time() - start:.0f} s")

    start = time.time()
    method = "full" if test[0].size <= 1024 else "matrix_free"
    curve = analysis.dimension_curve(models[large]["s1"], test[0], EXTRAS_SIGMAS, method=method,
                                     top_k=min(32, test[0].size - 1), seed=config.seed)
    gaussian = None
    if test[0].size <= 4096:
        values = analysis.WienerDenoiser(train[large], 1.0).eigenvalues
        gaussian = np.array([analysis.gaussian_jacobian_spectrum(values, s).sum() for s in EXTRAS_SIGMAS])
    numbers["dimension"] = _jsonable({**curve, "gaussian_trace": gaussian, "n": large})
    log(f"N={large}: Jacobian dimension curve ({method}) in {time.time() - start:.0f} s")

    figures = _figures(out, numbers, ns, small, large, curve, gaussian)
    return _section(config, numbers, ns, small, large, names, sampler, method, figures)


def extras_section_path(run_dir):
    """Where a finished extras section is recorded: run_dir/parts/extras.json."""
    return os.path.join(run_dir, "parts", "extras.json")


def load_extras_section(run_dir):
    """The finished extras section of `run_dir` with absolute figure paths, or None."""
    path = extras_section_path(run_dir)
    if not os.path.exists(path):
        return None
    section = read_json(path)
    section["figures"] = [{**fig, "path": os.path.join(run_dir, fig["path"])}
                          for fig in section["figures"]]
    return section


def run_and_record_extras(config, run_dir, verbose=1):
    """`run_extras` unless run_dir/parts/extras.json exists; records the section (resumable)."""
    path = extras_section_path(run_dir)
    if os.path.exists(path):
        if verbose:
            print(f"[reproduce] extras: already done ({path})", flush=True)
        return read_json(path)
    if verbose:
        print("[reproduce] extras: running", flush=True)
    start = time.time()
    section = run_extras(config, run_dir, verbose=verbose)
    section["seconds"] = round(time.time() - start, 1)
    section["figures"] = [{**fig, "path": os.path.relpath(fig["path"], run_dir)}
                          for fig in section["figures"]]
    atomic_write_json(path, section)
    if verbose:
        print(f"[reproduce] extras: done in {section['seconds']:.0f} s", flush=True)
    return section


def _empirical_memorization(denoiser, train_images, num, seed, sampler):
    from keras_gahb.sampling import sample

    result = sample(denoiser, (int(num),) + train_images.shape[1:], seed=seed, **sampler)
    images = np.nan_to_num(result.images)
    return float(analysis.memorization_ratio(images, train_images)["ratio"])


def _figures(out, numbers, ns, small, large, curve, gaussian):
    paths = []
    for n in ns:
        comparison = numbers["references"][str(n)]
        path = os.path.join(out, f"references_n{n}.png")
        beyond_figures.references_figure(path, comparison, title=f"S1 network, N = {n}")
        paths.append({"path": path, "caption": (
            f"N = {n}: r^2 of each reference's output explained by the S1 network's output (left) "
            "and the MSE of the network and of each reference (right), per sigma, on held-out "
            "images.")})
    path = os.path.join(out, "agreement.png")
    fig, ax = _subplots(figsize=(5, 3.6))
    for n in ns:
        entry = numbers["agreement"][str(n)]
        ax.plot(entry["sigma"], entry["relative_difference"], "o-", label=f"N = {n}")
    ax.set(xscale="log", yscale="log", xlabel="noise level sigma_t of the iterate",
           ylabel="||f_S1 - f_S2||^2 / ||f_S1 - x_t||^2")
    ax.invert_xaxis()
    ax.legend(fontsize=7)
    _save(fig, path)
    paths.append({"path": path, "caption": (
        "Agreement of the S1 and S2 networks along S1's sampling trajectories: their relative "
        "difference at each iterate x_t against the iterate's noise level (sampling runs from "
        "left to right). Memorizers of disjoint sets agree at large sigma_t only.")})
    for n in sorted({small, large}):
        paths.append({"path": os.path.join(out, f"branching_n{n}.png"), "caption": (
            f"Branching, S1 network of N = {n}: the trunk is sampled down to sigma_t, then "
            "continued in 3 branches with fresh noise; endpoint correlation (and share of branch "
            "pairs ending at the same training image) against sigma_t, and the endpoints.")})
    path = os.path.join(out, "dimension.png")
    beyond_figures.dimension_figure(path, curve, gaussian=gaussian)
    paths.append({"path": path, "caption": (
        f"S1 network of N = {large} at one held-out image: tr J (effective dimension) and the "
        "dimension implied by the largest spectral gap, against sigma; dashed, the Gaussian "
        "closed form sum lambda / (lambda + sigma^2) of the training covariance. Right: the top "
        "eigenvalues of the symmetrized Jacobian.")})
    return paths


def _section(config, numbers, ns, small, large, names, sampler, method, figures):
    refs = numbers["references"]
    sigmas = list(EXTRAS_SIGMAS)
    rows = []
    for n in ns:
        for name in names:
            rows.append([n, name] + list(refs[str(n)]["references"][name]["r2"]))
        rows.append([n, "(closest)"] + list(refs[str(n)]["closest"]))
    r2_small = np.array(refs[str(small)]["references"]["empirical"]["r2"])
    checks = [{
        "claim": f"the sampler driven by the empirical optimum of the N = {small} S1 set returns "
                 "training images (memorization ratio 1)",
        "passed": numbers["empirical_optimum_memorization_ratio"] >= EMPIRICAL_MEMORIZATION_TARGET,
        "value": numbers["empirical_optimum_memorization_ratio"],
    }]
    if "els" in names and large != small:
        els = np.array(refs[str(large)]["references"]["els"]["r2"])
        emp = np.array(refs[str(large)]["references"]["empirical"]["r2"])
        checks.append({
            "claim": f"at the largest N = {large} the network is closer (higher r^2, mean over "
                     "sigma) to the local ELS reference than to the empirical optimum "
                     "(Kamb & Ganguli 2024)",
            "passed": bool(els.mean() > emp.mean()),
            "value": f"{els.mean():.3f} vs {emp.mean():.3f}",
        })
        emp_large = emp
        checks.append({
            "claim": f"the network of the smallest N = {small} is closer to the empirical optimum "
                     f"than the network of N = {large} (mean r^2 over sigma)",
            "passed": bool(r2_small.mean() > emp_large.mean()),
            "value": f"{r2_small.mean():.3f} vs {emp_large.mean():.3f}",
        })
    agreement_rows = []
    for n in ns:
        entry = numbers["agreement"][str(n)]
        for s, c, r, k in zip(entry["sigma"], entry["correlation"], entry["relative_difference"],
                              entry["count"]):
            agreement_rows.append([n, s, c, r, k])
    branch_rows = []
    for n, entry in numbers["branching"].items():
        same = entry["same_nearest"] or [float("nan")] * len(entry["branch_sigmas"])
        for s, sim, sn in zip(entry["branch_sigmas"], entry["similarity"], same):
            branch_rows.append([int(n), s, sim, sn])
    dim = numbers["dimension"]
    gaussian = dim["gaussian_trace"] or [float("nan")] * len(dim["sigmas"])
    dim_rows = [[s, t, d, g] for s, t, d, g in zip(dim["sigmas"], dim["trace"], dim["dimension"],
                                                   gaussian)]
    return {
        "id": "extras",
        "title": "Beyond the paper: reference denoisers, noise-level probes, Jacobian dimension",
        "paragraphs": [
            "Instruments from work after the paper, run on the transition part's trained S1 and "
            "S2 networks (nothing new is trained). Each is validated against a closed form in "
            "keras_gahb's tests; the checks below are claims from that literature, reported "
            "beside the paper's but not counted in its verdict (<code>all_checks_passed</code>).",
            "Reference denoisers are posterior means under priors fitted to the network's own "
            "training set: <code>empirical</code> (the training set: a perfect memorizer), "
            "<code>wiener</code> (a Gaussian with its mean and covariance), <code>els</code> "
            "(equivariant local patch posterior, patch size growing with sigma) and "
            "<code>pca_local</code> (per-pixel posterior on the Wiener filter's support). r^2 = "
            "1 - sum (f_net - f_ref)^2 / sum (f_ref - mean f_ref)^2 on held-out noisy images.",
            f"The probes use a faster sampler schedule than the paper's: {sampler} (branching "
            f"at sigma_t in {list(BRANCH_SIGMAS)}). The Jacobian dimension is computed "
            f"{'exactly (full Jacobian)' if method == 'full' else 'matrix-free (Lanczos, Hutchinson)'}.",
            "Memorization over training time (tau_gen, tau_mem against N) needs its own training "
            "runs: <code>gahb analyze dynamics</code> (docs/analysis.md).",
        ],
        "checks": checks,
        "numbers": numbers,
        "tables": [
            {"caption": "r^2 of each reference explained by the S1 network, per sigma "
                        "(and the closest reference)",
             "header": ["N", "reference"] + [f"sigma={s:g}" for s in sigmas], "rows": rows},
            {"caption": "S1-vs-S2 agreement along S1's sampling trajectories, binned by the "
                        "iterate's noise level",
             "header": ["N", "sigma_t", "correlation", "relative difference", "iterates"],
             "rows": agreement_rows},
            {"caption": "Branching: endpoint similarity against the branch level sigma_t",
             "header": ["N", "sigma_t", "endpoint correlation", "same nearest training image"],
             "rows": branch_rows},
            {"caption": f"Jacobian of the N = {large} S1 network at one held-out image",
             "header": ["sigma", "tr J", "implied dimension", "Gaussian sum lambda/(lambda+sigma^2)"],
             "rows": dim_rows},
        ],
        "figures": figures,
    }


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


__all__ = ["load_extras_section", "run_and_record_extras", "run_extras"]
