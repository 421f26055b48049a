"""What long runs meet, through the real CLI in subprocesses (issue 26): two processes on one
folder, a killed run's stale lock and a damaged checkpoint, a loss that turns non-finite after
good epochs, a full disk.

Each case asserts the one line on stderr, the exit status, what is left in the run folder, and
that the corrected command then resumes and finishes. Tiny settings: unet_tiny (1 level, width 8)
on 8x8 built-in faces, 2 steps per epoch. Faults are injected by a driver that runs the CLI with a
callback added to `keras_gahb.training.train` (as tests/training/test_multi_worker.py does): it
kills its own process at the end of an epoch, or puts NaN into a weight at the start of one.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FLAGS = ["--dataset", "faces", "--n", "8", "--test-size", "4", "--image-size", "8",
         "--preset", "unet_tiny", "--batch-size", "4", "--eval-sigmas", "0.1",
         "--eval-train-size", "4", "--quiet"]

DRIVER = textwrap.dedent("""
    import os, signal, sys
    from cli.main import quiet_tensorflow
    quiet_tensorflow()  # as `gahb` does, before TensorFlow is imported
    import keras, numpy as np
    import keras_gahb.training as training

    mode, at, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]

    class Fault(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if mode == "nan" and epoch + 1 == at:
                variable = self.model.trainable_variables[0]
                variable.assign(np.full(variable.shape, np.nan, "float32"))

        def on_epoch_end(self, epoch, logs=None):
            if mode == "kill" and epoch + 1 == at:  # after the epoch is saved
                os.kill(os.getpid(), signal.SIGKILL)

    train = training.train
    training.train = lambda out, **options: train(out, callbacks=[Fault()], **options)
    from cli.main import gahb
    gahb.main(args=argv, prog_name="gahb")
""")


def _env():
    env = {key: value for key, value in os.environ.items()
           if key != "TF_CONFIG" and not key.startswith("KERAS_DISTRIBUTION_")}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the CLI hides TensorFlow's start-up lines itself
    env.update({"KERAS_BACKEND": keras.backend.backend(), "PYTHONPATH": ROOT})
    if keras.backend.backend() == "jax":  # compiles the initializers of a fresh process faster
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0").strip()
    return env


def _gahb(*args, fault=None, timeout=600):
    """`python -m cli.main train ...` (or the fault driver); the CompletedProcess."""
    args = ["train", *FLAGS, *[str(a) for a in args]]
    if fault is None:
        command = [sys.executable, "-m", "cli.main", *args]
    else:
        command = [sys.executable, "-c", DRIVER, fault[0], str(fault[1]), *args]
    return subprocess.run(command, cwd=ROOT, env=_env(), capture_output=True, text=True,
                          timeout=timeout)


def _lines(stderr, prefix):
    return [line for line in stderr.splitlines() if line.startswith(prefix)]


def _one_line_error(done, *fragments):
    """Exit status 1, one `Error:` line holding every fragment, nothing else but warnings."""
    assert done.returncode == 1, (done.returncode, done.stderr[-3000:])
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr
    other = [line for line in done.stderr.splitlines()
             if line.strip() and not line.startswith(("Error:", "Warning:"))]
    assert other == [], done.stderr
    errors = _lines(done.stderr, "Error:")
    assert len(errors) == 1, done.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def _finished(done, out, epochs):
    assert done.returncode == 0, done.stderr[-3000:]
    state = json.loads((out / "state.json").read_text())
    assert state["status"] == "finished" and state["epoch"] == epochs
    assert [row["epoch"] for row in state["history"]] == list(range(1, epochs + 1))
    assert not (out / ".lock").exists()
    return state


def _checkpoints(out):
    return sorted(os.listdir(out / "checkpoints"))


def _model_is_finite(path):
    import keras_gahb.models  # noqa: F401  (registers the classes)

    model = keras.saving.load_model(path)
    return all(np.all(np.isfinite(keras.ops.convert_to_numpy(w))) for w in model.weights)


@pytest.mark.slow
def test_a_second_process_is_refused_or_waits(tmp_path):
    out = tmp_path / "run"
    # A process that holds the folder (the lock alone; NumPy backend, so it starts fast).
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys\nfrom keras_gahb.runs import RunLock\n"
         f"with RunLock({str(out)!r}):\n    print('held', flush=True)\n    sys.stdin.read()\n"],
        cwd=ROOT, env={**_env(), "KERAS_BACKEND": "numpy"}, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        refused = _gahb("--epochs", 2, "--out", out)
        _one_line_error(refused, f"{out} is in use by process {holder.pid}", "--wait")
        assert os.listdir(out) == [".lock"]  # the refused command wrote nothing
        # The same command with --wait starts once the holder is done, and finishes.
        log = tmp_path / "waiting.err"
        with open(log, "w") as err:
            waiting = subprocess.Popen(
                [sys.executable, "-m", "cli.main", "train", *FLAGS, "--epochs", "2", "--out",
                 str(out), "--wait"], cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=err,
                text=True)
        deadline = time.monotonic() + 300
        while "Waiting for process" not in log.read_text():
            assert time.monotonic() < deadline and waiting.poll() is None, log.read_text()
            time.sleep(0.2)
        assert not (out / "config.json").exists()  # it waits, writing nothing
        holder.stdin.close()
        assert holder.wait(timeout=60) == 0
        stdout, _ = waiting.communicate(timeout=600)
        stderr = log.read_text()
    finally:
        if holder.poll() is None:
            holder.kill()
    done = subprocess.CompletedProcess(waiting.args, waiting.returncode, stdout, stderr)
    assert f"Waiting for process {holder.pid} to release {out}" in stderr
    _finished(done, out, 2)



@pytest.mark.slow
def test_a_damaged_newest_checkpoint_falls_back_and_none_intact_asks_for_restart(tmp_path):
    out = tmp_path / "run"
    killed = _gahb("--epochs", 3, "--out", out, fault=("kill", 2))
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert _checkpoints(out) == ["epoch-00001.keras", "epoch-00001.keras.sha256",
                                 "epoch-00002.keras", "epoch-00002.keras.sha256"]
    dead = json.loads((out / ".lock").read_text())  # a killed process leaves its lock file
    first_row = json.loads((out / "state.json").read_text())["history"][0]
    both = tmp_path / "both"
    shutil.copytree(out, both)

    # 1. The newest checkpoint cut to half: a warning names it, the run resumes from epoch 1.
    newest = out / "checkpoints" / "epoch-00002.keras"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
    resumed = _gahb("--epochs", 3, "--out", out)
    state = _finished(resumed, out, 3)
    warnings = _lines(resumed.stderr, "Warning:")
    assert f"Warning: checkpoint {newest} is damaged (checksum mismatch); resuming from epoch 1" \
        in warnings, resumed.stderr
    assert (f"Warning: {out}: taking over the lock of process {dead['pid']} (since {dead['since']}), "
            "which no longer runs (it was killed or crashed); its last saved epoch is kept."
            in warnings), resumed.stderr
    assert "3 epochs (resumed)" in resumed.stdout
    assert state["history"][0] == first_row  # epoch 1 was kept, epochs 2 and 3 trained again
    assert _checkpoints(out) == ["epoch-00002.keras", "epoch-00002.keras.sha256",
                                 "epoch-00003.keras", "epoch-00003.keras.sha256"]
    assert state["checkpoint"] == os.path.join("checkpoints", "epoch-00003.keras")

    # 2. No intact checkpoint: one line naming the files and --restart; nothing is changed.
    for name in ("epoch-00001.keras", "epoch-00002.keras"):
        path = both / "checkpoints" / name
        path.write_bytes(b"\0" * 100 + path.read_bytes()[100:])  # same size, other bytes
    before = sorted(name for name in os.listdir(both) if name != ".lock")  # the killed run's lock
    line = _one_line_error(_gahb("--epochs", 3, "--out", both), f"{both} has no intact checkpoint",
                           f"{both / 'checkpoints' / 'epoch-00002.keras'}: checksum mismatch",
                           f"{both / 'checkpoints' / 'epoch-00001.keras'}: checksum mismatch",
                           "--restart")
    assert line.index("epoch-00002") < line.index("epoch-00001")  # newest first
    assert sorted(os.listdir(both)) == before  # nothing changed (the stale lock was taken over
    # and released)
    restarted = _gahb("--epochs", 3, "--out", both, "--restart")
    state = _finished(restarted, both, 3)
    assert "(resumed)" not in restarted.stdout  # trained again from epoch 0
    assert state["history"][0] != first_row


@pytest.mark.slow
def test_a_loss_that_turns_non_finite_keeps_the_last_finite_epoch_and_resumes_at_a_lower_lr(
        tmp_path):
    out = tmp_path / "run"
    stopped = _gahb("--epochs", 2, "--out", out, fault=("nan", 2))
    _one_line_error(stopped, f"Training of {out} stopped in epoch 2: the loss became non-finite",
                    "The last finite epoch, epoch 1, is kept", "a rerun resumes from it",
                    "lower learning rate", "--lr 0.0005")
    state = json.loads((out / "state.json").read_text())
    assert state["status"] == "running" and state["epoch"] == 1
    assert state["stopped"] == {"reason": "non-finite loss", "epoch": 2}
    assert [row["epoch"] for row in state["history"]] == [1]
    assert _checkpoints(out) == ["epoch-00001.keras", "epoch-00001.keras.sha256"]
    assert _model_is_finite(out / "model.keras")
    assert not (out / ".lock").exists()
    first_row = state["history"][0]
    resumed = _gahb("--epochs", 2, "--out", out, "--lr", "0.0005")
    state = _finished(resumed, out, 2)
    assert "2 epochs (resumed)" in resumed.stdout and state["history"][0] == first_row
    assert "stopped" not in state
    config = json.loads((out / "config.json").read_text())
    assert config["config"]["lr"] == 0.0005
    assert config["changes"] == [{"change": "lr: 0.001 saved, 0.0005 now", "after_epoch": 1}]
    assert _model_is_finite(out / "model.keras")


def _small_filesystem_problem():
    """Why this machine cannot make a private tmpfs for the test, or None when it can."""
    if sys.platform != "linux" or shutil.which("unshare") is None:
        return "needs Linux with unshare(1)"
    if os.geteuid() != 0:
        return "needs root to mount a tmpfs in a private mount namespace"
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True, text=True)
    if probe.returncode:
        return f"cannot mount a tmpfs in a private mount namespace: {probe.stderr.strip()}"
    return None


@pytest.mark.slow
def test_a_full_disk_stops_with_one_line_and_the_run_resumes_once_there_is_room(tmp_path):
    problem = _small_filesystem_problem()
    if problem:
        pytest.skip(f"disk-full test skipped: {problem}")
    from keras_gahb.models import from_preset
    from keras_gahb.training import compile_denoiser
    from keras_gahb.utils import model_bytes

    # What one epoch writes: a checkpoint, model.keras and model_best.keras of about this size.
    model = from_preset("unet_tiny", image_channels=1)
    compile_denoiser(model, schedule="constant")
    model.optimizer.build(model.trainable_variables)
    size = len(model_bytes(model))
    # Room for epoch 1 (3 files, small ones, a 64 KiB margin) but not for epoch 2 beside it.
    kib = (4 * size + 160 * 1024) // 1024
    mount = tmp_path / "small"
    mount.mkdir()
    run = mount / "run"
    train = [sys.executable, "-m", "cli.main", "train", *FLAGS, "--epochs", "2", "--out", str(run)]
    fill = ("import sys, keras_gahb.utils as u\n"
            "try:\n    u.atomic_write_bytes(sys.argv[1], b'x' * (64 << 20))\n"
            "except OSError as e:\n    print(e.errno, e.filename)\n")
    script = textwrap.dedent(f"""
        set -u
        mount -t tmpfs -o size={kib}k tmpfs {mount}
        {' '.join(train)} > {tmp_path}/out1 2> {tmp_path}/err1; echo $? > {tmp_path}/rc1
        cp -a {run} {tmp_path}/after1
        KERAS_BACKEND=numpy {sys.executable} -c "{fill}" {mount}/big > {tmp_path}/fill
        ls -a {mount} > {tmp_path}/fill_left
        mount -o remount,size=16m {mount}
        {' '.join(train)} > {tmp_path}/out2 2> {tmp_path}/err2; echo $? > {tmp_path}/rc2
        cp -a {run} {tmp_path}/after2
    """)
    subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=ROOT, env=_env(), check=True,
                   timeout=1200)
    first = subprocess.CompletedProcess(train, int((tmp_path / "rc1").read_text()),
                                        (tmp_path / "out1").read_text(),
                                        (tmp_path / "err1").read_text())
    checkpoint = run / "checkpoints" / "epoch-00002.keras"
    line = _one_line_error(first, f"no space left on device while writing {checkpoint}; the run "
                                  "can resume from epoch 1 once there is room")
    assert "needed" in line and "free" in line
    after = tmp_path / "after1"
    state = json.loads((after / "state.json").read_text())
    assert state["epoch"] == 1 and state["status"] == "running"
    assert _checkpoints(after) == ["epoch-00001.keras", "epoch-00001.keras.sha256"]
    assert not [name for name in os.listdir(after) if "partial" in name or name.startswith(".tmp")]
    assert not (after / ".lock").exists()
    assert _model_is_finite(after / "model.keras")
    # A write that the disk cannot hold fails in Python (ENOSPC, naming the file), leaving nothing.
    assert (tmp_path / "fill").read_text().split() == ["28", f"{mount}/big"]
    assert "big" not in (tmp_path / "fill_left").read_text()

    second = subprocess.CompletedProcess(train, int((tmp_path / "rc2").read_text()),
                                         (tmp_path / "out2").read_text(),
                                         (tmp_path / "err2").read_text())
    resumed = _finished(second, tmp_path / "after2", 2)
    assert "2 epochs (resumed)" in second.stdout and resumed["history"][0] == state["history"][0]
