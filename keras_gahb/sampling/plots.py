"""Figures written by `gahb sample`: image grids and sigma_t trajectories (matplotlib, no pyplot)."""

import numpy as np

from keras_gahb.utils import atomic_path, image_grid
from keras_gahb.utils.images import MIN_TILE


def _figure(figsize):
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # matplotlib only when drawing
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize)
    FigureCanvasAgg(figure)
    return figure


def save_comparison_grid(path, images_a, images_b, titles=("model 1", "model 2"), ncols=None,
                         min_tile=MIN_TILE):
    """Two grids side by side: the same position holds samples drawn with the same noise.

    Each image is enlarged by nearest neighbour to at least `min_tile` pixels a side
    (default 64) and drawn one grid pixel per PNG pixel, under its title (e.g. the
    run folder, `keras_gahb.models.model_title`).
    """
    grids = [image_grid(images, ncols or min(len(images), 8), min_tile=min_tile)
             for images in (images_a, images_b)]
    dpi, margin, gap, title_height = 100, 8, 24, 30
    width = 2 * margin + gap + sum(grid.shape[1] for grid in grids)
    height = title_height + margin + max(grid.shape[0] for grid in grids)
    figure = _figure((width / dpi, height / dpi))
    left = margin
    for grid, title in zip(grids, titles):
        rows, cols = grid.shape[:2]
        axis = figure.add_axes([left / width, (height - title_height - rows) / height,
                                cols / width, rows / height])
        if grid.shape[-1] == 1:
            axis.imshow(grid[..., 0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        else:
            axis.imshow(grid[..., :3], interpolation="nearest")
        axis.set_title(title, fontsize=9)
        axis.axis("off")
        left += cols + gap
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=dpi)


def plot_sigma_trajectories(path, sigmas, sigma_final=None, title="Sampler noise level"):
    """Plot each image's sigma_t against t (log scale) and write a PNG atomically."""
    figure = _figure((5.5, 3.8))
    axis = figure.add_subplot(1, 1, 1)
    for trajectory in sigmas:
        axis.plot(np.arange(1, len(trajectory) + 1), trajectory, lw=0.8, alpha=0.7)
    if sigma_final is not None:
        axis.axhline(sigma_final, color="k", ls="--", lw=0.8, label=f"sigma_final = {sigma_final:g}")
        axis.legend(fontsize=8)
    axis.set_yscale("log")
    axis.set_xlabel("iteration t")
    axis.set_ylabel(r"$\sigma_t = \|d_t\| / \sqrt{D}$")
    axis.set_title(title, fontsize=10)
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=120)
