"""Inpainting: the known pixels of an image are measured, the others are sampled."""

import keras
import numpy as np

from keras_gahb.sampling.linear_measurement import LinearMeasurement, as_float_tensor


class Inpainting(LinearMeasurement):
    """Measure the pixels where `mask` is 1; the sampler fills in the rest.

    M^T selects the known pixels, so with the measurement kept in image
    coordinates, `measure(x) = mask * x`, `backproject(c) = mask * c` and
    `project = measure` (mask entries must be 0 or 1).

    Args:
        mask: array (H, W) or (H, W, C) of 0/1 values, 1 where a pixel is known.
        channels: int, channels of the images when `mask` is 2-D. Defaults to 1.

    Example:

    >>> op = keras_gahb.sampling.Inpainting.box((16, 16, 1), hole=8)
    >>> c = op.measure(np.ones((2, 16, 16, 1), "float32"))   # 0 in the central 8x8 hole
    >>> int(keras.ops.sum(c[0]))
    192

    Reference:
        Kadkhodaie, Simoncelli, "Solving linear inverse problems using the
        prior implicit in a denoiser", NeurIPS 2021,
        https://arxiv.org/abs/2007.13640
    """

    task = "inpaint"

    def __init__(self, mask, channels=1):
        mask = np.asarray(mask, dtype=np.float32)
        if mask.ndim == 2:
            mask = np.repeat(mask[..., None], int(channels), axis=-1)
        if mask.ndim != 3:
            raise ValueError(f"`mask` must have shape (H, W) or (H, W, C); got {mask.shape}.")
        if not np.all((mask == 0) | (mask == 1)):
            raise ValueError("`mask` must contain only 0 (unknown) and 1 (known) values.")
        super().__init__(mask.shape)
        self.mask = mask

    @classmethod
    def box(cls, image_shape, hole=None, top=None, left=None):
        """A square hole of side `hole` (default: half the height), centred by default."""
        height, width, channels = (int(s) for s in image_shape)
        hole = height // 2 if hole is None else int(hole)
        top = (height - hole) // 2 if top is None else int(top)
        left = (width - hole) // 2 if left is None else int(left)
        if hole < 1 or top < 0 or left < 0 or top + hole > height or left + hole > width:
            raise ValueError(
                f"The hole (side {hole} at row {top}, column {left}) does not fit in an "
                f"image of shape {(height, width)}."
            )
        mask = np.ones((height, width, channels), np.float32)
        mask[top : top + hole, left : left + hole] = 0.0
        return cls(mask)

    def measure(self, images):
        self.check_images(images)
        return as_float_tensor(images) * keras.ops.convert_to_tensor(self.mask)

    def backproject(self, measurements):
        return as_float_tensor(measurements) * keras.ops.convert_to_tensor(self.mask)

    def get_config(self):
        return {"image_shape": self.image_shape, "known_fraction": float(self.mask.mean())}
