"""Data-parallel training with the backends' own engines (tf.distribute, keras.distribution)."""

import contextlib

import keras

TF_STRATEGIES = ("mirrored", "multi_worker", "tpu")
JAX_STRATEGIES = ("data_parallel",)


@contextlib.contextmanager
def distribution_scope(strategy=None):
    """A context in which to build, compile and fit a model data-parallel.

    - "mirrored": `tf.distribute.MirroredStrategy` (all local GPUs, or the
      visible logical CPU devices), TensorFlow backend.
    - "multi_worker": `tf.distribute.MultiWorkerMirroredStrategy`; each worker
      reads its role from the TF_CONFIG environment variable. TensorFlow.
    - "tpu": `tf.distribute.TPUStrategy` on the TPU found by
      `TPUClusterResolver` (Cloud TPU VM: tpu="local"). TensorFlow.
    - "data_parallel": `keras.distribution.DataParallel` over all devices
      (`keras.distribution.list_devices()`), JAX backend.
    - None: no distribution.

    The batch size given to `model.fit` is the global batch (split over
    devices). Batch norm statistics are per device (not synchronized), as in
    single-device training on each shard.

    Yields:
        The strategy / distribution object, or None.

    Example:

    >>> with keras_gahb.training.distribution_scope("mirrored"):
    ...     model = keras_gahb.models.from_preset("unet_small")
    ...     model.compile("adam", "mse")
    ...     model.fit(pairs, epochs=2)
    """
    backend = keras.backend.backend()
    if strategy is None:
        yield None
        return
    if strategy in TF_STRATEGIES:
        if backend != "tensorflow":
            raise ValueError(
                f"strategy={strategy!r} is a tf.distribute strategy and needs the TensorFlow "
                f"backend (KERAS_BACKEND=tensorflow or `gahb --backend tensorflow`); the "
                f"current backend is {backend}. On JAX use strategy='data_parallel'."
            )
        import tensorflow as tf

        if strategy == "mirrored":
            engine = tf.distribute.MirroredStrategy()
        elif strategy == "multi_worker":
            engine = tf.distribute.MultiWorkerMirroredStrategy()
        else:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
            engine = tf.distribute.TPUStrategy(resolver)
        with engine.scope():
            yield engine
        return
    if strategy in JAX_STRATEGIES:
        if backend != "jax":
            raise ValueError(
                f"strategy={strategy!r} uses keras.distribution and needs the JAX backend "
                f"(KERAS_BACKEND=jax or `gahb --backend jax`); the current backend is "
                f"{backend}. On TensorFlow use strategy='mirrored'."
            )
        engine = keras.distribution.DataParallel(devices=keras.distribution.list_devices())
        with engine.scope():
            yield engine
        return
    raise ValueError(
        f"Unknown strategy {strategy!r}; use None, "
        f"{', '.join(repr(s) for s in TF_STRATEGIES + JAX_STRATEGIES)}."
    )


def num_replicas(engine):
    """Number of devices a `distribution_scope` object splits each batch over."""
    if engine is None:
        return 1
    if hasattr(engine, "num_replicas_in_sync"):
        return int(engine.num_replicas_in_sync)
    mesh = getattr(engine, "device_mesh", None)
    return int(mesh.shape[0]) if mesh is not None else 1
