"""End-to-end runs of keras_gahb.training.train: outputs, resume, config mismatch, NaN."""

import csv
import importlib.util
import os

import keras
import numpy as np
import pytest

from keras_gahb.training import precision_problem, train


class _InterruptAfter(keras.callbacks.Callback):
    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            raise KeyboardInterrupt


class _PoisonWeights(keras.callbacks.Callback):
    """Put NaN into the first weight at the start of `epoch` (0-based)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            variable = self.model.trainable_variables[0]
            variable.assign(np.full(variable.shape, np.nan, "float32"))


class _RecordModel(keras.callbacks.Callback):
    """Keeps the trained model (self.model) and the loss of the first batch (initial weights)."""

    first_loss = None

    def on_train_batch_end(self, batch, logs=None):
        if self.first_loss is None:
            self.first_loss = float(keras.ops.convert_to_numpy(logs["loss"]))


def _read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def _weights(path):
    model = keras.saving.load_model(path)
    return [keras.ops.convert_to_numpy(w) for w in model.weights]


def test_resume_after_interrupt_equals_uninterrupted_run(tmp_path, tiny_options):
    interrupted, straight = str(tmp_path / "interrupted"), str(tmp_path / "straight")
    with pytest.raises(KeyboardInterrupt):
        train(interrupted, callbacks=[_InterruptAfter(1)], verbose=0, **tiny_options)
    assert len(_read_csv(os.path.join(interrupted, "history.csv"))) == 1
    assert os.path.exists(os.path.join(interrupted, "model.keras"))

    resumed = train(interrupted, verbose=0, **tiny_options)
    assert resumed.resumed and resumed.epochs_completed == 3
    rows = _read_csv(os.path.join(interrupted, "history.csv"))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]  # continued, not duplicated

    reference = train(straight, verbose=0, **tiny_options)
    assert not reference.resumed and reference.epochs_completed == 3
    # Same weights, Adam state, EMA and noise stream: the same final function.
    for a, b in zip(_weights(resumed.model_path), _weights(reference.model_path)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    reference_rows = _read_csv(os.path.join(straight, "history.csv"))
    for a, b in zip(rows, reference_rows):
        np.testing.assert_allclose(float(a["loss"]), float(b["loss"]), rtol=1e-4)

    # A finished run returns at once; a different config in the same dir is refused.
    again = train(straight, verbose=0, **tiny_options)
    assert again.already_finished and again.epochs_completed == 3
    with pytest.raises(ValueError, match="other settings.*epochs"):
        train(straight, verbose=0, **{**tiny_options, "epochs": 4})


def test_run_directory_contents(tmp_path, tiny_images):
    train_x, test_x = tiny_images
    run = str(tmp_path / "run")
    tensorboard = importlib.util.find_spec("tensorboard") is not None  # optional package
    result = train(run, train_images=train_x, test_images=test_x, epochs=2, batch_size=4,
                   preset="unet_tiny", eval_sigmas=[0.1, 0.3], grid_images=4, verbose=0,
                   tensorboard=tensorboard)
    if tensorboard:
        for folder in ("train", "images"):  # scalars (with the PSNRs) and the grid images
            assert os.listdir(os.path.join(run, "logs", folder)), folder
    for name in ("config.json", "model.keras", "model_best.keras", "history.csv",
                 "psnr_curves.json", "psnr_curves.png", "denoised_grid.png", "state.json"):
        assert os.path.exists(os.path.join(run, name)), name
    assert not os.path.exists(os.path.join(run, "split.json"))  # arrays came from the caller
    rows = _read_csv(os.path.join(run, "history.csv"))
    assert len(rows) == 2 and {"loss", "lr", "test_psnr_s0.1", "train_psnr_s0.3"} <= set(rows[0])
    # Cosine schedule: the learning rate after the last step is 0.
    assert float(rows[-1]["lr"]) == pytest.approx(0.0, abs=1e-12)
    # The gain is output minus input PSNR; the input PSNR at sigma is about -20 log10(sigma).
    assert result.metrics["test_input_psnr_s0.1"] == pytest.approx(20.0, abs=1.0)
    assert result.metrics["test_gain_s0.1"] == pytest.approx(
        result.metrics["test_psnr_s0.1"] - result.metrics["test_input_psnr_s0.1"])
    model = result.load_model()
    assert model.output_shape == (None, None, None, 1)


def test_nonfinite_loss_stops_with_clear_error_and_keeps_last_model(tmp_path, tiny_images):
    train_x, test_x = tiny_images
    run = str(tmp_path / "nan")
    options = dict(train_images=train_x, test_images=test_x, epochs=3, batch_size=4,
                   preset="unet_tiny", eval_sigmas=[0.1], grid_images=0, verbose=0)
    with pytest.raises(ValueError, match=r"epoch 2: the loss became non-finite.*epoch 1"):
        train(run, callbacks=[_PoisonWeights(1)], **options)
    rows = _read_csv(os.path.join(run, "history.csv"))
    assert [int(r["epoch"]) for r in rows] == [1]
    for weight in _weights(os.path.join(run, "model.keras")):
        assert np.all(np.isfinite(weight))


def test_bad_options_raise_value_errors(tmp_path, tiny_options):
    with pytest.raises(ValueError, match="Unknown training option.*batch_sise.*Valid options"):
        train(str(tmp_path / "a"), batch_sise=4)
    with pytest.raises(ValueError, match="ema must be true or false"):
        train(str(tmp_path / "b"), ema="False")
    with pytest.raises(ValueError, match="sync_batch_norm must be true or false"):
        train(str(tmp_path / "b"), sync_batch_norm=1)
    # tiny_options: test_size 4; faces holds 100 images, so 2 * 60 + 4 do not fit and 48 is the most.
    with pytest.raises(ValueError, match=r"holds 100 images.*need 124 images \(2N \+ test\)"
                                         r".*largest N with a test set of 4 is 48"):
        train(str(tmp_path / "c"), **{**tiny_options, "n": 60})
    for name in ("a", "b", "c"):
        assert not (tmp_path / name).exists()  # nothing written for a refused command


def _one_step_of_the_denoiser(precision, images):
    """Train the real denoiser one step in `precision` outside `train` (the probe's control)."""
    from keras_gahb.models import from_preset
    from keras_gahb.training import compile_denoiser

    model = from_preset("unet_tiny", image_channels=images.shape[-1], dtype=precision)
    compile_denoiser(model, schedule="constant")
    return float(np.asarray(model.train_on_batch(images[:4], images[:4])).reshape(-1)[0])


@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_trains_close_to_float32_or_is_refused(tmp_path, tiny_images, precision):
    """Where the backend and CPU can train `precision`, it trains like float32; where they
    cannot (torch 2.13's slow CPU kernels on processors without AVX-512), `train` refuses it
    up front with one clear sentence and writes nothing. Each branch is checked against an
    independent attempt to train the real denoiser, so the test holds on every CPU."""
    train_x, test_x = tiny_images
    options = dict(train_images=train_x, test_images=test_x, epochs=1, batch_size=4,
                   preset="unet_tiny", eval_sigmas=[0.1], grid_images=0, verbose=0)
    problem = precision_problem(precision, channels=train_x.shape[-1])
    run = tmp_path / precision
    if problem is not None:
        print(f"{precision} cannot train on {keras.backend.backend()} here: {problem}")
        with pytest.raises(ValueError, match=rf"precision='{precision}' cannot train.*"
                                             r"Use precision='float32'"):
            train(str(run), precision=precision, **options)
        assert not run.exists()  # refused before the run folder is written
        with pytest.raises(Exception):  # the probe's verdict holds for the real denoiser
            _one_step_of_the_denoiser(precision, train_x)
        return
    seen32 = _RecordModel()
    train(str(tmp_path / "float32"), callbacks=[seen32], **options)
    seen = _RecordModel()
    result = train(str(run), precision=precision, callbacks=[seen], **options)
    compute = {layer.dtype_policy.compute_dtype for layer in seen.model.layers
               if isinstance(layer, keras.layers.Conv2D)}
    assert compute == {precision[len("mixed_"):]}
    optimizer = type(seen.model.optimizer).__name__
    assert optimizer == ("LossScaleOptimizer" if precision == "mixed_float16" else "Adam")
    # Same first batch (data, noise) and initial weights: the loss differs by rounding only
    # (bfloat16 keeps 8 bits of mantissa).
    assert seen.first_loss == pytest.approx(seen32.first_loss, rel=0.03)
    assert np.isfinite(result.metrics["loss"])
    assert np.isfinite(result.metrics["test_psnr_s0.1"])


def test_precision_probe_refuses_a_failing_step(monkeypatch):
    """check_precision turns the probe's failure into a ValueError naming the alternatives,
    and float32 is never refused (nor probed)."""
    from keras_gahb.training import precision as module

    monkeypatch.setattr(module, "_PROBED", {})
    monkeypatch.setattr(module, "_probe", lambda precision, channels: (
        "RuntimeError: boom" if precision == "mixed_float16" else None))
    with pytest.raises(ValueError, match=r"mixed_float16.*RuntimeError: boom.*"
                                         r"Use precision='float32' or 'mixed_bfloat16'"):
        module.check_precision("mixed_float16")
    module.check_precision("mixed_bfloat16")
    module.check_precision("float32")
    assert ("float32" not in {key[1] for key in module._PROBED})
    with pytest.raises(ValueError, match="Unknown precision"):
        module.precision_problem("float8")




def test_a_config_written_before_an_option_existed_means_its_default(tmp_path):
    """A run folder whose config.json lacks a newer option resumes while that option keeps its
    default, and refuses another value of it."""
    import json

    from keras_gahb import runs
    from keras_gahb.training import TrainConfig

    def prepare(**options):
        record = {"config": TrainConfig(n=8, **options).to_dict(), "data": {"train": "x"}}
        return runs.prepare(str(tmp_path), record, defaults={"config": TrainConfig.defaults()})

    prepare()
    path = tmp_path / "config.json"
    saved = json.loads(path.read_text())
    del saved["config"]["sync_batch_norm"]  # as written before the option existed
    path.write_text(json.dumps(saved))
    (tmp_path / "state.json").write_text(json.dumps(
        {"status": "running", "epoch": 1, "checkpoint": "checkpoints/epoch-00001.weights.h5"}))
    assert prepare() == []  # the default: the same run
    with pytest.raises(ValueError, match="sync_batch_norm: False saved, True now"):
        prepare(sync_batch_norm=True)
