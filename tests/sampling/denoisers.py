"""Small denoisers with known closed forms, shared by the sampling tests."""

import keras
import numpy as np


def shrink_denoiser(c, mean=0.5):
    """f(y) = mean + c (y - mean): a linear denoiser whose iterates have closed forms."""

    def denoise(y):
        return mean + c * (y - mean)

    return denoise


class RecordingDenoiser:
    """Wraps a denoiser and keeps a numpy copy of every input batch (use compiled=False)."""

    def __init__(self, denoiser):
        self.denoiser = denoiser
        self.inputs = []

    def __call__(self, y):
        self.inputs.append(keras.ops.convert_to_numpy(y).copy())
        return self.denoiser(y)


class GaussianSubspacePrior:
    """x = mean + U_k a, a ~ N(0, diag(lam)): a Gaussian prior on a k-dim subspace of R^D.

    Its blind optimal denoiser estimates the noise variance from the D - k
    directions orthogonal to the subspace, s^2 = ||(I - U U^T)(y - m)||^2 / (D - k),
    and returns m + U diag(lam / (lam + s^2)) U^T (y - m).
    """

    def __init__(self, image_shape=(8, 8, 1), lam=(0.04, 0.025, 0.016, 0.01, 0.0063, 0.004),
                 mean=0.5, seed=0):
        self.image_shape = tuple(image_shape)
        self.dim = int(np.prod(image_shape))
        self.lam = np.asarray(lam, np.float32)
        self.k = len(self.lam)
        q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((self.dim, self.dim)))
        self.basis = q[:, : self.k].astype(np.float32)
        self.mean = mean

    def sample(self, n, seed=0):
        a = np.random.default_rng(seed).standard_normal((n, self.k)) * np.sqrt(self.lam)
        return (self.mean + a @ self.basis.T).reshape((n,) + self.image_shape).astype(np.float32)

    def coordinates(self, images):
        return (np.asarray(images, np.float64).reshape(len(images), -1) - self.mean) @ self.basis

    def __call__(self, y):
        ops = keras.ops
        basis = ops.convert_to_tensor(self.basis)
        lam = ops.convert_to_tensor(self.lam)
        r = ops.reshape(y, (-1, self.dim)) - self.mean
        c = ops.matmul(r, basis)
        perp = r - ops.matmul(c, ops.transpose(basis))
        s2 = ops.maximum(ops.sum(ops.square(perp), axis=1, keepdims=True) / (self.dim - self.k), 1e-10)
        out = self.mean + ops.matmul(c * (lam / (lam + s2)), ops.transpose(basis))
        return ops.reshape(out, ops.shape(y))

    def predicted_variances(self, h0=0.01, beta=0.1, sigma0=1.0, sigma_final=0.01):
        """Variances of the sampler's outputs along the basis, from the exact moment recursion.

        Per step, with noise variance n in every direction and v_k the variance of
        coordinate k of x: the shrinkage a_k = n / (lam_k + n) maps
        v_k -> (1 - h a_k)^2 v_k + g^2 sigma^2 and n -> ((1 - h)^2 + g^2 sigma^2 / n) n
        off the subspace, where sigma^2 = ((D - k) n + sum_k a_k^2 v_k) / D and
        g^2 = (1 - beta h)^2 - (1 - h)^2. The output is the last denoising,
        with variance (lam_k / (lam_k + n))^2 v_k.
        """
        n = sigma0**2
        v = np.full(self.k, sigma0**2)
        t = 1
        while True:
            a = n / (self.lam + n)
            sigma2 = ((self.dim - self.k) * n + np.sum(a**2 * v)) / self.dim
            if sigma2 <= sigma_final**2:
                return (1 - a) ** 2 * v
            h = h0 * t / (1 + h0 * (t - 1))
            g2 = (1 - beta * h) ** 2 - (1 - h) ** 2
            v = (1 - h * a) ** 2 * v + g2 * sigma2
            n = (1 - h) ** 2 * n + g2 * sigma2
            t += 1


class NoisyFloorDenoiser:
    """f(y) = mean + c (y - mean) + floor * xi, xi ~ N(0, I) drawn afresh at every call.

    A denoiser with an error floor (use compiled=False): d = f(x) - x has
    ||d||^2 / D = (1 - c)^2 ||x - m||^2 / D + floor^2 + O(1/sqrt(D)), so the
    sampler's sigma_t can never fall much below `floor`.
    """

    def __init__(self, c=0.5, floor=0.05, mean=0.5, seed=0):
        self.c, self.floor, self.mean = c, floor, mean
        self.rng = np.random.default_rng(seed)

    def __call__(self, y):
        y = keras.ops.convert_to_numpy(y)
        xi = self.rng.standard_normal(y.shape).astype(np.float32)
        out = (self.mean + self.c * (y - self.mean) + self.floor * xi).astype(np.float32)
        return keras.ops.convert_to_tensor(out)


class BiasFloorDenoiser:
    """f(y) = y - (1 - c)(y - mean(y)) + floor: shrinks each image's contrast and adds `floor`.

    A deterministic denoiser (keras.ops, compilable) with a known bias floor: the residual
    d = f(x) - x = -(1 - c)(x - mean(x)) + floor has ||d||^2 / D = (1 - c)^2 var(x) + floor^2
    (the cross term sums to 0), so sigma_t >= floor exactly for every x, with equality on flat
    images, where `clean_image_floor` is exactly `floor`.
    """

    def __init__(self, c=0.5, floor=0.05):
        self.c, self.floor = c, floor

    def __call__(self, y):
        ops = keras.ops
        mean = ops.mean(y, axis=(1, 2, 3), keepdims=True)
        return y - (1.0 - self.c) * (y - mean) + self.floor


def expanding_denoiser(y):
    """f(y) = 0.5 + 3 (y - 0.5): d = 2 (y - 0.5), so sigma_t grows every step (diverges)."""
    return 0.5 + 3.0 * (y - 0.5)
