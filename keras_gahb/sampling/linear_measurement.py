"""Base class of the linear measurements used to solve inverse problems with the sampler."""

import keras
import numpy as np


class LinearMeasurement:
    """A linear measurement x -> c whose back-projection is an orthogonal projection.

    Kadkhodaie & Simoncelli (2021) write the measurement of an image x as
    c = M^T x, with M a D x m matrix of orthonormal columns. Subclasses
    implement two linear maps in whatever coordinates are natural for them
    (a masked image, a low-resolution image, a vector of coefficients):

    - `measure(x)` -> c, proportional to M^T x;
    - `backproject(c)` -> an image, such that `backproject(measure(x)) = M M^T x`.

    `project(x) = backproject(measure(x))` is then the orthogonal projection
    onto the measured subspace (symmetric and idempotent), and the sampler's
    constrained step is d_t = (I - P)(f(x) - x) + (backproject(c) - P x).

    Args:
        image_shape: tuple (height, width, channels) of the images.

    Reference:
        Kadkhodaie, Simoncelli, "Solving linear inverse problems using the
        prior implicit in a denoiser", NeurIPS 2021,
        https://arxiv.org/abs/2007.13640
    """

    #: The name used by `gahb sample --task`.
    task = None

    def __init__(self, image_shape):
        image_shape = tuple(int(s) for s in image_shape)
        if len(image_shape) != 3 or min(image_shape) < 1:
            raise ValueError(
                f"`image_shape` must be (height, width, channels) with positive sizes; "
                f"got {image_shape}."
            )
        self.image_shape = image_shape

    def measure(self, images):
        """Measurements c of a batch of images (B, H, W, C)."""
        raise NotImplementedError

    def backproject(self, measurements):
        """The image M c of a batch of measurements."""
        raise NotImplementedError

    def project(self, images):
        """The orthogonal projection P x = M M^T x onto the measured subspace."""
        return self.backproject(self.measure(images))

    def check_images(self, images):
        """Raise a ValueError if `images` is not a batch of `image_shape` images."""
        shape = tuple(images.shape)
        if len(shape) != 4 or shape[1:] != self.image_shape:
            raise ValueError(
                f"{type(self).__name__} was built for images of shape {self.image_shape}; "
                f"got a batch of shape {shape}. Pass a batch (B, H, W, C)."
            )

    def get_config(self):
        return {"image_shape": self.image_shape}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "mask")
        return f"{type(self).__name__}({args})"


def as_float_tensor(x):
    """`keras.ops.convert_to_tensor(x, "float32")` for arrays and tensors."""
    if isinstance(x, np.ndarray):
        x = x.astype(np.float32, copy=False)
    return keras.ops.convert_to_tensor(x, dtype="float32")
