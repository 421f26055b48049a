"""Compressive sensing: inner products with random orthonormal vectors are measured."""

import keras
import numpy as np

from keras_gahb.sampling.linear_measurement import LinearMeasurement, as_float_tensor


class CompressiveSensing(LinearMeasurement):
    """Measure c = M^T x for a random D x m matrix M with orthonormal columns.

    M is the Q factor of a Gaussian matrix (QR decomposition with signs fixed
    so that it is Haar-distributed), drawn from `seed`.

    Args:
        image_shape: tuple (height, width, channels).
        fraction: float in (0, 1), m / D, the number of measurements per pixel.
            Defaults to 0.1.
        seed: int or numpy Generator drawing M. Defaults to 0.

    Example:

    >>> op = keras_gahb.sampling.CompressiveSensing((8, 8, 1), fraction=0.25, seed=0)
    >>> op.measure(np.ones((2, 8, 8, 1), "float32")).shape
    (2, 16)

    Reference:
        Kadkhodaie, Simoncelli, "Solving linear inverse problems using the
        prior implicit in a denoiser", NeurIPS 2021,
        https://arxiv.org/abs/2007.13640
    """

    task = "compressive"

    def __init__(self, image_shape, fraction=0.1, seed=0):
        super().__init__(image_shape)
        fraction = float(fraction)
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"`fraction` (measurements per pixel) must be in (0, 1), got {fraction}.")
        size = int(np.prod(self.image_shape))
        count = max(1, int(round(fraction * size)))
        rng = np.random.default_rng(seed)
        q, r = np.linalg.qr(rng.standard_normal((size, count)))
        self.matrix = (q * np.sign(np.diag(r))).astype(np.float32)
        self.fraction = fraction
        self.seed = seed if isinstance(seed, int) else None

    @property
    def num_measurements(self):
        return self.matrix.shape[1]

    def measure(self, images):
        self.check_images(images)
        x = keras.ops.reshape(as_float_tensor(images), (-1, self.matrix.shape[0]))
        return keras.ops.matmul(x, keras.ops.convert_to_tensor(self.matrix))

    def backproject(self, measurements):
        c = as_float_tensor(measurements)
        x = keras.ops.matmul(c, keras.ops.transpose(keras.ops.convert_to_tensor(self.matrix)))
        return keras.ops.reshape(x, (-1,) + self.image_shape)

    def get_config(self):
        return {
            "image_shape": self.image_shape,
            "fraction": self.fraction,
            "num_measurements": self.num_measurements,
            "seed": self.seed,
        }
