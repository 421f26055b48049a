"""The authors' initializer of the bias-free batch norm's scale: a small clipped normal."""

import keras
from keras import ops

#: The authors' standard deviation of the initial gamma: 2 / 9 / 64 (about 0.0035).
AUTHORS_GAMMA_STDDEV = 2.0 / 9.0 / 64.0
#: The authors clamp the initial gamma to [-0.025, 0.025].
AUTHORS_GAMMA_CLIP = 0.025


@keras.saving.register_keras_serializable(package="keras_gahb")
class ClippedNormal(keras.initializers.RandomNormal):
    """Normal values with mean 0 and `stddev`, clamped to [-clip, clip].

    With the defaults this is the authors' start of every bias-free batch norm
    scale, gamma = clamp(randn * 2/9/64, -0.025, 0.025): every normalized layer
    starts with an output near 0, so the residual network starts near
    net(y) = 0 and the denoiser near the identity f(y) = y.

    Args:
        stddev: standard deviation. Defaults to 2/9/64.
        clip: the values are clamped to [-clip, clip] (> 0). Defaults to 0.025.
        seed: int, `keras.random.SeedGenerator` or None (Keras' global seed).

    Example:

    >>> init = keras_gahb.layers.ClippedNormal(seed=0)
    >>> values = init((64,))          # |values| <= 0.025, sd about 0.0035

    Reference:
        Kadkhodaie et al., ICLR 2024, https://arxiv.org/abs/2310.02557 (the
        authors' code, BF_batchNorm: gammas = randn * 2/9/64 clamped to 0.025).
    """

    def __init__(self, stddev=AUTHORS_GAMMA_STDDEV, clip=AUTHORS_GAMMA_CLIP, seed=None):
        if not float(stddev) > 0 or not float(clip) > 0:
            raise ValueError(f"stddev and clip must be > 0, got {stddev} and {clip}.")
        super().__init__(mean=0.0, stddev=float(stddev), seed=seed)
        self.clip = float(clip)

    def __call__(self, shape, dtype=None):
        return ops.clip(super().__call__(shape, dtype=dtype), -self.clip, self.clip)

    def get_config(self):
        config = super().get_config()
        config.pop("mean", None)
        config["clip"] = self.clip
        return config
