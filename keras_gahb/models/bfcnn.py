"""The bias-free CNN denoiser (BF-CNN) of Mohan et al. (ICLR 2020)."""

import keras

from keras_gahb.models.bias_free_denoiser import BiasFreeDenoiser, image_size_pair
from keras_gahb.models.blocks import bias_free_conv, conv_bn_relu, residual_output
from keras_gahb.models.blocks import gamma_initializer as gamma_initializer_for


@keras.saving.register_keras_serializable(package="keras_gahb")
class BFCNN(BiasFreeDenoiser):
    """Bias-free DnCNN-style denoiser returning f(y) = y - net(y).

    `num_layers` 3x3 bias-free convolutions at constant width: the first is
    followed by a ReLU (or nothing when `first_layer_relu=False`, the
    authors' loader default), the middle ones by bias-free batch norm and
    ReLU, the last maps to the image channels. Any input size works.

    Args:
        num_layers: int >= 2, number of convolutions. Defaults to 21.
        channels: int, width of the hidden layers. Defaults to 64.
        image_channels: int, channels of the images. Defaults to 1.
        image_size: optional int or (height, width). Defaults to None (any).
        first_layer_relu: bool, ReLU after the first convolution.
            Defaults to True (the paper's training script).
        kernel_initializer: initializer of every convolution.
            Defaults to "he_normal".
        gamma_initializer: initial scale of every batch norm: "ones"
            (default), "authors" (N(0, (2/9/64)^2) clamped to +-0.025) or a
            Keras initializer identifier.
        dtype: optional dtype policy of the layers; the output is float32.
        **kwargs: base model arguments (`name`, `trainable`).

    Example:

    >>> model = keras_gahb.models.BFCNN(num_layers=4, channels=8)
    >>> model.predict(np.random.rand(2, 12, 12, 1).astype("float32")).shape
    (2, 12, 12, 1)

    Reference:
        Mohan, Kadkhodaie, Simoncelli, Fernandez-Granda, "Robust and
        interpretable blind image denoising via bias-free convolutional neural
        networks", ICLR 2020, https://arxiv.org/abs/1906.05478
    """

    def __init__(
        self,
        num_layers=21,
        channels=64,
        image_channels=1,
        image_size=None,
        first_layer_relu=True,
        kernel_initializer="he_normal",
        gamma_initializer="ones",
        dtype=None,
        **kwargs,
    ):
        type(self).check_arguments(kwargs)
        num_layers, channels, image_channels = int(num_layers), int(channels), int(image_channels)
        if num_layers < 2:
            raise ValueError(f"`num_layers` must be >= 2, got {num_layers}.")
        if channels < 1 or image_channels < 1:
            raise ValueError(
                f"`channels` and `image_channels` must be positive, got {channels} and {image_channels}."
            )
        height, width = image_size_pair(image_size)
        init = kernel_initializer
        gamma_initializer_for(gamma_initializer)  # unknown names fail before building

        # === Functional graph ===
        inputs = keras.Input(shape=(height, width, image_channels), name="noisy")
        x = bias_free_conv(inputs, channels, "conv_0", init, dtype)
        if first_layer_relu:
            x = keras.layers.ReLU(name="relu_0", dtype=dtype)(x)
        for i in range(1, num_layers - 1):
            x = conv_bn_relu(x, channels, "hidden", i, init, dtype, gamma_initializer)
        residual = bias_free_conv(x, image_channels, f"conv_{num_layers - 1}", init, dtype)
        outputs = residual_output(inputs, residual)
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)

        # === Config ===
        self.num_layers = num_layers
        self.channels = channels
        self.image_channels = image_channels
        self.image_size = image_size
        self.first_layer_relu = bool(first_layer_relu)
        self.kernel_initializer = kernel_initializer
        self.gamma_initializer = gamma_initializer

    @property
    def receptive_field(self):
        """Side in pixels of the square of input pixels that one output pixel sees."""
        return 2 * self.num_layers + 1

    def get_config(self):
        return {
            **super().get_config(),
            "num_layers": self.num_layers,
            "channels": self.channels,
            "image_channels": self.image_channels,
            "image_size": self.image_size,
            "first_layer_relu": self.first_layer_relu,
            "kernel_initializer": keras.initializers.serialize(
                keras.initializers.get(self.kernel_initializer)
            ),
            "gamma_initializer": self.gamma_initializer,
        }
