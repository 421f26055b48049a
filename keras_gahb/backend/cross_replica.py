"""Data-parallel steps across replicas and processes (the backend dispatch).

`global_batch_variance`: batch statistics over the global batch of a step:

- tensorflow: inside a `tf.distribute` replica context with several replicas
  (MirroredStrategy, MultiWorkerMirroredStrategy, TPUStrategy), the sums of x
  and x^2 are all-reduced over the replicas (`keras.ops.moments(...,
  synchronized=True)`, differentiable);
- jax: `keras.distribution.DataParallel` compiles the step for the global,
  sharded batch, so a reduction over the batch axis is already a reduction
  over every device and process (XLA inserts the all-reduce): nothing to add;
- torch, or no distribution: the local batch is the whole batch.

`local_predictor`: inference that one process computes alone (evaluation
callbacks of a multi-process JAX run, where `model.predict` of a NumPy array
is refused).
"""

import keras
import numpy as np
from keras import ops


def global_batch_variance(x, axes):
    """The biased variance of `x` over `axes`, pooled over every replica of the step.

    Equals the variance of the concatenation of all replicas' batches
    (E[x^2] - E[x]^2 of the pooled sums on TensorFlow).

    Args:
        x: float tensor (this replica's part of the batch).
        axes: list of ints, the reduced axes (batch and spatial).

    Returns:
        The per-channel variance, a tensor of the kept axes' shape.

    Example:

    >>> x = keras.random.normal((4, 8, 8, 3))
    >>> keras_gahb.backend.global_batch_variance(x, [0, 1, 2]).shape
    (3,)
    """
    if keras.backend.backend() != "tensorflow":
        return ops.var(x, axis=axes)
    # Keras's cross-replica moments: per-replica sums all-reduced one tensor at a time (one
    # packed all-reduce can meet the gradient all-reduce in another order on each replica).
    return ops.moments(x, axes, synchronized=True)[1]


def local_predictor(model):
    """A function `predict(x, batch_size)`: `model(x)` in inference mode, NumPy in and out.

    It is `model.predict`, except under a `keras.distribution` spread over
    several JAX processes (`keras_gahb.training.initialize_cluster`), where
    Keras accepts only a tf.data.Dataset that it shards over the processes.
    There each process computes the whole of `x` alone, on its first local
    device, with its own copy of the weights (replicated by
    `keras.distribution.DataParallel`, so every process gets the same
    result): no collective runs, and a process may call it when the others
    do not. The compiled function is kept by the returned callable; build it
    once per model.

    Args:
        model: a built Keras model.

    Returns:
        `predict(x, batch_size)`: x a float array (n, ...), returns the outputs
        as a NumPy array (n, ...).

    Example:

    >>> predict = keras_gahb.backend.local_predictor(model)
    >>> denoised = predict(noisy, batch_size=64)
    """
    if not _multi_process_jax():
        return lambda x, batch_size: np.asarray(
            keras.ops.convert_to_numpy(model.predict(x, batch_size=batch_size, verbose=0)))
    import jax

    device = jax.local_devices()[0]

    @jax.jit
    def forward(trainable, non_trainable, y):
        return model.stateless_call(trainable, non_trainable, y, training=False)[0]

    def predict(x, batch_size):
        trainable = [_local_value(v, device) for v in model.trainable_variables]
        non_trainable = [_local_value(v, device) for v in model.non_trainable_variables]
        x = np.asarray(x)
        distribution = keras.distribution.distribution()
        keras.distribution.set_distribution(None)  # trace a one-device function
        try:
            outputs = [np.asarray(forward(trainable, non_trainable,
                                          jax.device_put(x[i:i + batch_size], device)))
                       for i in range(0, len(x), batch_size)]
        finally:
            keras.distribution.set_distribution(distribution)
        return np.concatenate(outputs)

    return predict


def _multi_process_jax():
    if keras.backend.backend() != "jax" or keras.distribution.distribution() is None:
        return False
    import jax

    return jax.process_count() > 1


def _local_value(variable, device):
    import jax

    value = variable.value
    if isinstance(value, jax.Array) and not value.is_fully_addressable:
        if not value.is_fully_replicated:
            raise ValueError(
                f"Variable {variable.path} is sharded across processes; local inference needs "
                "replicated weights (keras.distribution.DataParallel)."
            )
        value = value.addressable_data(0)
    return jax.device_put(value, device)
