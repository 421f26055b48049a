"""Batch statistics over the global batch of a data-parallel step (the backend dispatch).

- tensorflow: inside a `tf.distribute` replica context with several replicas
  (MirroredStrategy, MultiWorkerMirroredStrategy, TPUStrategy), the sums of x
  and x^2 are all-reduced over the replicas (`keras.ops.moments(...,
  synchronized=True)`, differentiable);
- jax: `keras.distribution.DataParallel` compiles the step for the global,
  sharded batch, so a reduction over the batch axis is already a reduction
  over every device and process (XLA inserts the all-reduce): nothing to add;
- torch, or no distribution: the local batch is the whole batch.
"""

import keras
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
