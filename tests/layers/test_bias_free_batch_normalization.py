import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_gahb.layers import BiasFreeBatchNormalization
from tests.test_case import assert_allclose, run_serialization_test


def _images(seed=0, shape=(4, 6, 6, 3)):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=shape) * [1.0, 3.0, 0.5] + [0.5, -1.0, 2.0]).astype("float32")


def test_training_divides_by_batch_std_without_mean_subtraction():
    x = _images()
    layer = BiasFreeBatchNormalization(gamma_initializer=keras.initializers.Constant(2.0))
    y = keras.ops.convert_to_numpy(layer(x, training=True))
    sd = np.sqrt(x.var(axis=(0, 1, 2)) + 1e-5)  # biased variance, numpy reference
    np.testing.assert_allclose(y, x / sd * 2.0, rtol=1e-5, atol=1e-6)
    # The mean is not removed: a positive-mean channel keeps a positive mean.
    assert y[..., 2].mean() > 1.0


def test_moving_std_update_matches_pytorch_momentum():
    x = _images()
    layer = BiasFreeBatchNormalization()
    layer(x, training=True)
    sd = np.sqrt(x.var(axis=(0, 1, 2)) + 1e-5)
    assert_allclose(layer.moving_std, 0.9 * 1.0 + 0.1 * sd, rtol=1e-5)


def test_inference_is_linear_with_moving_std_and_no_epsilon():
    x = _images()
    layer = BiasFreeBatchNormalization(
        moving_std_initializer=keras.initializers.Constant(0.5),
        gamma_initializer=keras.initializers.Constant(3.0),
    )
    y = layer(x, training=False)
    assert_allclose(y, x / 0.5 * 3.0, rtol=1e-6)
    assert_allclose(layer(-2.5 * x), -2.5 * keras.ops.convert_to_numpy(y), rtol=1e-5)


def test_serialization_and_save_load(tmp_path):
    layer = BiasFreeBatchNormalization(momentum=0.8, epsilon=1e-3, name="bn")
    run_serialization_test(layer, _images(), tmp_path)


def test_only_gamma_is_trainable():
    layer = BiasFreeBatchNormalization()
    layer.build((None, 4, 4, 5))
    assert [w.name for w in layer.trainable_weights] == ["gamma"]
    assert [w.name for w in layer.non_trainable_weights] == ["moving_std"]


@pytest.mark.parametrize("kwargs", [{"momentum": 1.5}, {"epsilon": -1.0}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        BiasFreeBatchNormalization(**kwargs)


def test_unknown_channels_is_a_clear_error():
    with pytest.raises(ValueError, match="known number of channels"):
        BiasFreeBatchNormalization().build((None, 4, 4, None))


SYNC_SCRIPT = textwrap.dedent("""
    import json, sys
    import keras, numpy as np
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from keras_gahb.layers import BiasFreeBatchNormalization

    rng = np.random.default_rng(0)
    # Replica 0 gets images 0-1 of each batch, replica 1 images 2-3: very different scales,
    # so per-replica statistics differ from the global batch's.
    x = rng.normal(size=(8, 6, 6, 2)).astype("float32") * np.array([1, 1, 5, 5] * 2)[:, None,
                                                                               None, None]
    y = rng.normal(size=(8, 6, 6, 2)).astype("float32")

    def build(synchronized):
        inputs = keras.Input((6, 6, 2))
        h = keras.layers.Conv2D(4, 3, padding="same", use_bias=False, name="c1")(inputs)
        h = BiasFreeBatchNormalization(synchronized=synchronized, momentum=0.5, name="bn")(h)
        h = keras.layers.ReLU()(h)
        outputs = keras.layers.Conv2D(2, 3, padding="same", use_bias=False, name="c2")(h)
        return keras.Model(inputs, outputs)

    keras.utils.set_random_seed(0)
    initial = build(False).get_weights()

    def train(synchronized, distributed):
        if distributed and backend == "tensorflow":
            # Reduction through one device: CPU collectives may meet the batch-norm and the
            # gradient all-reduces in another order on each replica (a TF limitation).
            strategy = tf.distribute.MirroredStrategy(
                ["/cpu:0", "/cpu:1"], cross_device_ops=tf.distribute.ReductionToOneDevice())
            assert strategy.num_replicas_in_sync == 2
            context = strategy.scope()
        elif distributed:
            devices = keras.distribution.list_devices()
            assert len(devices) == 2, devices
            context = keras.distribution.DataParallel(devices=devices).scope()
        else:
            import contextlib
            context = contextlib.nullcontext()
        with context:
            model = build(synchronized)
            model.set_weights(initial)
            model.compile(keras.optimizers.SGD(0.1), "mse")
            model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
        return {v.path: keras.ops.convert_to_numpy(v.value).tolist() for v in model.weights}

    print("RESULT" + json.dumps({
        "single": train(False, False),
        "sync": train(True, True),
        "local": train(False, True),
    }))
""")


def _sync_run(backend):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    if backend == "jax":
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "")
                            + " --xla_force_host_platform_device_count=2").strip()
    process = subprocess.run([sys.executable, "-c", SYNC_SCRIPT], env=env,
                             capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stderr[-3000:]
    line = next(text for text in process.stdout.splitlines() if text.startswith("RESULT"))
    runs = json.loads(line[len("RESULT"):])
    return {name: {k: np.asarray(v) for k, v in run.items()} for name, run in runs.items()}


def _max_difference(a, b):
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)


@pytest.mark.slow
def test_synchronized_two_replicas_match_one_replica_on_the_global_batch():
    """Two replicas with synchronized statistics train exactly as one device on the whole batch."""
    backend = keras.backend.backend()
    if backend not in ("tensorflow", "jax"):
        pytest.skip(f"no data-parallel engine on the {backend} backend (tf.distribute or "
                    "keras.distribution.DataParallel needed)")
    runs = _sync_run(backend)
    for key in runs["single"]:
        np.testing.assert_allclose(runs["sync"][key], runs["single"][key], rtol=2e-5, atol=2e-6,
                                   err_msg=key)
    if backend == "tensorflow":
        # Per-replica statistics (the default) give another result: the check above can fail.
        assert _max_difference(runs["local"], runs["single"]) > 1e-2
    else:
        # DataParallel compiles the step for the global batch: statistics are global anyway.
        assert _max_difference(runs["local"], runs["single"]) < 1e-4


def test_synchronized_is_in_the_config_and_changes_nothing_on_one_device():
    x = _images()
    plain = BiasFreeBatchNormalization()
    synced = BiasFreeBatchNormalization.from_config(
        {**plain.get_config(), "synchronized": True})
    assert synced.synchronized and synced.get_config()["synchronized"]
    assert_allclose(synced(x, training=True), plain(x, training=True), rtol=1e-5)
    assert_allclose(synced.moving_std, plain.moving_std, rtol=1e-6)
