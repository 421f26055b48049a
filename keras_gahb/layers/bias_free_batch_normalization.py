"""Bias-free batch normalization (scale only), as in Mohan et al. 2020."""

import keras
from keras import ops

from keras_gahb.backend.cross_replica import global_batch_variance


@keras.saving.register_keras_serializable(package="keras_gahb")
class BiasFreeBatchNormalization(keras.layers.Layer):
    """Batch normalization without any additive constant.

    In training the input is divided by the per-channel standard deviation of
    the batch and multiplied by a learned per-channel scale `gamma`:

        sd_c = sqrt(Var_{n,h,w}[x_{n,h,w,c}] + epsilon)      (biased variance)
        y = x / sd_c * gamma_c

    The input is *not* mean-subtracted (the mean is only used to compute the
    variance) and there is no learned offset `beta`. At inference a moving
    standard deviation replaces `sd_c` (no epsilon is added then), so the layer
    is a per-channel linear map and a network built from it, ReLUs and
    bias-free convolutions is homogeneous: f(a y) = a f(y) for a > 0.

    The moving standard deviation is updated in training as
    `moving_std = momentum * moving_std + (1 - momentum) * sd`, so the
    default `momentum=0.9` equals PyTorch's momentum 0.1.

    With `synchronized=True` the training statistics are those of the global
    batch of a data-parallel step (all replicas pooled), so a run on k
    replicas computes what one device computes on the whole batch. On
    TensorFlow (`tf.distribute` strategies) the per-replica sums are
    all-reduced; on JAX (`keras.distribution.DataParallel`) the step is
    compiled for the global batch and the statistics are global whatever
    this option; without distribution it changes nothing.

    Args:
        axis: int, the channel axis. Defaults to -1 (channels last).
        momentum: float, momentum of the moving standard deviation.
            Defaults to 0.9.
        epsilon: float, added to the batch variance in training.
            Defaults to 1e-5.
        gamma_initializer: initializer of the scale. Defaults to "ones".
        moving_std_initializer: initializer of the moving standard deviation.
            Defaults to "ones".
        gamma_regularizer: optional regularizer of the scale.
        gamma_constraint: optional constraint of the scale.
        synchronized: bool, pool the batch statistics over the replicas of a
            data-parallel step (cross-replica batch norm). Defaults to False.
        **kwargs: base layer arguments (`name`, `dtype`, `trainable`).

    Example:

    >>> import numpy as np, keras
    >>> layer = keras_gahb.layers.BiasFreeBatchNormalization()
    >>> x = np.random.rand(2, 8, 8, 4).astype("float32")
    >>> y = layer(x, training=True)   # divided by the batch std
    >>> z = layer(x)                  # inference: x / moving_std * gamma

    Reference:
        Mohan, Kadkhodaie, Simoncelli, Fernandez-Granda, "Robust and
        interpretable blind image denoising via bias-free convolutional neural
        networks", ICLR 2020, https://arxiv.org/abs/1906.05478
    """

    def __init__(
        self,
        axis=-1,
        momentum=0.9,
        epsilon=1e-5,
        gamma_initializer="ones",
        moving_std_initializer="ones",
        gamma_regularizer=None,
        gamma_constraint=None,
        synchronized=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not 0.0 <= float(momentum) < 1.0:
            raise ValueError(
                f"`momentum` must be in [0, 1), got {momentum}. Keras counts "
                "momentum the other way round from PyTorch: PyTorch's 0.1 is 0.9 here."
            )
        if float(epsilon) < 0:
            raise ValueError(f"`epsilon` must be >= 0, got {epsilon}.")
        self.axis = int(axis)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.gamma_initializer = keras.initializers.get(gamma_initializer)
        self.moving_std_initializer = keras.initializers.get(moving_std_initializer)
        self.gamma_regularizer = keras.regularizers.get(gamma_regularizer)
        self.gamma_constraint = keras.constraints.get(gamma_constraint)
        self.synchronized = bool(synchronized)
        self.supports_masking = True

    def build(self, input_shape):
        axis = self.axis % len(input_shape)
        channels = input_shape[axis]
        if channels is None:
            raise ValueError(
                "BiasFreeBatchNormalization needs a known number of channels on "
                f"axis {self.axis}; got input shape {input_shape}."
            )
        self._channel_axis = axis
        self._reduction_axes = [i for i in range(len(input_shape)) if i != axis]
        self.gamma = self.add_weight(
            shape=(channels,),
            name="gamma",
            initializer=self.gamma_initializer,
            regularizer=self.gamma_regularizer,
            constraint=self.gamma_constraint,
            trainable=True,
            autocast=False,
        )
        self.moving_std = self.add_weight(
            shape=(channels,),
            name="moving_std",
            initializer=self.moving_std_initializer,
            trainable=False,
            autocast=False,
        )
        self.input_spec = keras.layers.InputSpec(
            ndim=len(input_shape), axes={axis: channels}
        )

    def call(self, inputs, training=None, mask=None):
        if training and self.trainable:
            # Statistics in float32 even under mixed precision.
            x = ops.cast(inputs, "float32")
            if self.synchronized:
                variance = global_batch_variance(x, self._reduction_axes)
            else:
                variance = ops.var(x, axis=self._reduction_axes)
            std = ops.sqrt(variance + self.epsilon)
            self.moving_std.assign(
                self.momentum * self.moving_std + (1.0 - self.momentum) * std
            )
        else:
            std = self.moving_std
        scale = self._broadcast(self.gamma / std, len(inputs.shape))
        return inputs * ops.cast(scale, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "axis": self.axis,
                "momentum": self.momentum,
                "epsilon": self.epsilon,
                "gamma_initializer": keras.initializers.serialize(self.gamma_initializer),
                "moving_std_initializer": keras.initializers.serialize(
                    self.moving_std_initializer
                ),
                "gamma_regularizer": keras.regularizers.serialize(self.gamma_regularizer),
                "gamma_constraint": keras.constraints.serialize(self.gamma_constraint),
                "synchronized": self.synchronized,
            }
        )
        return config

    def _broadcast(self, vector, ndim):
        shape = [1] * ndim
        shape[self._channel_axis] = -1
        return ops.reshape(vector, shape)
