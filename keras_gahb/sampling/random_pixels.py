"""Random missing pixels: a random fraction of the pixels is known."""

import numpy as np

from keras_gahb.sampling.inpainting import Inpainting


class RandomPixels(Inpainting):
    """Inpainting with a random set of known pixels (the same for every channel).

    Args:
        image_shape: tuple (height, width, channels).
        fraction: float in (0, 1), the fraction of pixels that is known.
            Defaults to 0.1 (as in Kadkhodaie & Simoncelli 2021).
        seed: int or numpy Generator drawing the mask. Defaults to 0.

    Example:

    >>> op = keras_gahb.sampling.RandomPixels((16, 16, 1), fraction=0.25, seed=0)
    >>> op.mask.shape
    (16, 16, 1)

    Reference:
        Kadkhodaie, Simoncelli, "Solving linear inverse problems using the
        prior implicit in a denoiser", NeurIPS 2021,
        https://arxiv.org/abs/2007.13640
    """

    task = "missing"

    def __init__(self, image_shape, fraction=0.1, seed=0):
        height, width, channels = (int(s) for s in image_shape)
        fraction = float(fraction)
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"`fraction` (of known pixels) must be in (0, 1), got {fraction}.")
        rng = np.random.default_rng(seed)
        count = max(1, int(round(fraction * height * width)))
        known = np.zeros(height * width, np.float32)
        known[rng.choice(height * width, size=count, replace=False)] = 1.0
        super().__init__(known.reshape(height, width), channels=channels)
        self.fraction = fraction
        self.seed = seed if isinstance(seed, int) else None

    def get_config(self):
        return {"image_shape": self.image_shape, "fraction": self.fraction, "seed": self.seed}
