"""keras_gahb.runs on its own: settings, checkpoints and resume, the lock, reading a run folder.

Files are made by hand (bytes for checkpoints), so each rule is checked against what it must do
without training; the CLI cases with real training are tests/training/test_run_folder_faults.py.
"""

import glob
import hashlib
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from keras_gahb import runs


def _state(epoch, rows=None):
    rows = rows if rows is not None else [{"epoch": e, "test_psnr_mean": 20.0 + e} for e in
                                          range(1, epoch + 1)]
    return {"status": "running", "best": {"epoch": epoch, "test_psnr_mean": 20.0 + epoch},
            "history": rows, "psnr_records": [{"epoch": e} for e in range(1, epoch + 1)]}


def _save(run, epoch):
    return runs.save_epoch(run, epoch, f"checkpoint {epoch}".encode() * 100,
                           {runs.MODEL_FILE: b"model", runs.HISTORY_FILE: "epoch\n"},
                           _state(epoch), resumable_epoch=epoch - 1)


def test_prepare_writes_keeps_replaces_and_refuses(tmp_path):
    run = str(tmp_path)
    record = {"config": {"lr": 0.001, "seed": 0}, "data": {"train": {"sha256": "a"}},
              "environment": {"backend": "x"}}
    assert runs.prepare(run, record) == []
    assert json.loads((tmp_path / "config.json").read_text()) == record
    assert runs.prepare(run, {**record, "environment": {"backend": "y"}}) == []  # not compared
    # No trained epoch yet: other settings replace the old, and the old split goes.
    (tmp_path / "split.json").write_text("{}")
    other = {**record, "config": {"lr": 0.001, "seed": 1}}
    assert runs.prepare(run, other) == ["seed: 0 saved, 1 now"]
    assert json.loads((tmp_path / "config.json").read_text())["config"]["seed"] == 1
    assert not (tmp_path / "split.json").exists()
    # Once an epoch is saved: refused, naming the difference (nested keys with their prefix).
    _save(run, 1)
    assert runs.holds_training(run)
    with pytest.raises(ValueError, match=r"holds a run with other settings \(seed: 1 saved, 2 now; "
                                         r"data.train.sha256: 'a' saved, 'b' now\)"):
        runs.prepare(run, {**other, "config": {"lr": 0.001, "seed": 2},
                           "data": {"train": {"sha256": "b"}}})
    # ... unless every difference is allowed to change: then it is recorded.
    lower = {**other, "config": {"lr": 0.0005, "seed": 1}}
    with pytest.raises(ValueError, match="lr: 0.001 saved, 0.0005 now"):
        runs.prepare(run, lower)
    assert runs.prepare(run, lower, changeable=("lr",), change_note={"after_epoch": 1}) == [
        "lr: 0.001 saved, 0.0005 now"]
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["config"]["lr"] == 0.0005
    assert saved["changes"] == [{"change": "lr: 0.001 saved, 0.0005 now", "after_epoch": 1}]
    assert runs.prepare(run, lower) == []  # the recorded change is the run's setting now
    # Ignored keys (execution options) may differ; defaults fill keys an older file lacks.
    assert runs.prepare(run, {**lower, "stack": True}, ignore=("stack",)) == []
    assert runs.prepare(run, {**lower, "config": {**lower["config"], "new": 3}},
                        defaults={"config": {"new": 3}}) == []


def test_checkpoints_keep_two_with_checksums_and_no_temporary_name_looks_real(tmp_path):
    run = str(tmp_path)
    for epoch in (1, 2, 3):
        state = _save(run, epoch)
    assert state["epoch"] == 3 and state["checkpoint"] == runs.checkpoint_name(3)
    assert runs.read_state(run) == state
    folder = tmp_path / "checkpoints"
    assert sorted(os.listdir(folder)) == ["epoch-00002.keras", "epoch-00002.keras.sha256",
                                          "epoch-00003.keras", "epoch-00003.keras.sha256"]
    data = (folder / "epoch-00003.keras").read_bytes()
    assert data == b"checkpoint 3" * 100
    # The checksum file is in the format of `sha256sum -c`.
    assert (folder / "epoch-00003.keras.sha256").read_text() == (
        f"{hashlib.sha256(data).hexdigest()}  epoch-00003.keras\n")
    # A temporary file of a writer (killed mid-write) matches no pattern of real checkpoints,
    # and the next save removes it.
    leftover = folder / f".epoch-00004.keras.partial-{os.getpid() + 1}"
    leftover.write_bytes(b"half")
    assert str(leftover) not in glob.glob(str(folder / "*.keras")) + glob.glob(
        str(folder / "epoch-*"))
    assert not [n for n in os.listdir(folder) if n.endswith((".keras", ".weights.h5"))
                and "partial" in n]
    assert [e for e, _ in runs.list_checkpoints(run)] == [2, 3]
    _save(run, 4)
    assert not leftover.exists()


def test_resume_falls_back_from_a_damaged_checkpoint_and_names_it(tmp_path):
    run = str(tmp_path)
    for epoch in (1, 2, 3):
        _save(run, epoch)
    resume = runs.resume_point(run)
    assert (resume.epoch, resume.damaged) == (3, [])
    newest = tmp_path / "checkpoints" / "epoch-00003.keras"
    newest.write_bytes(newest.read_bytes()[:50])  # cut
    with pytest.warns(UserWarning) as caught:
        resume = runs.resume_point(run)
    assert [str(w.message) for w in caught] == [
        f"checkpoint {newest} is damaged (checksum mismatch); resuming from epoch 2"]
    assert resume.epoch == 2 and resume.checkpoint == str(tmp_path / "checkpoints" /
                                                          "epoch-00002.keras")
    # The state is what it was after epoch 2: later rows dropped, the best among those kept.
    assert [row["epoch"] for row in resume.state["history"]] == [1, 2]
    assert [r["epoch"] for r in resume.state["psnr_records"]] == [1, 2]
    assert resume.state["best"] == {"epoch": 2, "test_psnr_mean": 22.0}
    assert resume.state["checkpoint"] == runs.checkpoint_name(2)
    # Neither intact: one error naming both files (newest first) and the choice.
    older = tmp_path / "checkpoints" / "epoch-00002.keras"
    older.write_bytes(b"x" * older.stat().st_size)
    with pytest.raises(runs.DamagedCheckpointError) as info:
        runs.resume_point(run)
    message = str(info.value)
    assert message.startswith(f"{run} has no intact checkpoint to resume from ({newest}: checksum "
                              f"mismatch; {older}: checksum mismatch)") and "--restart" in message
    # A deleted checkpoint is "missing".
    newest.unlink()
    with pytest.raises(runs.DamagedCheckpointError, match=f"{newest}: missing"):
        runs.resume_point(run)
    # restart: what training wrote goes, the settings stay.
    (tmp_path / "config.json").write_text("{}")
    runs.clear_training(run)
    assert sorted(os.listdir(tmp_path)) == ["config.json"]
    assert runs.resume_point(run).epoch == 0


def test_a_disk_without_room_for_the_epoch_is_refused_before_writing(tmp_path, monkeypatch):
    import shutil

    from keras_gahb.runs import checkpoints

    run = str(tmp_path)
    _save(run, 1)
    before = {p: open(p, "rb").read() for p in glob.glob(f"{run}/**", recursive=True)
              if os.path.isfile(p)}
    usage = shutil.disk_usage(run)
    monkeypatch.setattr(checkpoints.shutil, "disk_usage",
                        lambda path: usage._replace(free=50_000))
    with pytest.raises(runs.NoSpaceLeftError) as info:
        _save(run, 2)
    assert str(info.value).startswith(
        f"no space left on device while writing {os.path.join(run, 'checkpoints', 'epoch-00002.keras')}"
        "; the run can resume from epoch 1 once there is room (")
    assert info.value.errno == 28 and info.value.epoch == 1
    after = {p: open(p, "rb").read() for p in glob.glob(f"{run}/**", recursive=True)
             if os.path.isfile(p)}
    assert after == before  # nothing of epoch 2 was written
    monkeypatch.setattr(checkpoints.shutil, "disk_usage",
                        lambda path: usage._replace(free=10_000_000))
    assert _save(run, 2)["epoch"] == 2  # the control: with room it is written
    # A full disk met elsewhere (a figure) names the file and the recorded epoch.
    with pytest.raises(runs.NoSpaceLeftError, match=r"while writing .*grid.png; the run can "
                                                    "resume from epoch 2 once"):
        with runs.reporting_full_disk(run):
            raise OSError(28, "No space left on device", os.path.join(run, "grid.png"))
    with pytest.raises(OSError, match="Permission"):  # other errors pass through
        with runs.reporting_full_disk(run):
            raise PermissionError(13, "Permission denied")
    assert "no epoch of the run is saved yet" in str(runs.NoSpaceLeftError("f", 0))


def test_the_lock_refuses_a_second_holder_waits_and_takes_over_a_stale_one(tmp_path):
    run = tmp_path / "run"
    with runs.RunLock(run) as lock:
        assert lock.held and runs.lock_holder(run)["pid"] == os.getpid()
        with pytest.raises(runs.RunFolderBusyError,
                           match=f"{run} is in use by process {os.getpid()}.*--wait"):
            runs.RunLock(run).acquire()
        with pytest.raises(runs.RunFolderBusyError):  # waiting gives up after its timeout
            runs.RunLock(run, wait=True, timeout=0.3, poll=0.1, verbose=0).acquire()
    assert not run.exists()  # created by the lock and left empty: removed
    assert runs.lock_holder(run) is None
    # A lock file of a process that has ended: taken over with a warning naming it.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run.mkdir()
    (run / ".lock").write_text(json.dumps({"pid": dead.pid}))
    assert runs.lock_holder(run) is None  # nobody holds it
    with pytest.warns(UserWarning, match=f"taking over the lock of process {dead.pid}"):
        with runs.RunLock(run):
            pass
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a lock released cleanly leaves no stale file
        with runs.RunLock(run):
            pass
    assert os.listdir(run) == []


def _model_folder(path, **config):
    from keras_gahb.models import from_preset

    path.mkdir(parents=True)
    from_preset("unet_tiny", image_channels=1).save(path / "model.keras")
    (path / "config.json").write_text(json.dumps({"config": config}))
    return path


def test_find_model_and_load_denoiser_take_a_run_folder_and_hint_at_close_paths(tmp_path):
    from keras_gahb.models import load_denoiser

    folder = _model_folder(tmp_path / "models" / "transition_n10000_s1", image_size=8)
    assert runs.find_model(folder) == str(folder / "model.keras")
    model, name = load_denoiser(str(folder) + "/")
    assert name == str(folder) and model.image_channels == 1
    # The folder's name with .keras: the hint names the run folder and its model.
    with pytest.raises(FileNotFoundError, match=rf"Did you mean the run folder {folder}/ \(its "
                                                rf"model is {folder}/model.keras\)"):
        load_denoiser(str(folder) + ".keras")
    # A close name (a typo) of a run folder next to it.
    with pytest.raises(FileNotFoundError, match=rf"Did you mean {folder}/\?"):
        runs.find_model(tmp_path / "models" / "transition_n10000_s2")
    # A run folder without its model yet, and a model file path inside it.
    pending = tmp_path / "pending"
    pending.mkdir()
    (pending / "config.json").write_text("{}")
    (pending / "state.json").write_text(json.dumps({"epoch": 0}))
    with pytest.raises(FileNotFoundError, match="is a run folder without model.keras: no epoch"):
        load_denoiser(str(pending))
    with pytest.raises(FileNotFoundError, match="is a run folder without model.keras"):
        load_denoiser(str(pending / "model.keras"))
    # A reproduction's folder: the model folders inside it.
    with pytest.raises(FileNotFoundError, match=rf"holds no model.keras but run folders that do: "
                                                rf"pass one of {tmp_path}/models/transition_n10000_s1"):
        runs.find_model(tmp_path)
    # The control: a far name gets no hint.
    with pytest.raises(FileNotFoundError) as info:
        load_denoiser(str(tmp_path / "models" / "calpha"), presets=False)
    assert "Did you mean" not in str(info.value)
    assert runs.trained_image_size(folder) == runs.trained_image_size(folder / "model.keras") == 8
    assert runs.trained_image_size(tmp_path / "elsewhere.keras") is None


def test_training_images_come_back_from_split_json_or_images_npz(tmp_path):
    from keras_gahb.data import disjoint_subsets, get_images

    # A dataset run: split.json records the pool and the indices; drawn again independently.
    pool = get_images("faces", 20, 8, seed=3)
    split = disjoint_subsets(20, 6, 8, seed=3)
    run = tmp_path / "faces"
    run.mkdir()
    train, test = pool[split.s2], pool[split.test]
    (run / "config.json").write_text(json.dumps({"config": {"image_size": 8}, "data": {
        "train": runs.fingerprint(train), "test": runs.fingerprint(test)}}))
    runs.record_training_images(run, {"source": runs.image_source("faces", 20, 8, seed=3),
                                      "train": split.s2.tolist(), "test": split.test.tolist()})
    got_train, got_test = runs.training_images(run / "model.keras")
    np.testing.assert_array_equal(got_train, train)
    np.testing.assert_array_equal(got_test, test)
    assert runs.trained_image_size(run) == 8 and runs.trained_channels(run) == 1
    # The recorded images differ from what the source gives now: an error, not another set.
    (run / "config.json").write_text(json.dumps({"config": {}, "data": {
        "train": {**runs.fingerprint(train), "sha256": "0" * 16}}}))
    with pytest.raises(ValueError, match="differ from those it trained on"):
        runs.training_images(run)
    # An older split.json (no source): completed from config.json's options.
    old = tmp_path / "old"
    old.mkdir()
    (old / "config.json").write_text(json.dumps({"config": {
        "dataset": "faces", "n": 6, "image_size": 8, "seed": 3, "channels": 1,
        "dataset_options": {}}}))
    (old / "split.json").write_text(json.dumps({"used": "s1", **split.to_dict()}))
    np.testing.assert_array_equal(runs.training_images(old)[0], pool[split.s1])
    # The caller's arrays without a source: stored as images.npz.
    arrays = tmp_path / "arrays"
    arrays.mkdir()
    (arrays / "state.json").write_text("{}")
    x = np.random.default_rng(0).uniform(size=(3, 4, 4, 3)).astype("float32")
    assert runs.record_training_images(arrays, train_images=x, test_images=x[:1]).endswith(
        "images.npz")
    assert runs.record_training_images(arrays, train_images=x, test_images=x) is None  # kept
    np.testing.assert_array_equal(runs.training_images(arrays)[0], x)
    with pytest.raises(FileNotFoundError, match="is not a run folder"):
        runs.training_images(tmp_path / "nothing")
