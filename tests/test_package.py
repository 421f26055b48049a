"""The package as a whole: importing it has no side effects on the user's session."""

import os
import subprocess
import sys

import pytest

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(code):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", code], cwd=_ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_drawing_figures_leaves_the_matplotlib_backend_alone(tmp_path):
    # A notebook's inline backend must survive importing keras_gahb and drawing its figures;
    # "template" is a non-interactive backend that Agg must not replace.
    code = (
        "import matplotlib, numpy as np\n"
        "matplotlib.use('template')\n"
        "import keras_gahb\n"
        "from keras_gahb.analysis import figures\n"
        "from keras_gahb.training import plots\n"
        "from keras_gahb.data import save_image_grid\n"
        f"figures.train_test_gap_figure({str(tmp_path / 'a.png')!r}, {{'s': {{10: 1.0, 100: 0.5}}}})\n"
        f"plots.plot_psnr_curves({str(tmp_path / 'b.png')!r}, [0.1], {{'t': [20.0]}}, {{'t': [25.0]}})\n"
        f"save_image_grid(np.zeros((2, 4, 4, 1)), {str(tmp_path / 'c.png')!r})\n"
        "import matplotlib.pyplot as plt\n"
        "print(matplotlib.get_backend(), len(plt.get_fignums()))\n"
    )
    assert _run(code) == "template 0"
    for name in "abc":
        with open(tmp_path / f"{name}.png", "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_import_is_lazy():
    # `import keras_gahb` costs about `import keras` (+ the models, registered for load_model):
    # no scipy.stats, and no matplotlib beyond what Keras itself imports (keras.src.visualization
    # imports matplotlib.pyplot when it is installed); the other subpackages load on first use.
    code = (
        "import sys, keras\n"
        "before = set(sys.modules)\n"
        "import keras_gahb\n"
        "added = set(sys.modules) - before\n"
        "heavy = sorted(m for m in added if m.split('.')[0] == 'matplotlib' or m.startswith("
        "('scipy.stats', 'keras_gahb.analysis', 'keras_gahb.training', 'keras_gahb.sampling',"
        " 'keras_gahb.experiments', 'keras_gahb.data')))\n"
        "heavy += ['scipy.stats'] if 'scipy.stats' in sys.modules else []\n"
        "registered = keras.saving.get_registered_object('keras_gahb>BiasFreeUNet') is not None\n"
        "lazy = keras_gahb.training.TrainConfig.__name__\n"
        "print(heavy, registered, lazy, 'training' in dir(keras_gahb))\n"
    )
    assert _run(code) == "[] True TrainConfig True"


@pytest.mark.slow
def test_cli_first_screen_has_no_tensorflow_noise():
    # TensorFlow prints C++ start-up lines (absl warnings, cuInit errors) on import; the CLI hides
    # them unless GAHB_DEBUG=1 or the user set TF_CPP_MIN_LOG_LEVEL.
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "GAHB_DEBUG")}
    env["KERAS_BACKEND"] = "tensorflow"
    done = subprocess.run([sys.executable, "-m", "cli.main", "data", "list"], cwd=_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr == ""
    assert "faces" in done.stdout


def test_cli_quiets_tensorflow_only_by_default(monkeypatch):
    from cli.main import quiet_tensorflow

    monkeypatch.delenv("GAHB_DEBUG", raising=False)
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")  # the user's choice is kept
    quiet_tensorflow()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL")
    monkeypatch.setenv("GAHB_DEBUG", "1")  # debugging shows everything
    quiet_tensorflow()
    assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ
    monkeypatch.delenv("GAHB_DEBUG")
    quiet_tensorflow()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"


@pytest.mark.slow
def test_a_find_spec_probe_does_not_use_up_the_quieting():
    # torch._dynamo probes importlib.util.find_spec("tensorflow") long before TensorFlow is
    # imported; the quieting must still cover the real import (under torch the CLI printed
    # TensorFlow's start-up lines because the probe had used it up).
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "GAHB_DEBUG")}
    code = ("import importlib.util\n"
            "from cli.main import quiet_tensorflow\n"
            "quiet_tensorflow()\n"
            "assert importlib.util.find_spec('tensorflow') is not None\n"
            "import tensorflow\n"
            "tensorflow.constant(1.0)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=_ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr == ""
