"""train_stacked: K denoisers in one fit train exactly as each does alone with train()."""

import csv
import os

import keras
import numpy as np
import pytest

from keras_gahb.training import train, train_stacked

OPTIONS = dict(image_size=8, preset="unet_tiny", epochs=2, batch_size=4, images_per_epoch=12,
               eval_sigmas=[0.1, 0.3], eval_train_size=4, grid_images=0, lr=3e-3)


def _images():
    rng = np.random.default_rng(1)
    x = rng.uniform(0.1, 0.9, size=(20, 8, 8, 1)).astype("float32")
    # S1, S2 (different sizes: tiled to the same images_per_epoch) and a test set.
    return x[:6], x[6:14], x[14:]


def _losses(run_dir):
    with open(os.path.join(run_dir, "history.csv")) as f:
        return np.array([float(row["loss"]) for row in csv.DictReader(f)])


class _StopAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt


@pytest.mark.slow
def test_stacked_training_equals_separate_training_and_resumes(tmp_path):
    s1, s2, test = _images()
    per_model = [{"seed": 0}, {"seed": 0}, {"seed": 7}]  # S1, S2, and a control: S1, other seed
    sets = [s1, s2, s1]
    alone = [train(str(tmp_path / f"alone{i}"), train_images=images, test_images=test,
                   verbose=0, **OPTIONS, **extra)
             for i, (images, extra) in enumerate(zip(sets, per_model))]

    # The three as one stacked network, interrupted after epoch 1 ...
    dirs = [str(tmp_path / f"stacked{i}") for i in range(3)]
    with pytest.raises(KeyboardInterrupt):
        train_stacked(dirs, sets, test, per_model=per_model, callbacks=[_StopAfterFirstEpoch()],
                      verbose=0, **OPTIONS)
    # ... then S2 finished alone by train() from its stacked checkpoint (its own Adam and EMA
    # state), and S1 and the control finished stacked.
    finished_s2 = train(dirs[1], train_images=s2, test_images=test, verbose=0, **OPTIONS)
    finished_pair = train_stacked([dirs[0], dirs[2]], [s1, s1], test,
                                  per_model=[per_model[0], per_model[2]], verbose=0, **OPTIONS)
    stacked = [finished_pair[0], finished_s2, finished_pair[1]]
    assert all(result.resumed for result in stacked)

    probe = np.random.default_rng(2).uniform(0, 1, (3, 8, 8, 1)).astype("float32")
    outputs = []
    for one, many in zip(alone, stacked):
        np.testing.assert_allclose(_losses(many.run_dir), _losses(one.run_dir), rtol=1e-4)
        assert many.epochs_completed == one.epochs_completed == 2
        a = keras.saving.load_model(one.model_path).predict(probe, verbose=0)
        b = keras.saving.load_model(many.model_path).predict(probe, verbose=0)
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
        assert many.metrics["test_psnr_s0.1"] == pytest.approx(one.metrics["test_psnr_s0.1"],
                                                               abs=1e-3)
        outputs.append(b)
    # The three models really differ (different data or seed), so the match is not trivial.
    assert np.abs(outputs[0] - outputs[1]).max() > 1e-3
    assert np.abs(outputs[0] - outputs[2]).max() > 1e-3
    # Each folder is now a finished `train` run: train_stacked trains nothing.
    again = train_stacked(dirs, sets, test, per_model=per_model, verbose=0, **OPTIONS)
    assert all(result.already_finished for result in again)


def test_stacked_options_are_checked(tmp_path):
    s1, s2, test = _images()
    with pytest.raises(ValueError, match="per-model options"):
        train_stacked([tmp_path / "a", tmp_path / "b"], [s1, s2], test,
                      per_model=[{"lr": 1e-3}, {}], **OPTIONS)
    with pytest.raises(ValueError, match="one array per run_dir"):
        train_stacked([tmp_path / "a", tmp_path / "b"], [s1], test, **OPTIONS)
    with pytest.raises(ValueError, match="distinct"):
        train_stacked([tmp_path / "a", tmp_path / "a"], [s1, s1], test, **OPTIONS)
    with pytest.raises(ValueError, match="same steps per epoch"):
        train_stacked([tmp_path / "c", tmp_path / "d"], [s1, s2], test,
                      **{**OPTIONS, "images_per_epoch": None, "batch_size": 2})  # 3 vs 4
    assert not os.path.exists(tmp_path / "c")  # refused before writing anything
