"""Figures of a training run: image grids and PSNR curves (matplotlib, written atomically)."""

import numpy as np

from keras_gahb.utils import atomic_path


def image_grid(rows, pad=1):
    """Tile a list of equally shaped batches (n, H, W, C) into one (rows*H, n*W, C) image.

    Values are clipped to [0, 1]; `pad` pixels of white separate the tiles.
    """
    rows = [np.clip(np.asarray(r, dtype=np.float32), 0.0, 1.0) for r in rows]
    n, h, w, c = rows[0].shape
    grid = np.ones((len(rows) * (h + pad) - pad, n * (w + pad) - pad, c), np.float32)
    for i, row in enumerate(rows):
        for j, image in enumerate(row):
            top, left = i * (h + pad), j * (w + pad)
            grid[top:top + h, left:left + w] = image
    return grid


def save_image(path, image):
    """Write an (H, W, C) image in [0, 1] (C = 1 or 3) as PNG, atomically."""
    import matplotlib.image

    image = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    with atomic_path(path) as tmp:
        if image.shape[-1] == 1:
            matplotlib.image.imsave(tmp, image[..., 0], cmap="gray", vmin=0.0, vmax=1.0,
                                    format="png")
        else:
            matplotlib.image.imsave(tmp, image, format="png")


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
