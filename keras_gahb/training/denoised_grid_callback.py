"""A callback that writes a grid of clean / noisy / denoised examples every few epochs."""

import contextlib
import os

import keras
import numpy as np

from keras_gahb.backend import local_predictor
from keras_gahb.data import add_noise
from keras_gahb.training.plots import image_grid, save_image
from keras_gahb.training.recipe import ema_weights
from keras_gahb.utils.images import MIN_TILE


class DenoisedGridCallback(keras.callbacks.Callback):
    """Write a PNG grid (rows: clean, noisy, denoised) of fixed examples; optionally to TensorBoard.

    The noise y = x + sigma z is drawn once from `seed`, so grids of
    different epochs show the same inputs. The PNG at `path` is replaced
    atomically at each write; with `log_dir`, the grid is also logged as a
    TensorBoard image (tag "denoised_grid", step = epoch number).

    Args:
        images: float array (n, H, W, C) in [0, 1] (a few images, e.g. 8).
        path: PNG file to write, or None to write nothing (a non-chief worker).
            Defaults to "denoised_grid.png".
        sigma: noise level. Defaults to 0.2.
        seed: int. Defaults to 0.
        every: write every this many epochs (and on the last). Defaults to 1.
        log_dir: optional TensorBoard log folder (needs TensorFlow installed).
            Defaults to None.
        use_ema: use the optimizer's moving-average weights when it has them.
            Defaults to True.

    Example:

    >>> grid = keras_gahb.training.DenoisedGridCallback(x_test[:8], "grid.png", sigma=0.2)
    >>> model.fit(pairs, epochs=3, callbacks=[grid])
    """

    def __init__(self, images, path="denoised_grid.png", sigma=0.2, seed=0, every=1,
                 log_dir=None, use_ema=True):
        super().__init__()
        self.clean = np.asarray(images, dtype=np.float32)
        if self.clean.ndim != 4 or len(self.clean) == 0:
            raise ValueError(f"images must have shape (n, H, W, C), got {self.clean.shape}.")
        self.path = None if path is None else os.fspath(path)
        self.sigma = float(sigma)
        self.noisy = add_noise(self.clean, self.sigma, seed=np.random.default_rng([seed, 7]))
        self.every = int(every)
        self.log_dir = log_dir
        self.use_ema = bool(use_ema)
        self._epochs = None
        self._writer = None

    def on_train_begin(self, logs=None):
        self._epochs = self.params.get("epochs") if self.params else None

    def on_epoch_end(self, epoch, logs=None):
        last = self._epochs is not None and epoch + 1 == self._epochs
        if (epoch + 1) % self.every and not last:
            return
        grid = self.make_grid(self.model)
        if self.path is not None:
            save_image(self.path, grid)
        if self.log_dir is not None:
            self._log_image(grid, epoch + 1)

    def make_grid(self, model):
        """The grid image of clean, noisy and denoised rows (3 rows of n images).

        Each image is enlarged by nearest neighbour to at least 64 pixels a side
        (`keras_gahb.utils.MIN_TILE`), so a 16x16 grid is readable on a screen.
        """
        context = ema_weights(model) if self.use_ema else contextlib.nullcontext(model)
        with context:
            denoised = local_predictor(model)(self.noisy, batch_size=len(self.noisy))
        return image_grid([self.clean, self.noisy, denoised], min_tile=MIN_TILE)

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _log_image(self, grid, step):
        import tensorflow as tf  # TensorBoard's summary writer

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "images"))
        with self._writer.as_default():
            tf.summary.image("denoised_grid", grid[None], step=step)
        self._writer.flush()
