"""Memorization over training time: samples, memorization ratio and train/test loss every k steps."""

import contextlib
import warnings

import keras
import numpy as np

from keras_gahb.analysis.measures import memorization_ratio
from keras_gahb.data.noise import sample_sigmas
from keras_gahb.sampling.sampler import sample
from keras_gahb.training.recipe import ema_weights


class MemorizationCallback(keras.callbacks.Callback):
    """Every `every` optimizer steps: draw samples with a fixed seed and measure memorization.

    Each evaluation (inference mode, EMA weights if the optimizer keeps them)
    records in `records`, and adds to the logs of the epoch it falls in:

    - `memorization_ratio`: share of `num_samples` samples (sampler seed fixed,
      so the same starting noise every time) whose nearest training image is
      less than 1/3 of the distance to the second nearest (Gu et al. 2023);
    - `median_distance_ratio`: the median over samples of d1 / d2 (a continuous
      measure: about 1 for new images, 0 for copies);
    - `train_loss`, `test_loss`: denoising MSE on `num_loss_images` fixed noisy
      copies of the training images and of the test images (each set tiled to
      that many), with the *same* noise levels ("quadratic" in [0, sigma_max],
      as in training) and the same noise for both, so that their difference is
      due to the images alone, whatever N;
    - `loss_gap`: test_loss - train_loss.

    With `stop_threshold`, training stops after the first evaluation whose
    memorization ratio exceeds it (tau_mem is then known; the rest would only
    cost time).

    `keras_gahb.training.memorization_times(callback.records)` turns the
    records into tau_gen and tau_mem.

    Args:
        train_images: the training set (N, H, W, C) (the memorization reference).
        test_images: held-out images (m, H, W, C).
        every: evaluate every this many optimizer steps. Default 100.
        num_samples: samples per evaluation. Default 8.
        seed: seed of the samples and of the fixed noise. Default 0.
        num_loss_images: noisy copies per set for the losses. Default 64.
        sigma_max: largest noise level of the loss. Default 1.0.
        threshold: memorization threshold d1 / d2. Default 1/3.
        scale_invariant: compare samples with rays of training images
            (see `memorization_ratio`). Default False.
        sampler_options: dict passed to `keras_gahb.sampling.sample`. Default
            {"h0": 0.1, "beta": 0.5, "sigma_final": 0.02, "max_steps": 200}
            (short runs: the ratio is a relative measure over training time).
        use_ema: evaluate the optimizer's moving-average weights. Default True.
        stop_threshold: stop training once the memorization ratio exceeds this
            (e.g. 0.5). Default None (never).

    Example:

    >>> cb = keras_gahb.training.MemorizationCallback(train, test, every=50)
    >>> model.fit(pairs, epochs=20, callbacks=[cb])
    >>> keras_gahb.training.memorization_times(cb.records)

    Reference: Bonnaire, Urfin, Biroli, Mezard (2025), "Why diffusion models don't
    memorize: the role of implicit dynamical regularization in training",
    https://arxiv.org/abs/2505.17638 ; Gu et al. (2023), https://arxiv.org/abs/2310.02664.
    """

    def __init__(self, train_images, test_images, every=100, num_samples=8, seed=0,
                 num_loss_images=64, sigma_max=1.0, threshold=1.0 / 3.0, scale_invariant=False,
                 sampler_options=None, use_ema=True, stop_threshold=None):
        super().__init__()
        self.train_images = _images(train_images, "train_images")
        self.test_images = _images(test_images, "test_images")
        if len(self.train_images) < 2:
            raise ValueError("MemorizationCallback needs at least 2 training images.")
        if self.train_images.shape[1:] != self.test_images.shape[1:]:
            raise ValueError(f"Train and test images differ in shape: {self.train_images.shape[1:]} "
                             f"vs {self.test_images.shape[1:]}.")
        self.every = int(every)
        self.num_samples = int(num_samples)
        if self.every < 1 or self.num_samples < 1:
            raise ValueError("every and num_samples must be >= 1.")
        self.seed = int(seed)
        self.threshold = float(threshold)
        self.scale_invariant = bool(scale_invariant)
        self.use_ema = bool(use_ema)
        self.stop_threshold = None if stop_threshold is None else float(stop_threshold)
        self.sampler_options = {"h0": 0.1, "beta": 0.5, "sigma_final": 0.02, "max_steps": 200}
        self.sampler_options.update(sampler_options or {})
        count = int(num_loss_images)
        if count < 1:
            raise ValueError(f"num_loss_images must be >= 1; got {num_loss_images}.")
        sigmas = sample_sigmas(count, "quadratic", sigma_max=sigma_max, seed=self.seed).reshape(-1, 1, 1, 1)
        noise = np.random.default_rng([self.seed, 0]).standard_normal(
            (count,) + self.train_images.shape[1:]).astype(np.float32)
        self.loss_sets = {}
        for name, images in (("train", self.train_images), ("test", self.test_images)):
            clean = images[np.arange(count) % len(images)]
            self.loss_sets[name] = (clean, clean + sigmas * noise)
        self.records = []
        self.step = 0
        self._pending = {}

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step % self.every == 0:
            self._pending = self.evaluate(self.model)
            if self.stop_threshold is not None and self._pending["memorization_ratio"] > self.stop_threshold:
                self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self._pending:
            logs.update({k: v for k, v in self._pending.items() if k != "step"})
        self._pending = {}

    def evaluate(self, model):
        """One evaluation at the current weights; appended to `records` and returned."""
        context = ema_weights(model) if self.use_ema else contextlib.nullcontext(model)
        with context:
            losses = {}
            for name, (clean, noisy) in self.loss_sets.items():
                out = model.predict(noisy, batch_size=64, verbose=0)
                losses[name] = float(np.mean((out - clean) ** 2))
            shape = (self.num_samples,) + self.train_images.shape[1:]
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # diverged samples are recorded
                result = sample(model, shape, seed=self.seed, **self.sampler_options)
        images = np.nan_to_num(result.images, nan=0.0, posinf=0.0, neginf=0.0)
        memo = memorization_ratio(images, self.train_images, threshold=self.threshold,
                                  scale_invariant=self.scale_invariant)
        record = {"step": self.step, "memorization_ratio": memo["ratio"],
                  "median_distance_ratio": float(np.median(memo["distance_ratios"])),
                  "train_loss": losses["train"], "test_loss": losses["test"],
                  "loss_gap": losses["test"] - losses["train"],
                  "diverged": float(np.mean(result.diverged))}
        self.records.append(record)
        return record


def _images(images, name):
    images = np.asarray(images, np.float32)
    if images.ndim != 4 or len(images) == 0 or not np.all(np.isfinite(images)):
        raise ValueError(f"{name} must be a finite, non-empty batch (n, H, W, C); got shape {images.shape}.")
    return images
