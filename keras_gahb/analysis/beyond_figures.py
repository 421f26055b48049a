"""Figures of the instruments beyond the paper: references, memorization dynamics, probes, dimension.

Each function takes the dict returned by the matching analysis function,
writes one PNG to `path` (atomically) and returns the path.
"""

import numpy as np

from keras_gahb.analysis.figures import _save, _show, _subplots, new_figure


def references_figure(path, comparison, title=None):
    """r^2 of a network to each reference (left) and MSE of network and references (right) vs sigma."""
    sigmas = np.asarray(comparison["sigmas"])
    fig, (left, right) = _subplots(1, 2, figsize=(9, 3.4))
    for name, entry in comparison["references"].items():
        left.plot(sigmas, entry["r2"], "o-", label=name)
        right.plot(sigmas, entry["mse"], "o--", label=name)
    right.plot(sigmas, comparison["network_mse"], "ks-", label="network")
    left.set(xscale="log", xlabel="sigma", ylabel="r^2 (reference explained by network)",
             ylim=(min(-0.05, float(np.nanmin([e["r2"] for e in comparison["references"].values()]))), 1.02))
    right.set(xscale="log", yscale="log", xlabel="sigma", ylabel="MSE per pixel")
    left.axhline(1.0, color="gray", lw=0.5)
    left.legend(fontsize=7)
    right.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def dynamics_figure(path, sweep):
    """Per N: memorization ratio and test/train loss over training steps; right: tau vs N with the fit.

    `sweep` is the result of `memorization_sweep` or the dynamics.json of `analyze_dynamics`.
    """
    fig, axes = _subplots(1, 3, figsize=(14, 3.8))
    colors = _viridis(np.linspace(0, 0.9, len(sweep["ns"])))
    for color, n in zip(colors, sweep["ns"]):
        rec = _get(sweep["records"], n)
        steps = [r["step"] for r in rec]
        axes[0].plot(steps, [r["memorization_ratio"] for r in rec], "o-", color=color, label=f"N={n}")
        if all("median_distance_ratio" in r for r in rec):
            axes[0].plot(steps, [r["median_distance_ratio"] for r in rec], ":", color=color)
        axes[1].plot(steps, [r["test_loss"] for r in rec], "-", color=color, label=f"N={n} test")
        axes[1].plot(steps, [r["train_loss"] for r in rec], ":", color=color)
    axes[0].set(xlabel="step", ylabel="memorization ratio (dotted: median d1/d2)", ylim=(-0.05, 1.05))
    axes[1].set(xlabel="step", ylabel="denoising MSE (solid test, dotted train)", yscale="log")
    axes[0].legend(fontsize=7)
    ns = np.array(sweep["ns"], float)
    source = (sweep.get("fit_mem") or {}).get("source")
    mem_key = {"memorization ratio": "tau_mem_ratio", "test-loss rise": "tau_mem_loss"}.get(source, "tau_mem")
    for key, marker, label in ((mem_key, "o", "tau_mem"), ("tau_gen", "s", "tau_gen")):
        taus = np.array([np.nan if _get(sweep["times"], n)[key] is None else _get(sweep["times"], n)[key]
                         for n in sweep["ns"]], float)
        if key == mem_key and source:
            label = f"tau_mem ({source})"
        axes[2].plot(ns, taus, marker, label=label)
        if key == mem_key:  # not reached: a lower bound at the last evaluated step
            censored = [(n, _get(sweep["records"], n)[-1]["step"]) for n, t in zip(sweep["ns"], taus)
                        if np.isnan(t) and _get(sweep["records"], n)]
            if censored:
                axes[2].plot([c[0] for c in censored], [c[1] for c in censored], "^", color="C0",
                             fillstyle="none", label="tau_mem not reached (> last step)")
        fit = sweep.get("fit_gen" if key == "tau_gen" else "fit_mem")
        if fit:
            grid = np.geomspace(ns.min(), ns.max(), 20)
            axes[2].plot(grid, fit["prefactor"] * grid ** fit["exponent"], "--",
                         label=f"{label} ~ N^{fit['exponent']:.2f} [{fit['ci_low']:.2f}, {fit['ci_high']:.2f}]")
    axes[2].set(xscale="log", yscale="log", xlabel="training-set size N", ylabel="steps")
    axes[2].set_xticks(ns, [str(int(n)) for n in ns])
    axes[2].xaxis.set_minor_formatter(_null_formatter())
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def _get(mapping, n):
    return mapping[n] if n in mapping else mapping[str(n)]


def agreement_figure(path, agreement):
    """Correlation and relative difference of two models' denoised estimates along the trajectory vs sigma."""
    fig, ax = _subplots(figsize=(4.6, 3.4))
    sigma = agreement["sigma"]
    ax.plot(sigma, agreement["correlation"], "o-", label="correlation f1(x_t), f2(x_t)")
    ax.plot(sigma, agreement["relative_difference"], "s--", label="||f1 - f2||^2 / ||f1 - x_t||^2")
    ax.set(xscale="log", yscale="log", xlabel="noise level sigma_t of the iterate")
    ax.invert_xaxis()
    ax.legend(fontsize=7)
    return _save(fig, path)


def branching_figure(path, result, max_images=2):
    """Endpoint similarity vs branch level sigma_t (left), and the branches' endpoints (right)."""
    sigmas = result["branch_sigmas"]
    endpoints = result["endpoints"]                                   # (S, n, B, H, W, C)
    num_images = min(max_images, endpoints.shape[1])
    branches = endpoints.shape[2]
    fig = new_figure(figsize=(4 + 1.0 * branches, 1.2 * len(sigmas) * num_images / 2 + 2))
    grid = fig.add_gridspec(len(sigmas) * num_images, branches + 4)
    ax = fig.add_subplot(grid[:, :3])
    ax.plot(sigmas, result["similarity"], "o-", label="endpoint correlation")
    if result.get("same_nearest") is not None:
        ax.plot(sigmas, result["same_nearest"], "s--", label="same nearest training image")
    ax.set(xscale="log", xlabel="branch level sigma_t", ylim=(-0.05, 1.05))
    ax.set_xticks(sigmas, [f"{s:.2g}" for s in sigmas])
    ax.xaxis.set_minor_formatter(_null_formatter())
    ax.invert_xaxis()
    ax.legend(fontsize=7)
    for j in range(len(sigmas)):
        for i in range(num_images):
            for b in range(branches):
                cell = fig.add_subplot(grid[j * num_images + i, 4 + b])
                _show(cell, endpoints[j, i, b])
                if b == 0:
                    cell.set_ylabel(f"{sigmas[j]:.2g}", fontsize=6)
    return _save(fig, path)


def dimension_figure(path, curve, gaussian=None, manifold_dimension=None):
    """tr J and the implied dimension vs sigma (left) and the top spectra (right).

    Args:
        curve: from `dimension_curve`.
        gaussian: optional (len(sigmas),) closed-form sum lambda/(lambda + sigma^2).
        manifold_dimension: optional d drawn as a horizontal line (5 for discs).
    """
    sigmas = curve["sigmas"]
    fig, (left, right) = _subplots(1, 2, figsize=(9, 3.4))
    left.errorbar(sigmas, curve["trace"], yerr=2 * np.asarray(curve["trace_standard_error"]), fmt="o-",
                  label="tr J")
    left.plot(sigmas, curve["dimension"], "s:", label="implied dimension (spectral gap)")
    if gaussian is not None:
        left.plot(sigmas, gaussian, "k--", label="Gaussian: sum lambda/(lambda+sigma^2)")
    if manifold_dimension is not None:
        left.axhline(manifold_dimension, color="gray", lw=0.8, label=f"manifold dimension {manifold_dimension}")
    left.set(xscale="log", yscale="log", xlabel="sigma", ylabel="dimension")
    left.legend(fontsize=7)
    colors = _viridis(np.linspace(0, 0.9, len(sigmas)))
    for color, sigma, values in zip(colors, sigmas, curve["eigenvalues"]):
        right.plot(np.arange(1, len(values) + 1), np.maximum(values, 1e-6), ".-", color=color,
                   label=f"sigma={sigma:.3g}")
    right.set(yscale="log", xlabel="k", ylabel="lambda_k of sym J")
    right.legend(fontsize=7)
    return _save(fig, path)


__all__ = ["agreement_figure", "branching_figure", "dimension_figure", "dynamics_figure",
           "references_figure"]


def _viridis(values):
    from matplotlib import colormaps

    return colormaps["viridis"](values)


def _null_formatter():
    from matplotlib.ticker import NullFormatter

    return NullFormatter()
