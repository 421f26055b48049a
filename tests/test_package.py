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
