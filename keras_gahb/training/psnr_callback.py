"""Output PSNR against noise level on a fixed train subset and the test set (Fig 1's data)."""

import contextlib
import numbers
import warnings

import keras
import numpy as np

from keras_gahb import metrics
from keras_gahb.backend import local_predictor
from keras_gahb.training.recipe import ema_weights


def psnr_per_image(estimate, clean):
    """10 log10(1 / MSE_i) for each image i (peak 1; MSE over the pixels of one image).

    The same function as `keras_gahb.metrics.psnr` (capped at 100 dB).
    """
    return metrics.psnr(estimate, clean)


def sigma_key(sigma):
    """The name part of a noise level in logged keys, e.g. 0.1 -> "s0.1"."""
    return f"s{sigma:g}"


class PSNRCallback(keras.callbacks.Callback):
    """Log the denoiser's PSNR at fixed noise levels on train and test images.

    For each set (a fixed subset of the training images, the test set) and
    each sigma in `sigmas`, the noisy images y = x + sigma z are drawn ONCE
    (`keras_gahb.metrics.noisy_versions`: one z per set for all sigmas, seed
    fixed, identical at every evaluation); at the end of every
    `every`-th epoch the model denoises them (inference mode, with the EMA
    weights if the optimizer keeps them) and the callback adds to the epoch
    logs (hence History, CSV and TensorBoard):

    - `train_psnr_s{sigma}`, `test_psnr_s{sigma}`: mean over images of the
      per-image PSNR 10 log10(1 / MSE_i) of the denoised image, in dB
      (`keras_gahb.metrics.mean_psnr`; with the same images and seed,
      `keras_gahb.analysis.psnr_curve` gives the same numbers);
    - `train_psnr_mean`, `test_psnr_mean`: their mean over sigmas;
    - `train_input_psnr_s{sigma}`, `test_input_psnr_s{sigma}`: the PSNR of
      the noisy input itself (what the identity map scores), logged beside
      the output's so that a denoiser worse than doing nothing shows.

    At the end of `fit`, if the last evaluation is worse than the identity
    (output PSNR below the noisy input's) at every evaluated sigma of every
    set, a one-line `UserWarning` says so: the model has not learned to
    denoise (too short a training, a learning rate too high or too low, a
    bug in the data). The input PSNR is also in `input_psnr`; the last curves
    in `curves` (a dict) and every evaluation in `records`.

    Args:
        train_images: float array (n, H, W, C) in [0, 1], or None.
        test_images: float array (m, H, W, C) in [0, 1], or None.
        sigmas: list of noise levels.
        seed: int, seed of the evaluation noise. Defaults to 0.
        batch_size: images per `predict` batch. Defaults to 64.
        every: evaluate every this many epochs (and on the last epoch of fit). Defaults to 1.
        use_ema: evaluate the optimizer's moving-average weights when it has
            them. Defaults to True.

    Example:

    >>> callback = keras_gahb.training.PSNRCallback(x[:8], x_test, [0.05, 0.1, 0.2])
    >>> history = model.fit(pairs, epochs=3, callbacks=[callback])
    >>> history.history["test_psnr_s0.1"]

    Reference:
        Kadkhodaie et al., ICLR 2024, Fig 1, https://arxiv.org/abs/2310.02557
    """

    def __init__(self, train_images, test_images, sigmas, seed=0, batch_size=64, every=1,
                 use_ema=True):
        super().__init__()
        self.sigmas = [float(s) for s in sigmas]
        if not self.sigmas or any(not np.isfinite(s) or s <= 0 for s in self.sigmas):
            raise ValueError(f"sigmas must be positive finite numbers, got {sigmas!r}.")
        if not isinstance(seed, numbers.Integral):
            raise ValueError(f"seed must be an int, got {seed!r}.")
        self.seed = int(seed)
        self.batch_size = int(batch_size)
        self.every = int(every)
        self.use_ema = bool(use_ema)
        self.sets = {}
        for name, images in (("train", train_images), ("test", test_images)):
            if images is None:
                continue
            clean = np.asarray(images, dtype=np.float32)
            if clean.ndim != 4 or len(clean) == 0:
                raise ValueError(
                    f"{name}_images must have shape (n, H, W, C) with n >= 1, got {clean.shape}."
                )
            self.sets[name] = (clean, metrics.noisy_versions(clean, self.sigmas, self.seed))
        if not self.sets:
            raise ValueError("Give train_images, test_images or both.")
        self.input_psnr = {
            name: [metrics.mean_psnr(y, clean) for y in noisy]
            for name, (clean, noisy) in self.sets.items()
        }
        self.curves = None
        self.records = []
        self._records_before_fit = 0
        self._epochs = None
        self._predict = None

    def on_train_begin(self, logs=None):
        self._epochs = self.params.get("epochs") if self.params else None
        self._records_before_fit = len(self.records)

    def on_train_end(self, logs=None):
        if len(self.records) <= self._records_before_fit:
            return  # no evaluation in this fit
        message = self.worse_than_identity(self.records[-1])
        if message:
            warnings.warn(message, UserWarning, stacklevel=2)

    def on_epoch_end(self, epoch, logs=None):
        last = self._epochs is not None and epoch + 1 == self._epochs
        if (epoch + 1) % self.every and not last:
            return
        curves = self.evaluate(self.model)
        if logs is not None:
            logs.update(self.to_logs(curves))
        self.records.append({"epoch": epoch + 1, **curves})

    def evaluate(self, model):
        """Denoise the fixed noisy sets with `model`; returns {set: [mean PSNR per sigma]}."""
        context = ema_weights(model) if self.use_ema else contextlib.nullcontext(model)
        curves = {"sigmas": list(self.sigmas)}
        with context:
            for name, (clean, noisy) in self.sets.items():
                curves[name] = [metrics.mean_psnr(self._denoise(model, y), clean) for y in noisy]
        self.curves = curves
        return curves

    def to_logs(self, curves):
        """The flat {key: value} log entries of one evaluation (output and input PSNR)."""
        logs = {}
        for name in self.sets:
            for sigma, value in zip(self.sigmas, curves[name]):
                logs[f"{name}_psnr_{sigma_key(sigma)}"] = value
            logs[f"{name}_psnr_mean"] = float(np.mean(curves[name]))
            for sigma, value in zip(self.sigmas, self.input_psnr[name]):
                logs[f"{name}_input_psnr_{sigma_key(sigma)}"] = value
        return logs

    def worse_than_identity(self, curves):
        """A one-line message if `curves` are below the input PSNR at every sigma of every set, else None.

        `curves`: an evaluation ({set: [PSNR per sigma]}, e.g. `evaluate(model)` or a record).
        """
        gains = {name: [out - inp for out, inp in zip(curves[name], self.input_psnr[name])]
                 for name in self.sets}
        if not all(gain < 0 for values in gains.values() for gain in values):
            return None
        name = "test" if "test" in gains else next(iter(gains))
        worst = ", ".join(
            f"{out:.1f} < {inp:.1f} dB at sigma {sigma:g}"
            for sigma, out, inp in zip(self.sigmas, curves[name], self.input_psnr[name]))
        return (f"The denoiser is worse than the identity (returning the noisy input) at every "
                f"evaluated sigma: {name} PSNR {worst}. It has not learned to denoise yet: "
                "train longer, or check the learning rate and the data.")

    def _denoise(self, model, noisy):
        # model.predict, but computed by each process alone in a multi-process JAX run.
        if self._predict is None or self._predict[0] is not model:
            self._predict = (model, local_predictor(model))
        return self._predict[1](noisy, batch_size=min(self.batch_size, len(noisy)))

