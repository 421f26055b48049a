"""Data-parallel training with the backends' own engines (tf.distribute, keras.distribution)."""

import contextlib
import json
import os

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
      (`keras.distribution.list_devices()`), JAX backend. Across processes
      (several hosts), call `initialize_cluster("data_parallel")` first (as
      `train` does): it reads KERAS_DISTRIBUTION_JOB_ADDRESSES,
      KERAS_DISTRIBUTION_NUM_PROCESSES and KERAS_DISTRIBUTION_PROCESS_ID.
    - None: no distribution.

    The batch size given to `model.fit` is the global batch (split over
    devices and processes). With tf.distribute, batch norm statistics are per
    replica unless the `BiasFreeBatchNormalization` layers have
    `synchronized=True`; with "data_parallel" (JAX) the step is compiled for
    the global batch and they are global either way.

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
            engine = _multi_worker_strategy()
        else:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
            engine = tf.distribute.TPUStrategy(resolver)
        with engine.scope(), _tf_distribute_fixes():
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


def initialize_cluster(strategy):
    """Join a multi-process JAX cluster before any computation (a no-op otherwise).

    For strategy="data_parallel" under the JAX backend, when
    KERAS_DISTRIBUTION_NUM_PROCESSES is above 1, this calls
    `keras.distribution.initialize()` (that is `jax.distributed.initialize`
    with the coordinator KERAS_DISTRIBUTION_JOB_ADDRESSES, which may hold
    "host:port" of process 0 only, and this process's
    KERAS_DISTRIBUTION_PROCESS_ID). On CPU the cross-process collectives use
    gloo. For strategy="multi_worker" (TensorFlow) it creates the process's
    `MultiWorkerMirroredStrategy` (from TF_CONFIG), which TensorFlow requires
    before any other TensorFlow op runs; `distribution_scope` reuses it.
    Calling it again is harmless.

    Args:
        strategy: a `distribution_scope` strategy name or None.

    Returns:
        The number of processes (1 when there is no cluster).

    Example:

    >>> # on each host, with the KERAS_DISTRIBUTION_* variables set:
    >>> keras_gahb.training.initialize_cluster("data_parallel")
    2
    """
    if strategy == "multi_worker":
        if keras.backend.backend() == "tensorflow":
            _multi_worker_strategy()
        return len(_tf_config_workers())
    if strategy != "data_parallel" or keras.backend.backend() != "jax":
        return 1
    processes = _env_int("KERAS_DISTRIBUTION_NUM_PROCESSES", 1)
    if processes <= 1:
        return 1
    import jax

    if not jax.distributed.is_initialized():
        if "KERAS_DISTRIBUTION_PROCESS_ID" not in os.environ:
            raise ValueError(
                f"KERAS_DISTRIBUTION_NUM_PROCESSES={processes} but KERAS_DISTRIBUTION_PROCESS_ID "
                "is not set: give every process its id (0 for the coordinator)."
            )
        if "KERAS_DISTRIBUTION_JOB_ADDRESSES" not in os.environ:
            raise ValueError(
                "KERAS_DISTRIBUTION_JOB_ADDRESSES is not set: give the coordinator's host:port "
                "(process 0) to every process."
            )
        # Only the CPU client reads this; without it CPU collectives across processes fail.
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        keras.distribution.initialize()
    return jax.process_count()


def process_shard(dataset, batch_size, steps, distribution):
    """This JAX process's rows of every global batch of `dataset`, for a multi-process `fit`.

    Process i of P keeps rows [i b/P, (i+1) b/P) of each global batch of b
    rows (what `keras.distribution.DataParallel` assembles into the global
    batch), and the dataset keeps its length `steps`; `distribution` is told
    that the dataset is sharded (`auto_shard_dataset = False`). Keras's own
    sharding takes the same rows but loses the length: every epoch would end
    in a "ran out of data" warning and the progress bar would not know its steps.

    Args:
        dataset: a tf.data.Dataset of global batches of `batch_size` rows.
        batch_size: int, the global batch size (divisible by the process count).
        steps: int, batches per epoch.
        distribution: the `keras.distribution.DataParallel` of the run.

    Returns:
        The tf.data.Dataset of this process's batches.

    Example:

    >>> pairs = keras_gahb.data.noisy_pairs(x, 8, drop_remainder=True)
    >>> pairs = keras_gahb.training.process_shard(pairs, 8, len(x) // 8, distribution)
    """
    import jax
    import tensorflow as tf

    processes = jax.process_count()
    if batch_size % processes:
        raise ValueError(
            f"batch_size={batch_size} must be divisible by the {processes} processes.")
    distribution.auto_shard_dataset = False
    return (dataset.rebatch(batch_size // processes)
            .shard(processes, jax.process_index())
            .apply(tf.data.experimental.assert_cardinality(steps)))


def is_chief(strategy=None):
    """Whether this process writes the run folder (one writer per cluster).

    True for a single process. For "multi_worker" (TF_CONFIG): the task of
    type "chief", or worker 0 when the cluster has no "chief". For
    "data_parallel" across processes: JAX process 0.

    Example:

    >>> keras_gahb.training.is_chief("multi_worker")  # TF_CONFIG task: worker 0
    True
    """
    if strategy == "multi_worker":
        config = _tf_config()
        task = config.get("task") or {}
        kind, index = task.get("type"), int(task.get("index", 0))
        if kind is None:
            return True
        if "chief" in (config.get("cluster") or {}):
            return kind == "chief"
        return kind == "worker" and index == 0
    if strategy == "data_parallel" and keras.backend.backend() == "jax":
        if _env_int("KERAS_DISTRIBUTION_NUM_PROCESSES", 1) > 1:
            import jax

            return jax.process_index() == 0
    return True


_MULTI_WORKER = []  # TensorFlow allows one MultiWorkerMirroredStrategy per process


def _multi_worker_strategy():
    if not _MULTI_WORKER:
        import tensorflow as tf

        try:
            _MULTI_WORKER.append(tf.distribute.MultiWorkerMirroredStrategy())
        except (RuntimeError, ValueError) as error:
            if "startup" not in str(error):
                raise
            raise RuntimeError(
                "strategy='multi_worker' must be set up before any TensorFlow op runs: call "
                "keras_gahb.training.initialize_cluster('multi_worker') at the start of the "
                f"program ({error})."
            ) from None
    return _MULTI_WORKER[0]


@contextlib.contextmanager
def _tf_distribute_fixes():
    """Let `model.fit` under a tf.distribute strategy train like one device.

    Two places of Keras 3's TensorFlow trainer are patched while the scope is
    open:

    - under a strategy it builds the model from a first batch that it pulls
      from the training data (`_maybe_symbolic_build`) before the epochs start.
      That iterates the dataset once more than a run without a strategy: with
      `keras_gahb.data.noisy_pairs`, whose iterations are its epochs, epoch 1
      would be trained on the images and noise of epoch 2, and so on (measured:
      a two-worker run then differs from a one-device run by 0.02 after one
      Adam step at lr 0.01). Only the shapes and dtypes matter for that build,
      so they are read from the dataset's `element_spec` instead, without
      iterating. Across workers (MultiWorkerMirroredStrategy), Keras's own
      build also fails: it averages that first batch with `strategy.reduce`
      outside a tf.function (Keras issue #20585).
    - it averages the per-replica scalar metrics with
      `strategy.reduce("MEAN", v, axis=0)`, which fails across workers
      ("Invalid reduction dimension 0 for input with 0 dimensions"); scalars
      are averaged with axis=None.
    """
    import tensorflow as tf
    from keras.src.backend.tensorflow import trainer as tf_trainer

    TensorFlowTrainer = tf_trainer.TensorFlowTrainer
    original = TensorFlowTrainer._maybe_symbolic_build
    original_reduce = tf_trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if reduction not in ("auto", "mean") or not isinstance(
                strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return original_reduce(values, strategy, reduction)

        def mean(value):
            local = strategy.experimental_local_results(value)[0]
            return strategy.reduce("MEAN", value, axis=0 if local.shape.rank else None)

        return tf.nest.map_structure(mean, values)

    def build(self, iterator=None, data_batch=None):
        adapter = getattr(iterator, "data_adapter", None)
        if data_batch is None and adapter is not None and self._distribute_strategy is not None:
            spec = adapter.get_tf_dataset().element_spec
            data_batch = tf.nest.map_structure(
                lambda s: tf.TensorSpec([None, *s.shape[1:]], s.dtype)
                if isinstance(s, tf.TensorSpec) and s.shape.rank else s, spec)
            iterator = None
        return original(self, iterator=iterator, data_batch=data_batch)

    TensorFlowTrainer._maybe_symbolic_build = build
    tf_trainer.reduce_per_replica = reduce_per_replica
    try:
        yield
    finally:
        TensorFlowTrainer._maybe_symbolic_build = original
        tf_trainer.reduce_per_replica = original_reduce


def _tf_config():
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        return {}
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON ({error}): {text[:200]}") from None
    if not isinstance(config, dict):
        raise ValueError(f"TF_CONFIG must be a JSON object, got {text[:200]}")
    return config


def _tf_config_workers():
    cluster = _tf_config().get("cluster") or {}
    return [a for kind in ("chief", "worker") for a in cluster.get(kind, [])] or [None]


def _env_int(name, default):
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {text!r}.") from None
