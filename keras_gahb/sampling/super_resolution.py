"""Super-resolution: the averages of non-overlapping blocks are measured."""

import keras

from keras_gahb.sampling.linear_measurement import LinearMeasurement, as_float_tensor


class SuperResolution(LinearMeasurement):
    """Measure the mean of each `factor` x `factor` block (per channel).

    The rows of M^T are the block indicators divided by `factor` (orthonormal),
    so M^T x = factor * blockmean(x). With the measurement kept as the
    low-resolution image c = blockmean(x), `backproject(c)` repeats each value
    over its block and `project(x) = backproject(measure(x))` replaces each
    block by its mean.

    Args:
        image_shape: tuple (height, width, channels); height and width must be
            divisible by `factor`.
        factor: int >= 2, the block side. Defaults to 4.

    Example:

    >>> op = keras_gahb.sampling.SuperResolution((16, 16, 1), factor=4)
    >>> op.measure(np.ones((2, 16, 16, 1), "float32")).shape
    (2, 4, 4, 1)

    Reference:
        Kadkhodaie, Simoncelli, "Solving linear inverse problems using the
        prior implicit in a denoiser", NeurIPS 2021,
        https://arxiv.org/abs/2007.13640
    """

    task = "superres"

    def __init__(self, image_shape, factor=4):
        super().__init__(image_shape)
        factor = int(factor)
        height, width, _ = self.image_shape
        if factor < 2 or height % factor or width % factor:
            raise ValueError(
                f"`factor` must be an int >= 2 dividing the height and width {height}x{width}; "
                f"got {factor}."
            )
        self.factor = factor

    def measure(self, images):
        self.check_images(images)
        height, width, channels = self.image_shape
        s = self.factor
        x = keras.ops.reshape(as_float_tensor(images), (-1, height // s, s, width // s, s, channels))
        return keras.ops.mean(x, axis=(2, 4))

    def backproject(self, measurements):
        c = as_float_tensor(measurements)
        c = keras.ops.repeat(c, self.factor, axis=1)
        return keras.ops.repeat(c, self.factor, axis=2)

    def get_config(self):
        return {"image_shape": self.image_shape, "factor": self.factor}
