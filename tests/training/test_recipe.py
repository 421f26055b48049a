"""Schedules, EMA and configuration against closed forms."""

import json

import keras
import numpy as np
import pytest

from keras_gahb.training import (
    TrainConfig,
    auto_ema_momentum,
    compile_denoiser,
    cosine_schedule,
    denoiser_optimizer,
    ema_weights,
    load_config_file,
    paper_learning_rate_schedule,
)


def _value(schedule, step):
    return float(keras.ops.convert_to_numpy(schedule(step)))


def test_paper_schedule_halves_every_k_epochs():
    schedule = paper_learning_rate_schedule(steps_per_epoch=10, initial_learning_rate=1e-3,
                                            halve_every=3)
    for step in (0, 29, 30, 59, 60, 95):
        assert _value(schedule, step) == pytest.approx(1e-3 * 0.5 ** (step // 30))


def test_cosine_schedule_decays_to_zero():
    schedule = cosine_schedule(total_steps=100, initial_learning_rate=2e-3)
    for step in (0, 25, 50, 100):
        expected = 1e-3 * (1 + np.cos(np.pi * step / 100))
        assert _value(schedule, step) == pytest.approx(expected, abs=1e-9)
    warm = cosine_schedule(100, 1e-3, warmup_steps=10)
    assert _value(warm, 5) == pytest.approx(5e-4) and _value(warm, 100) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="warmup_steps"):
        cosine_schedule(10, warmup_steps=10)


def test_auto_ema_momentum():
    assert auto_ema_momentum(1000) == pytest.approx(0.99)
    assert auto_ema_momentum(5) == pytest.approx(0.9)
    assert auto_ema_momentum(10**9) == pytest.approx(0.9999)


def test_ema_weights_equal_the_moving_average_of_the_iterates():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2, use_bias=False)(inputs))
    momentum = 0.8
    optimizer = denoiser_optimizer(0.1, ema_momentum=momentum)
    model.compile(optimizer, "mse")
    optimizer.build(model.trainable_variables)
    kernel = model.trainable_variables[0]
    rng = np.random.default_rng(0)
    average = None
    for _ in range(6):
        gradient = rng.normal(size=(3, 2)).astype("float32")
        optimizer.apply([keras.ops.convert_to_tensor(gradient)], [kernel])
        current = keras.ops.convert_to_numpy(kernel.value)
        # Keras initializes the average with the first iterate, then
        # average <- m average + (1 - m) w.
        average = current if average is None else momentum * average + (1 - momentum) * current
    trained = keras.ops.convert_to_numpy(kernel.value)
    with ema_weights(model):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(kernel.value), average, rtol=1e-5,
                                   atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(kernel.value), trained)


def test_compile_denoiser_needs_run_length():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="steps_per_epoch"):
        compile_denoiser(model, schedule="cosine")
    compile_denoiser(model, schedule="paper", steps_per_epoch=4, ema_momentum=0.9)
    assert model.optimizer.use_ema and model.optimizer.ema_momentum == pytest.approx(0.9)


def test_train_config_validation():
    config = TrainConfig(n=10)
    assert config.test_size == 80  # what is left of the 100 faces after S1 and S2
    assert TrainConfig(dataset="discs", n=10).test_size == 512
    assert TrainConfig(strategy="none").strategy is None
    assert TrainConfig(eval_sigmas=[0.2, 0.1, 0.2]).eval_sigmas == [0.1, 0.2]
    assert TrainConfig(sigma_distribution=0.1).sigma_distribution == 0.1
    for bad in ({"epochs": 0}, {"n": 2.5}, {"lr": -1.0}, {"ema": 1}, {"schedule": "step"},
                {"precision": "float16"}, {"eval_sigmas": "0.1"}, {"ema_momentum": 1.0},
                {"tensorboard": "yes"}, {"strategy": "horovod"}, {"dataset_options": [1]}):
        with pytest.raises(ValueError):
            TrainConfig.from_dict(bad)
    with pytest.raises(ValueError, match="Valid options: dataset, dataset_options"):
        TrainConfig.from_dict({"dataset_option": {}})
    assert json.loads(json.dumps(config.to_dict())) == TrainConfig(**config.to_dict()).to_dict()


def test_load_config_file(tmp_path):
    toml = tmp_path / "a.toml"
    toml.write_text('dataset = "discs"\nbatch-size = 8\n[dataset_options]\nradius_range = [2, 4]\n')
    assert load_config_file(toml) == {"dataset": "discs", "batch_size": 8,
                                      "dataset_options": {"radius_range": [2, 4]}}
    yaml = tmp_path / "a.yaml"
    yaml.write_text("epochs: 3\n")
    with pytest.raises(ValueError, match="must end in .toml or .json"):
        load_config_file(yaml)
    broken = tmp_path / "b.toml"
    broken.write_text("epochs = \n")
    with pytest.raises(ValueError, match="Cannot parse"):
        load_config_file(broken)
    with pytest.raises(ValueError, match="Unknown key.*out.*Valid keys"):
        load_config_file(_write(tmp_path / "c.json", {"out": "x"}))
    assert load_config_file(_write(tmp_path / "c.json", {"out": "x"}), ("out",)) == {"out": "x"}


def _write(path, obj):
    path.write_text(json.dumps(obj))
    return path


def test_resolve_jit_compile_picks_xla_only_for_long_runs_of_small_tensorflow_models():
    from keras_gahb.models import from_preset
    from keras_gahb.training import recipe

    small = from_preset("unet_tiny")
    assert recipe.resolve_jit_compile(False, small, 10_000) is False
    assert recipe.resolve_jit_compile(True, small, 1) is True
    long_run = recipe.resolve_jit_compile("auto", small, recipe.XLA_MIN_STEPS)
    short_run = recipe.resolve_jit_compile("auto", small, recipe.XLA_MIN_STEPS - 1)
    big = from_preset("unet_rf90")
    assert big.count_params() > recipe.XLA_MAX_PARAMS >= small.count_params()
    expected = True if keras.backend.backend() == "tensorflow" else "auto"
    assert (long_run, short_run) == (expected, "auto")
    assert recipe.resolve_jit_compile("auto", big, 10_000) == "auto"


@pytest.mark.parametrize("native", [False, True])
def test_bfloat16_warns_only_where_the_cpu_emulates_it(monkeypatch, native):
    import warnings

    from keras_gahb.models import from_preset
    from keras_gahb.training import recipe

    monkeypatch.setattr(recipe, "native_bfloat16", lambda: native)
    monkeypatch.setattr(recipe, "on_cpu", lambda: True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        recipe.compile_denoiser(from_preset("unet_tiny", dtype="mixed_bfloat16"),
                                schedule="constant")
        recipe.compile_denoiser(from_preset("unet_tiny"), schedule="constant")  # float32
    emulated = [w for w in caught if "emulated" in str(w.message)]
    assert len(emulated) == (0 if native else 1)
