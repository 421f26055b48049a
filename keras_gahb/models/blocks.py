"""Building blocks shared by the bias-free denoisers (functional helpers)."""

import keras

from keras_gahb.layers import BiasFreeBatchNormalization


def bias_free_conv(x, filters, name, kernel_initializer="he_normal", dtype=None):
    """3x3 'same' convolution without bias."""
    return keras.layers.Conv2D(
        filters,
        3,
        padding="same",
        use_bias=False,
        kernel_initializer=kernel_initializer,
        name=name,
        dtype=dtype,
    )(x)


def conv_bn_relu(x, filters, prefix, index, kernel_initializer="he_normal", dtype=None):
    """Bias-free conv -> bias-free batch norm -> ReLU, layers named `{prefix}_conv{index}` etc."""
    x = bias_free_conv(x, filters, f"{prefix}_conv{index}", kernel_initializer, dtype)
    x = BiasFreeBatchNormalization(name=f"{prefix}_bn{index}", dtype=dtype)(x)
    return keras.layers.ReLU(name=f"{prefix}_relu{index}", dtype=dtype)(x)


def residual_output(inputs, residual, name="denoised"):
    """The denoiser f(y) = y - net(y), in float32 whatever the compute policy."""
    return keras.layers.Subtract(name=name, dtype="float32")([inputs, residual])
