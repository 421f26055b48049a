"""Data-parallel training on two logical CPU devices (tf.distribute on TF, DataParallel on JAX).

Device counts are fixed when a backend starts, so each test runs in a fresh
Python process.
"""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

SCRIPT = textwrap.dedent("""
    import json, sys
    import keras, numpy as np
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from keras_gahb.training import train

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    rng = np.random.default_rng(0)
    x = rng.uniform(0.2, 0.8, size=(12, 8, 8, 1)).astype("float32")
    options = dict(train_images=x[:8], test_images=x[8:], preset="unet_tiny", epochs=2,
                   batch_size=4, eval_sigmas=[0.1], grid_images=0, verbose=0,
                   strategy=sys.argv[2])
    try:
        train(sys.argv[1], callbacks=[Interrupt()], **options)
    except KeyboardInterrupt:
        pass
    result = train(sys.argv[1], **options)
    print("RESULT" + json.dumps({"replicas": result.replicas, "resumed": result.resumed,
                                 "epochs": [r["epoch"] for r in result.history],
                                 "loss": result.metrics["loss"],
                                 "psnr": result.metrics["test_psnr_s0.1"]}))
""")


def _run(tmp_path, backend, strategy, extra_env=None):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
           **(extra_env or {})}
    process = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "run"), strategy],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    line = next(text for text in process.stdout.splitlines() if text.startswith("RESULT"))
    return json.loads(line[len("RESULT"):])


def _check(result):
    assert result["replicas"] == 2
    assert result["resumed"] and result["epochs"] == [1, 2]
    assert result["loss"] == result["loss"] and result["psnr"] > 0  # finite


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute")
def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    _check(_run(tmp_path, "tensorflow", "mirrored"))


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "jax", reason="keras.distribution on JAX")
def test_jax_data_parallel_on_two_host_devices(tmp_path):
    flags = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2")
    _check(_run(tmp_path, "jax", "data_parallel", {"XLA_FLAGS": flags.strip()}))


@pytest.mark.skipif(keras.backend.backend() == "jax", reason="checks the non-JAX error")
def test_strategy_of_another_backend_is_a_clear_error(tmp_path):
    from keras_gahb.training import distribution_scope

    with pytest.raises(ValueError, match="needs the JAX backend"):
        with distribution_scope("data_parallel"):
            pass


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute")
def test_a_one_device_strategy_trains_like_no_strategy(tmp_path, tiny_images):
    """One replica: the strategy must not change the run (Keras builds the model from a
    batch it pulls from the data, which shifted noisy_pairs' epochs by one before the fix)."""
    from keras_gahb.training import train

    options = dict(preset="unet_tiny", epochs=2, batch_size=4, lr=0.01, ema=False,
                   eval_sigmas=[0.1], grid_images=0, verbose=0)
    results = [train(tmp_path / str(strategy), *tiny_images, strategy=strategy, **options)
               for strategy in (None, "mirrored")]
    assert results[1].replicas == 1
    for a, b in zip(results[0].history, results[1].history):
        np.testing.assert_allclose(a["loss"], b["loss"], rtol=1e-5)
    weights = [keras.saving.load_model(r.model_path).get_weights() for r in results]
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
