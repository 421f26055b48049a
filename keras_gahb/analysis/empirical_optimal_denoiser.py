"""The optimal denoiser of a finite training set: what a perfectly memorizing model computes."""

import keras
import numpy as np


class EmpiricalOptimalDenoiser:
    """Posterior mean E[x | y] when x is drawn uniformly from N training images.

        f(y) = sum_i w_i(y) x_i,   w = softmax_i(-||y - x_i||^2 / (2 sigma^2)),

    computed with a log-sum-exp-stable softmax in keras.ops (`scaled_softmax`), so it runs (and
    is differentiable) on every backend and can be passed anywhere a denoiser
    is expected. Its Jacobian is Cov_w[x] / sigma^2 for a fixed sigma. When
    `sigma` is None it is estimated per image from the nearest training image,
    sigma^2 = min_i ||y - x_i||^2 / D, which is the blind-denoiser case (the
    estimate is close when y is a noisy training image).

    Memory: the training set is held as one (N, D) float32 tensor and each
    call forms a (batch, N) matrix.

    Args:
        train_images: (N, H, W, C) training images.
        sigma: optional noise level (float). Default None (estimated per image).

    Example:

    >>> train = np.random.default_rng(0).random((10, 8, 8, 1), dtype="float32")
    >>> f = keras_gahb.analysis.EmpiricalOptimalDenoiser(train, sigma=0.1)
    >>> f(train[:2] + 0.1 * np.random.default_rng(1).standard_normal((2, 8, 8, 1))).shape
    (2, 8, 8, 1)

    Reference: Kadkhodaie et al. (2024), https://arxiv.org/abs/2310.02557 (Sec. 2).
    """

    def __init__(self, train_images, sigma=None):
        train = np.asarray(train_images, np.float32)
        if train.ndim != 4 or len(train) == 0:
            raise ValueError(f"train_images must be a non-empty batch (N, H, W, C); got shape {train.shape}.")
        if not np.all(np.isfinite(train)):
            raise ValueError("train_images contain non-finite values.")
        if sigma is not None and not (np.isfinite(sigma) and sigma > 0):
            raise ValueError(f"sigma must be a positive number or None; got {sigma}.")
        self.image_shape = train.shape[1:]
        self.sigma = None if sigma is None else float(sigma)
        flat = train.reshape(len(train), -1)
        self._train = keras.ops.convert_to_tensor(flat)
        self._half_norms = keras.ops.convert_to_tensor(0.5 * np.sum(flat.astype(np.float64) ** 2, axis=1)
                                                       .astype(np.float32))

    @property
    def num_images(self):
        return int(self._train.shape[0])

    def __call__(self, y):
        ops = keras.ops
        shape = ops.shape(y)
        if tuple(shape[1:]) != tuple(self.image_shape):
            raise ValueError(
                f"Expected images of shape (batch, {', '.join(map(str, self.image_shape))}); got {tuple(shape)}."
            )
        flat = ops.reshape(ops.cast(y, "float32"), (shape[0], -1))
        return ops.reshape(ops.matmul(self._weights(flat), self._train), shape)

    def weights(self, y):
        """The posterior weights w_i(y), numpy (batch, N)."""
        y = np.asarray(y, np.float32)
        flat = keras.ops.convert_to_tensor(y.reshape(len(y), -1))
        return np.asarray(keras.ops.convert_to_numpy(self._weights(flat)))

    def _weights(self, flat):
        ops = keras.ops
        # -||y - x_i||^2 / 2 up to the per-row constant -||y||^2 / 2 (softmax-invariant).
        scores = ops.matmul(flat, ops.transpose(self._train)) - self._half_norms[None, :]
        if self.sigma is None:
            dim = float(np.prod(self.image_shape))
            half_y = 0.5 * ops.sum(flat * flat, axis=1, keepdims=True)
            min_sq = ops.maximum(2.0 * (half_y - ops.max(scores, axis=1, keepdims=True)), 1e-12)
            sigma2 = ops.stop_gradient(min_sq / dim)
        else:
            sigma2 = self.sigma**2
        return scaled_softmax(scores, 1.0 / sigma2, axis=1)


def scaled_softmax(scores, scale, axis=-1):
    """softmax(scale * scores) along `axis`, shifting the scores by their maximum before scaling.

    At small noise levels the logits scale * scores reach 1e15 (the blind
    sigma estimate of a near-clean image). A compiler (XLA) may evaluate
    the logits twice, once for the softmax's maximum and once for its
    exponentials, with different rounding; one ulp of 1e15 is 1e8, so
    exp(logit - max) overflows and the weights become inf / inf = NaN.
    Shifting the moderate-sized scores first makes every logit <= 0 with an
    exact 0 at the maximum however the product is evaluated (x - x = 0 and
    the sign of a product is exact), so the weights stay finite.
    """
    ops = keras.ops
    return ops.softmax((scores - ops.max(scores, axis=axis, keepdims=True)) * scale, axis=axis)


def empirical_optimal_denoiser(train_images, sigma=None):
    """The MMSE denoiser of the empirical distribution of `train_images` (see EmpiricalOptimalDenoiser)."""
    return EmpiricalOptimalDenoiser(train_images, sigma=sigma)
