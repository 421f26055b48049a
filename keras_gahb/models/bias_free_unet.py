"""The bias-free UNet denoiser of Kadkhodaie et al. (ICLR 2024)."""

import inspect

import keras

from keras_gahb.models.bias_free_denoiser import BiasFreeDenoiser, check_image_size, image_size_pair
from keras_gahb.models.blocks import bias_free_conv, conv_bn_relu, residual_output
from keras_gahb.models.blocks import gamma_initializer as gamma_initializer_for


@keras.saving.register_keras_serializable(package="keras_gahb")
class BiasFreeUNet(BiasFreeDenoiser):
    """Bias-free UNet returning the denoised image f(y) = y - net(y).

    Architecture (3x3 convolutions without bias, `base_channels * 2**b`
    channels at level b):

    - encoder block 0: conv -> ReLU -> conv -> BF-BN -> ReLU;
      encoder block b >= 1: 2 x (conv -> BF-BN -> ReLU);
      each block's output is a skip, followed by 2x2 average pooling;
    - middle block: 2 x (conv -> BF-BN -> ReLU) at `base_channels * 2**levels`;
    - decoder, b = levels-1 .. 0: 2x2 transposed conv (stride 2, no bias),
      concatenation [upsampled, skip], then 2 x (conv -> BF-BN -> ReLU) for
      b >= 1 and conv -> BF-BN -> ReLU -> conv(to image channels) for b = 0.

    Every layer is bias-free and the batch norm is scale-only
    (`BiasFreeBatchNormalization`), so in inference f(a y) = a f(y), a > 0,
    and f(y) = J(y) y. Height and width must be divisible by 2**levels.

    Args:
        levels: int, number of poolings (1, 2, 3, 4 give the paper's nominal
            receptive fields 18, 45, 90, 180). Defaults to 3.
        base_channels: int, channels at the first level. Defaults to 64.
        image_channels: int, channels of the images (1 gray, 3 RGB).
            Defaults to 1.
        image_size: optional int or (height, width); None accepts any size
            divisible by 2**levels. Defaults to None.
        kernel_initializer: initializer of every convolution.
            Defaults to "he_normal" (the paper's Kaiming normal).
        dtype: optional dtype policy for the layers (e.g. "mixed_bfloat16");
            the output is always float32.
        **kwargs: base model arguments (`name`, `trainable`).

    Example:

    >>> model = keras_gahb.models.BiasFreeUNet(levels=1, base_channels=8)
    >>> y = np.random.rand(2, 16, 16, 1).astype("float32")
    >>> model.predict(y).shape
    (2, 16, 16, 1)
    >>> keras_gahb.models.BiasFreeUNet.from_preset("unet_rf90").count_params()
    7661952

    Reference:
        Kadkhodaie, Guth, Simoncelli, Mallat, "Generalization in diffusion
        models arises from geometry-adaptive harmonic representations",
        ICLR 2024, https://arxiv.org/abs/2310.02557
    """

    def __init__(
        self,
        levels=3,
        base_channels=64,
        image_channels=1,
        image_size=None,
        kernel_initializer="he_normal",
        gamma_initializer="ones",
        dtype=None,
        **kwargs,
    ):
        type(self).check_arguments(kwargs)
        levels, base_channels, image_channels = int(levels), int(base_channels), int(image_channels)
        if levels < 1:
            raise ValueError(f"`levels` must be >= 1, got {levels}.")
        if base_channels < 1 or image_channels < 1:
            raise ValueError(
                "`base_channels` and `image_channels` must be positive, got "
                f"{base_channels} and {image_channels}."
            )
        height, width = image_size_pair(image_size)
        check_image_size((height, width), 2**levels, f"a BiasFreeUNet with levels={levels}")
        init, gamma = kernel_initializer, gamma_initializer
        gamma_initializer_for(gamma)  # unknown names fail before building

        # === Functional graph ===
        inputs = keras.Input(shape=(height, width, image_channels), name="noisy")
        x = bias_free_conv(inputs, base_channels, "encoder_0_conv0", init, dtype)
        x = keras.layers.ReLU(name="encoder_0_relu0", dtype=dtype)(x)
        x = conv_bn_relu(x, base_channels, "encoder_0", 1, init, dtype, gamma)
        skips = [x]
        x = keras.layers.AveragePooling2D(2, name="encoder_0_pool", dtype=dtype)(x)
        for b in range(1, levels):
            for j in range(2):
                x = conv_bn_relu(x, base_channels * 2**b, f"encoder_{b}", j, init, dtype, gamma)
            skips.append(x)
            x = keras.layers.AveragePooling2D(2, name=f"encoder_{b}_pool", dtype=dtype)(x)
        for j in range(2):
            x = conv_bn_relu(x, base_channels * 2**levels, "mid", j, init, dtype, gamma)
        for b in reversed(range(levels)):
            x = keras.layers.Conv2DTranspose(
                base_channels * 2**b,
                2,
                strides=2,
                use_bias=False,
                kernel_initializer=init,
                name=f"upsample_{b}",
                dtype=dtype,
            )(x)
            x = keras.layers.Concatenate(name=f"decoder_{b}_concat", dtype=dtype)([x, skips[b]])
            x = conv_bn_relu(x, base_channels * 2**b, f"decoder_{b}", 0, init, dtype, gamma)
            if b > 0:
                x = conv_bn_relu(x, base_channels * 2**b, f"decoder_{b}", 1, init, dtype, gamma)
        residual = bias_free_conv(x, image_channels, "decoder_0_conv1", init, dtype)
        outputs = residual_output(inputs, residual)
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)

        # === Config ===
        self.levels = levels
        self.base_channels = base_channels
        self.image_channels = image_channels
        self.image_size = image_size
        self.kernel_initializer = kernel_initializer
        self.gamma_initializer = gamma_initializer
        self.size_multiple = 2**levels

    @classmethod
    def size_multiple_of(cls, config):
        """2**levels: image sides must be divisible by it."""
        levels = config.get("levels", inspect.signature(cls.__init__).parameters["levels"].default)
        return 2 ** int(levels)

    @property
    def receptive_field(self):
        """Side in pixels of the square of input pixels that one output pixel sees."""
        rf, jump = 1, 1
        rf += 2 * 2 * jump  # encoder block 0: two 3x3 convs
        for _ in range(1, self.levels):
            rf += jump  # 2x2 pooling
            jump *= 2
            rf += 2 * 2 * jump
        rf += jump
        jump *= 2
        rf += 2 * 2 * jump  # middle block
        for b in reversed(range(self.levels)):
            jump //= 2  # 2x2 stride-2 transposed conv: each output sees one input pixel
            rf += 2 * 2 * jump  # two 3x3 convs per decoder block
        return rf

    def get_config(self):
        return {
            **super().get_config(),
            "levels": self.levels,
            "base_channels": self.base_channels,
            "image_channels": self.image_channels,
            "image_size": self.image_size,
            "kernel_initializer": keras.initializers.serialize(
                keras.initializers.get(self.kernel_initializer)
            ),
            "gamma_initializer": self.gamma_initializer,
        }
