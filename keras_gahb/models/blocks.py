"""Building blocks shared by the bias-free denoisers (functional helpers)."""

import keras

from keras_gahb.layers import BiasFreeBatchNormalization, ClippedNormal

#: Names of the batch-norm scale initializations the builders accept besides Keras identifiers.
#: "authors": gamma ~ N(0, (2/9/64)^2) clamped to +-0.025 (the denoiser starts near f(y) = y).
GAMMA_INITIALIZERS = ("ones", "authors")


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


def gamma_initializer(identifier):
    """A fresh initializer of a batch-norm scale: "authors" (`ClippedNormal()`) or a Keras one."""
    if identifier == "authors":
        return ClippedNormal()
    try:
        return keras.initializers.get(identifier)
    except ValueError:
        raise ValueError(
            f"Unknown gamma_initializer {identifier!r}: use one of {', '.join(GAMMA_INITIALIZERS)} "
            "or a Keras initializer."
        ) from None


def conv_bn_relu(x, filters, prefix, index, kernel_initializer="he_normal", dtype=None,
                 gamma_init="ones"):
    """Bias-free conv -> bias-free batch norm -> ReLU, layers named `{prefix}_conv{index}` etc."""
    x = bias_free_conv(x, filters, f"{prefix}_conv{index}", kernel_initializer, dtype)
    x = BiasFreeBatchNormalization(name=f"{prefix}_bn{index}", dtype=dtype,
                                   gamma_initializer=gamma_initializer(gamma_init))(x)
    return keras.layers.ReLU(name=f"{prefix}_relu{index}", dtype=dtype)(x)


def residual_output(inputs, residual, name="denoised"):
    """The denoiser f(y) = y - net(y), in float32 whatever the compute policy."""
    return keras.layers.Subtract(name=name, dtype="float32")([inputs, residual])
