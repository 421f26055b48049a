"""Publication figures of the paper's analyses (matplotlib, PNG, written atomically).

Every function takes plain arrays/dicts, writes one PNG to `path` and returns
the path. The layouts follow Kadkhodaie et al. (2024), https://arxiv.org/abs/2310.02557.
"""

import numpy as np

from keras_gahb.utils import atomic_path

_DPI = 200


def fig1_layout(path, rows, titles=("closest train (S1)", "sample S1 model", "sample S2 model",
                                    "closest train (S2)")):
    """Fig 1 layout: per N, closest training image / sample of S1 model / sample of S2 / closest of S2.

    Args:
        path: output PNG.
        rows: list of dicts, one per N, with keys "n" (training-set size) and
            "images": four images (H, W, C) in the column order of `titles`.
            Optional "similarity": a number printed under the samples.
        titles: column titles.
    """
    if not rows:
        raise ValueError("fig1_layout needs at least one row.")
    fig, axes = _subplots(len(rows), 4, figsize=(6.4, 1.7 * len(rows) + 0.4), squeeze=False)
    for r, row in enumerate(rows):
        if len(row["images"]) != 4:
            raise ValueError(f"Each row needs 4 images; row {r} has {len(row['images'])}.")
        for c, image in enumerate(row["images"]):
            _show(axes[r, c], image)
            if r == 0:
                axes[r, c].set_title(titles[c], fontsize=8)
        axes[r, 0].set_ylabel(f"N = {row['n']:,}", fontsize=9)
        if "similarity" in row:
            axes[r, 2].set_xlabel(f"cos = {row['similarity']:.3f}", fontsize=7)
    return _save(fig, path)


def fig2_layout(path, analysis, num_vectors=12, indices=None):
    """Fig 2 layout: clean / noisy / denoised, the spectrum lambda_k with |<x, e_k>|, eigenvectors.

    Args:
        path: output PNG.
        analysis: an `EigenAnalysis` (or any object with clean, noisy, denoised,
            eigenvalues, coefficients, eigenvector_images, sigma).
        num_vectors: eigenvectors shown. Default 12.
        indices: which eigenvectors (default: spread over the top ~ tr J).
    """
    values = np.asarray(analysis.eigenvalues)
    if indices is None:
        top = int(np.clip(round(np.sum(np.clip(values, 0, None))) * 1.5, num_vectors, len(values)))
        indices = np.unique(np.round(np.geomspace(1, top, num_vectors)).astype(int) - 1)
    indices = np.asarray(indices, int)
    cols = max(3, int(np.ceil(len(indices) / 2)))
    fig = new_figure(figsize=(1.3 * max(cols, 6), 6.2))
    grid = fig.add_gridspec(4, max(cols, 6), height_ratios=[1.2, 1.3, 1, 1], hspace=0.75)
    sigma = "" if analysis.sigma is None else f" (sigma = {analysis.sigma:g})"
    for c, (image, title) in enumerate(zip(
        (analysis.clean, analysis.noisy, analysis.denoised), ("clean x", f"noisy y{sigma}", "denoised f(y)")
    )):
        ax = fig.add_subplot(grid[0, 2 * c : 2 * c + 2] if max(cols, 6) >= 6 else grid[0, c])
        _show(ax, image)
        ax.set_title(title, fontsize=8)
    ax = fig.add_subplot(grid[1, :])
    k = np.arange(len(values))
    ax.plot(k, values, color="C0", lw=1.2, label=r"$\lambda_k$")
    ax.plot(k, np.abs(analysis.coefficients), color="C1", lw=0.6, alpha=0.8,
            label=r"$|\langle x, e_k\rangle|$")
    ax.set_xscale("symlog", linthresh=10)
    ax.set_yscale("symlog", linthresh=1e-2)
    ax.set_xlabel("k", fontsize=8)
    ax.legend(fontsize=7, frameon=False)
    ax.tick_params(labelsize=7)
    ax.set_title(f"spectrum of sym J(y), tr J = {np.sum(values):.1f}", fontsize=8)
    vectors = analysis.eigenvector_images(indices)
    for i, (index, vector) in enumerate(zip(indices, vectors)):
        ax = fig.add_subplot(grid[2 + i // cols, i % cols])
        _show(ax, vector, symmetric=True)
        ax.set_title(rf"$\lambda_{{{index}}}$ = {values[index]:.3f}", fontsize=7)
    return _save(fig, path)


def psnr_curves_figure(path, curves, title="Denoising performance"):
    """Output PSNR vs input PSNR, train (solid) and test (dashed), one colour per N.

    Args:
        path: output PNG.
        curves: {N: {"train": psnr_curve result, "test": psnr_curve result}}
            (either key may be missing). Numeric keys are labelled "N=<key>",
            other keys (model names) as they are.
    """
    fig, ax = _subplots(figsize=(4.2, 3.4))
    low, high = np.inf, -np.inf
    for i, (n, pair) in enumerate(_ordered(curves)):
        name = f"N={n}" if _is_number(n) else str(n)
        for split, style in (("train", "-"), ("test", "--")):
            if split in pair:
                x, y = np.asarray(pair[split]["input_psnr"]), np.asarray(pair[split]["output_psnr"])
                ax.plot(x, y, style, color=f"C{i}", marker="o", ms=2.5,
                        label=f"{name} {split}" if split == "train" or "train" not in pair else None)
                low, high = min(low, x.min()), max(high, x.max())
    if np.isfinite(low):
        ax.plot([low, high], [low, high], ":", color="gray", lw=0.8, label="identity")
    ax.set_xlabel("input PSNR (dB)")
    ax.set_ylabel("output PSNR (dB)")
    ax.set_title(title + " (solid: train, dashed: test)", fontsize=8)
    ax.legend(fontsize=6, frameon=False)
    return _save(fig, path)


def train_test_gap_figure(path, gaps):
    """Train-test PSNR gap vs N (Fig 15), one line per image size or noise level.

    Args:
        gaps: {label: {N: gap_db}}.
    """
    fig, ax = _subplots(figsize=(4.0, 3.0))
    for label, series in gaps.items():
        ns = sorted(series, key=float)
        ax.plot([float(n) for n in ns], [series[n] for n in ns], marker="o", label=str(label))
    ax.set_xscale("log")
    ax.set_xlabel("training set size N")
    ax.set_ylabel("train - test PSNR (dB)")
    ax.legend(fontsize=7, frameon=False)
    return _save(fig, path)


def mse_slope_figure(path, sigmas, curves, fits=None, optimal=None, references=None,
                     reference_label="oracle"):
    """log MSE vs log sigma^2 with fitted lines and slopes (and an optional optimal curve).

    Args:
        sigmas: (m,) noise levels.
        curves: {label: (m,) mean MSE per sigma}.
        fits: optional {label: `mse_slope` result} drawn as lines.
        optimal: optional (m,) optimal MSE (dashed black).
        references: optional {label of `curves`: (m,) reference MSE}, drawn dashed in that
            curve's colour (e.g. the oracle DCT risk of the same images).
        reference_label: legend text of the dashed references. Default "oracle".
    """
    sigmas = np.asarray(sigmas, float)
    fig, ax = _subplots(figsize=(4.2, 3.4))
    for i, (label, mse) in enumerate(curves.items()):
        text = str(label)
        if fits and label in fits:
            fit = fits[label]
            grid = np.linspace(fit["sigma_min"], fit["sigma_max"], 50)
            ax.plot(grid**2, np.exp(fit["intercept"]) * grid ** (2 * fit["slope"]), "-",
                    color=f"C{i}", lw=0.8, alpha=0.7)
            text += f": slope {fit['slope']:.2f} [{fit['ci_low']:.2f}, {fit['ci_high']:.2f}]"
        ax.plot(sigmas**2, np.asarray(mse), "o", color=f"C{i}", ms=3, label=text)
        if references and label in references:
            ax.plot(sigmas**2, np.asarray(references[label]), "--", color=f"C{i}", lw=0.8,
                    label=reference_label if i == 0 else None)
    if optimal is not None:
        ax.plot(sigmas**2, np.asarray(optimal), "k--", lw=1, label="optimal")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"$\sigma^2$")
    ax.set_ylabel("MSE per pixel")
    ax.legend(fontsize=6, frameon=False)
    return _save(fig, path)


def similarity_histograms(path, groups, bins=30, xlabel="cosine similarity"):
    """Histograms of similarities per N (one panel per N, several series per panel).

    Args:
        groups: {N: {series label: (n,) similarities}}, e.g. {"S1 vs S2 samples": ...,
            "sample vs closest train": ...}.
    """
    if not groups:
        raise ValueError("similarity_histograms needs at least one group.")
    fig, axes = _subplots(1, len(groups), figsize=(2.6 * len(groups), 2.4), squeeze=False,
                             sharex=True)
    for ax, (n, series) in zip(axes[0], _ordered(groups)):
        for i, (label, values) in enumerate(series.items()):
            values = np.asarray(values, float)
            ax.hist(values, bins=np.linspace(min(0.0, values.min()), 1.0, bins + 1), alpha=0.6,
                    color=f"C{i}", label=label, density=True)
        ax.set_title(f"N = {n}", fontsize=8)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0, 0].legend(fontsize=6, frameon=False)
    return _save(fig, path)


def _is_number(key):
    try:
        float(key)
    except (TypeError, ValueError):
        return False
    return True


def new_figure(figsize):
    """A matplotlib `Figure` drawn by the Agg canvas, without pyplot.

    The user's matplotlib backend (e.g. a notebook's inline backend) and pyplot's
    list of open figures are left alone; the figure is freed with its last reference.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize)
    FigureCanvasAgg(figure)
    return figure


def _subplots(nrows=1, ncols=1, figsize=None, **kwargs):
    figure = new_figure(figsize)
    return figure, figure.subplots(nrows, ncols, **kwargs)


def _ordered(mapping):
    """Items sorted by numeric key (N) when all keys are numbers, else in insertion order."""
    try:
        return sorted(mapping.items(), key=lambda item: float(item[0]))
    except (TypeError, ValueError):
        return list(mapping.items())


def _show(ax, image, symmetric=False):
    image = np.asarray(image, float)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    # Nearest neighbour: a 16x16 image drawn on hundreds of screen pixels keeps square pixels.
    if symmetric:
        scale = np.abs(image).max() or 1.0
        ax.imshow(image, cmap="RdBu_r" if image.ndim == 2 else None, vmin=-scale, vmax=scale,
                  interpolation="nearest")
    elif image.ndim == 2:
        ax.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        ax.imshow(np.clip(image, 0, 1), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def _save(fig, path):
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=_DPI, bbox_inches="tight")
    return path
