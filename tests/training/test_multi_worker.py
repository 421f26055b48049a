"""Two worker processes on 127.0.0.1 train one model: MultiWorkerMirroredStrategy
(TensorFlow) and keras.distribution.DataParallel across two JAX processes.

Each worker runs `gahb train --strategy multi_worker` (the command of
docs/distributed.md) with its TF_CONFIG, through a small driver that adds an
observing callback to the run: it records the training weights after every
epoch and can kill its own process (SIGKILL) at the end of an epoch. The test
checks that the two workers hold identical weights after each epoch, that only
the chief writes (the non-chief is given another --out folder, which must stay
absent), that after a worker is killed, the same command on both workers
resumes from the last checkpoint and finishes, and that the weights after each
epoch equal those of the same command run in one process without a strategy
(the same global batches; `--sync-batch-norm` gives the batch norm the global
batch's statistics, as on one device). The JAX test runs the same command with
`--strategy data_parallel` in two processes joined by `jax.distributed` (a
coordinator on a 127.0.0.1 port, one CPU device each) and checks the same
agreements and the single writer.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

DRIVER = textwrap.dedent("""
    import json, os, signal, sys
    import keras
    import keras_gahb.training as training

    log_path, kill_after, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]

    class Observe(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            weights = [keras.ops.convert_to_numpy(v.value).ravel().tolist()
                       for v in self.model.trainable_variables]
            with open(log_path, "a") as f:
                f.write(json.dumps({"epoch": epoch + 1, "weights": weights}) + "\\n")
            if epoch + 1 == kill_after:
                os.kill(os.getpid(), signal.SIGKILL)

    train = training.train
    training.train = lambda out, **options: train(out, callbacks=[Observe()], **options)
    from cli.main import gahb
    gahb.main(args=argv, prog_name="gahb")
""")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FLAGS = ["--dataset", "faces", "--n", "8", "--test-size", "4", "--image-size", "8",
         "--preset", "unet_tiny", "--epochs", "2", "--batch-size", "4",
         "--lr", "0.01", "--eval-sigmas", "0.1", "--eval-train-size", "4", "--quiet",
         "--sync-batch-norm"]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tf_config(ports, index):
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                       "task": {"type": "worker", "index": index}})


def _start(tmp_path, name, out, tf_config, kill_after=0, backend="tensorflow", cluster=None):
    """A `gahb train` process: with tf_config (TensorFlow) or cluster (JAX: the
    KERAS_DISTRIBUTION_* variables) one worker of a cluster, else one process
    without a strategy."""
    env = {key: value for key, value in os.environ.items()
           if key != "TF_CONFIG" and not key.startswith("KERAS_DISTRIBUTION_")}
    env.update({"KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ROOT})
    if backend == "jax":
        # XLA:CPU compiles each weight initializer of a fresh process for seconds (31 CPU-s to
        # build unet_tiny); the lowest optimization level compiles about 2.7x faster, and the
        # tiny model's few steps do not miss the optimizations. Same flags for every process.
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0").strip()
    strategy = []
    if tf_config:
        env["TF_CONFIG"] = tf_config
        strategy = ["--strategy", "multi_worker"]
    if cluster:
        env.update(cluster)
        strategy = ["--strategy", "data_parallel"]
    log = open(tmp_path / f"{name}.out", "w")
    args = ["train", *FLAGS, *strategy, "--out", str(out)]
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(tmp_path / f"{name}.jsonl"), str(kill_after), *args],
        env=env, stdout=log, stderr=subprocess.STDOUT)


def _epochs(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def _output(tmp_path, name):
    return (tmp_path / f"{name}.out").read_text()[-3000:]


def _assert_same_weights(a, b, atol=0.0):
    assert a["epoch"] == b["epoch"]
    assert len(a["weights"]) == len(b["weights"])
    for x, y in zip(a["weights"], b["weights"]):
        if atol:
            np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=0, atol=atol)
        else:
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="MultiWorkerMirroredStrategy is tf.distribute (TensorFlow backend)")
def test_two_workers_agree_only_the_chief_writes_and_a_killed_worker_resumes(tmp_path):
    run, other = tmp_path / "run", tmp_path / "worker1_out"
    # 0. The reference: the same command in one process, no strategy (runs beside step 1).
    single = _start(tmp_path, "single", tmp_path / "single_run", None)
    # 1. Both workers start; worker 1 is killed at the end of epoch 1.
    ports = [_free_port(), _free_port()]
    chief = _start(tmp_path, "chief1", run, _tf_config(ports, 0))
    worker = _start(tmp_path, "worker1", other, _tf_config(ports, 1), kill_after=1)
    assert worker.wait(timeout=300) == -signal.SIGKILL, _output(tmp_path, "worker1")
    try:  # the chief stops on the lost peer (TensorFlow's heartbeat) or is stopped here
        chief.wait(timeout=60)
    except subprocess.TimeoutExpired:
        chief.kill()
        chief.wait()
    assert chief.returncode != 0, _output(tmp_path, "chief1")
    state = json.loads((run / "state.json").read_text())
    assert state["epoch"] == 1 and state["status"] == "running"
    assert os.path.exists(run / state["checkpoint"])
    assert not other.exists()  # the non-chief wrote nothing, not even its --out folder
    first_chief, first_worker = _epochs(tmp_path / "chief1.jsonl"), _epochs(
        tmp_path / "worker1.jsonl")
    assert [e["epoch"] for e in first_worker] == [1]
    _assert_same_weights(first_chief[0], first_worker[0])

    # 2. The same command on both workers (one shared --out) resumes after epoch 1.
    ports = [_free_port(), _free_port()]
    chief = _start(tmp_path, "chief2", run, _tf_config(ports, 0))
    worker = _start(tmp_path, "worker2", run, _tf_config(ports, 1))
    assert worker.wait(timeout=300) == 0, _output(tmp_path, "worker2")
    assert chief.wait(timeout=120) == 0, _output(tmp_path, "chief2")
    for name in ("chief2", "worker2"):  # epoch 2 only: both resumed from the checkpoint
        assert [e["epoch"] for e in _epochs(tmp_path / f"{name}.jsonl")] == [2]
    _assert_same_weights(_epochs(tmp_path / "chief2.jsonl")[0],
                         _epochs(tmp_path / "worker2.jsonl")[0])
    state = json.loads((run / "state.json").read_text())
    assert state["status"] == "finished" and state["epoch"] == 2 and state["replicas"] == 2
    assert [row["epoch"] for row in state["history"]] == [1, 2]
    assert sorted(os.listdir(run / "checkpoints")) == [  # the last two, each with its checksum
        "epoch-00001.keras", "epoch-00001.keras.sha256", "epoch-00002.keras",
        "epoch-00002.keras.sha256"]
    assert not (run / ".lock").exists()  # the chief released its lock
    for name in ("model.keras", "model_best.keras", "history.csv", "psnr_curves.json"):
        assert (run / name).exists(), name

    # 3. Epoch 1 (first start) and epoch 2 (after the resume) equal the one-process run up to
    # float rounding (gradient sums all-reduced in another order; 3.6e-6 after 2 steps measured
    # with a constant lr of 0.01, docs/distributed.md).
    assert single.wait(timeout=300) == 0, _output(tmp_path, "single")
    reference = _epochs(tmp_path / "single.jsonl")
    assert [e["epoch"] for e in reference] == [1, 2]
    _assert_same_weights(first_chief[0], reference[0], atol=1e-4)
    _assert_same_weights(_epochs(tmp_path / "chief2.jsonl")[0], reference[1], atol=1e-4)
    moved = max(np.max(np.abs(np.subtract(x, y)))
                for x, y in zip(reference[0]["weights"], reference[1]["weights"]))
    assert moved > 1e-3  # an epoch moves the weights far more than the tolerance


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "jax",
                    reason="jax.distributed across processes with keras.distribution (JAX backend)")
def test_two_jax_processes_agree_with_one_and_only_process_0_writes(tmp_path):
    run, other = tmp_path / "run", tmp_path / "process1_out"
    single = _start(tmp_path, "single", tmp_path / "single_run", None, backend="jax")
    address = f"127.0.0.1:{_free_port()}"  # the coordinator, in process 0
    processes = [
        _start(tmp_path, f"process{i}", out, None, backend="jax",
               cluster={"KERAS_DISTRIBUTION_JOB_ADDRESSES": address,
                        "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
                        "KERAS_DISTRIBUTION_PROCESS_ID": str(i)})
        for i, out in enumerate((run, other))]
    for i, process in enumerate(processes):
        assert process.wait(timeout=300) == 0, _output(tmp_path, f"process{i}")
    assert single.wait(timeout=300) == 0, _output(tmp_path, "single")
    first, second, reference = (_epochs(tmp_path / f"{name}.jsonl")
                                for name in ("process0", "process1", "single"))
    assert [e["epoch"] for e in first] == [e["epoch"] for e in reference] == [1, 2]
    for a, b, c in zip(first, second, reference):
        _assert_same_weights(a, b)  # the replicated weights: bit-identical on both processes
        _assert_same_weights(a, c, atol=1e-4)  # one process on the same global batches
    moved = max(np.max(np.abs(np.subtract(x, y)))
                for x, y in zip(reference[0]["weights"], reference[1]["weights"]))
    assert moved > 1e-3
    assert not other.exists()  # process 1 wrote nothing
    state = json.loads((run / "state.json").read_text())
    assert state["status"] == "finished" and state["replicas"] == 2
    assert [row["epoch"] for row in state["history"]] == [1, 2]
    single_state = json.loads((tmp_path / "single_run" / "state.json").read_text())
    np.testing.assert_allclose(state["history"][-1]["test_psnr_s0.1"],
                               single_state["history"][-1]["test_psnr_s0.1"], atol=1e-3)
    for name in ("model.keras", "model_best.keras", "history.csv", "psnr_curves.json",
                 "denoised_grid.png"):
        assert (run / name).exists(), name


def test_chief_is_read_from_tf_config(monkeypatch):
    from keras_gahb.training import is_chief

    def config(cluster, kind, index):
        monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster,
                                                    "task": {"type": kind, "index": index}}))

    workers = {"worker": ["a:1", "b:2"]}
    config(workers, "worker", 0)
    assert is_chief("multi_worker")
    config(workers, "worker", 1)
    assert not is_chief("multi_worker")
    config({"chief": ["c:0"], **workers}, "worker", 0)
    assert not is_chief("multi_worker")
    config({"chief": ["c:0"], **workers}, "chief", 0)
    assert is_chief("multi_worker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON"):
        is_chief("multi_worker")
    monkeypatch.delenv("TF_CONFIG")
    assert is_chief("multi_worker") and is_chief(None)
