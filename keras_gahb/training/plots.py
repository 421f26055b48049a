"""Figures of a training run: image grids and PSNR curves (matplotlib, written atomically)."""

import numpy as np

from keras_gahb import utils
from keras_gahb.utils import atomic_path, save_image  # noqa: F401  (save_image: the one PNG writer)


def image_grid(rows, pad=1, min_tile=None):
    """Tile a list of equally shaped batches (n, H, W, C) into one (rows*h, n*w, C) image.

    Values are clipped to [0, 1]; `pad` pixels of white separate the tiles
    (`keras_gahb.utils.image_grid` with one row per batch); with `min_tile`
    each image is enlarged by nearest neighbour to at least that many pixels a side.
    """
    return utils.image_grid(np.concatenate(rows), columns=len(rows[0]), padding=pad,
                            min_tile=min_tile)


def plot_psnr_curves(path, sigmas, input_psnr, output_psnr, title=None):
    """Output PSNR against input PSNR for each set (the layout of the paper's Fig 1).

    Args:
        path: PNG path.
        sigmas: noise levels.
        input_psnr: {set name: [input PSNR per sigma]}.
        output_psnr: {set name: [output PSNR per sigma]}.
        title: optional title.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.5, 4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    low, high = np.inf, -np.inf
    for name, values in output_psnr.items():
        x = np.asarray(input_psnr[name])
        ax.plot(x, values, "o-", label=name)
        low, high = min(low, x.min(), np.min(values)), max(high, x.max(), np.max(values))
    ax.plot([low, high], [low, high], "k--", lw=0.8, label="identity")
    for sigma, x in zip(sigmas, next(iter(input_psnr.values()))):
        ax.annotate(f"{sigma:g}", (x, low), fontsize=6, ha="center", va="bottom")
    ax.set_xlabel("input PSNR (dB)")
    ax.set_ylabel("output PSNR (dB)")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
