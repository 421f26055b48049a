"""Shared checks for layers and models, in the spirit of KerasHub's run_layer_test."""

import json
import os

import keras
import numpy as np


def assert_allclose(actual, desired, rtol=1e-5, atol=1e-6, err_msg=""):
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(actual),
        keras.ops.convert_to_numpy(desired),
        rtol=rtol,
        atol=atol,
        err_msg=err_msg,
    )


def run_serialization_test(obj, inputs, tmp_path, rtol=1e-5, atol=1e-6):
    """Config JSON round-trip, symbolic and eager call, .keras save/load (safe_mode)."""
    config = obj.get_config()
    config_json = json.dumps(keras.saving.serialize_keras_object(obj))
    clone = keras.saving.deserialize_keras_object(json.loads(config_json))
    assert clone.get_config() == config, "config changed in a JSON round-trip"

    symbolic = keras.KerasTensor(inputs.shape, dtype="float32")
    out_symbolic = obj(symbolic)
    out_eager = obj(inputs)
    assert tuple(out_symbolic.shape) == tuple(out_eager.shape)

    if isinstance(obj, keras.Model):
        model = obj
    else:
        x = keras.Input(shape=inputs.shape[1:])
        model = keras.Model(x, obj(x))
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert_allclose(loaded(inputs), model(inputs), rtol=rtol, atol=atol,
                    err_msg="outputs differ after .keras save/load")
    return loaded


def run_fit_step_test(model, inputs, targets, steps=3):
    """A few fit steps on one tiny batch reduce the MSE loss."""
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    before = float(model.evaluate(inputs, targets, verbose=0))
    model.fit(inputs, targets, epochs=steps, batch_size=len(inputs), verbose=0)
    after = float(model.evaluate(inputs, targets, verbose=0))
    assert np.isfinite(after)
    assert after < before, f"loss did not decrease: {before} -> {after}"
