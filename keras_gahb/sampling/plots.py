"""Figures written by `gahb sample`: image grids and sigma_t trajectories (matplotlib, no pyplot)."""

import matplotlib.image
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from keras_gahb.utils import atomic_path


def image_grid(images, ncols=None, pad=1, pad_value=1.0):
    """Tile a batch (N, H, W, C) into one (rows*(H+pad)-pad, cols*(W+pad)-pad, C) image in [0, 1].

    Example:

    >>> keras_gahb.sampling.plots.image_grid(np.zeros((6, 8, 8, 1)), ncols=3).shape
    (17, 26, 1)
    """
    images = np.clip(np.nan_to_num(np.asarray(images, np.float32)), 0.0, 1.0)
    if images.ndim != 4:
        raise ValueError(f"Expected a batch of images (N, H, W, C), got shape {images.shape}.")
    n, height, width, channels = images.shape
    ncols = int(ncols or min(n, 8))
    nrows = -(-n // ncols)
    grid = np.full(
        (nrows * (height + pad) - pad, ncols * (width + pad) - pad, channels), pad_value, np.float32
    )
    for k in range(n):
        r, c = divmod(k, ncols)
        grid[r * (height + pad) : r * (height + pad) + height,
             c * (width + pad) : c * (width + pad) + width] = images[k]
    return grid


def save_image_grid(path, images, ncols=None):
    """Write a PNG of `image_grid(images, ncols)` atomically (grayscale or RGB)."""
    grid = image_grid(images, ncols)
    with atomic_path(path) as tmp:
        if grid.shape[-1] == 1:
            matplotlib.image.imsave(tmp, grid[..., 0], cmap="gray", vmin=0.0, vmax=1.0, format="png")
        else:
            matplotlib.image.imsave(tmp, grid[..., :3], format="png")


def save_comparison_grid(path, images_a, images_b, titles=("model 1", "model 2"), ncols=None):
    """Two grids side by side: the same position holds samples drawn with the same noise."""
    figure = Figure(figsize=(10, 5.4))
    FigureCanvasAgg(figure)
    for k, (images, title) in enumerate(((images_a, titles[0]), (images_b, titles[1]))):
        axis = figure.add_subplot(1, 2, k + 1)
        grid = image_grid(images, ncols)
        if grid.shape[-1] == 1:
            axis.imshow(grid[..., 0], cmap="gray", vmin=0.0, vmax=1.0)
        else:
            axis.imshow(grid[..., :3])
        axis.set_title(title, fontsize=9)
        axis.axis("off")
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=120)


def plot_sigma_trajectories(path, sigmas, sigma_final=None, title="Sampler noise level"):
    """Plot each image's sigma_t against t (log scale) and write a PNG atomically."""
    figure = Figure(figsize=(5.5, 3.8))
    FigureCanvasAgg(figure)
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
