"""A newcomer's first hour (issue 27): run folders, readable figures, no silent conversion.

A `gahb train` run folder (unet_tiny, 8x8 faces, one epoch) is given to the CLI as a user
would (subprocesses of `python -m cli.main`): the folder is accepted, an RGB image for a gray
model and an image of another size warn in one line each, a size the model cannot take is an
error naming the file; figures are enlarged and titled by run folder; the model loads without
`import keras_gahb` only through the documented fix.
"""

import os
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest

import keras_gahb
from keras_gahb.models import model_title
from keras_gahb.training import train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "faces_n8"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one epoch: the PSNR callback says it is untrained
        train(str(run_dir), verbose=0, dataset="faces", n=8, test_size=4, image_size=8,
              preset="unet_tiny", epochs=1, batch_size=4, eval_sigmas=[0.1], eval_train_size=4,
              grid_images=2)
    return str(run_dir)


def _cli(*args, cwd=ROOT):
    """`gahb ARGS` as a user runs it (TensorFlow's start-up lines hidden by the CLI itself)."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for name in ("GAHB_DEBUG", "TF_CPP_MIN_LOG_LEVEL"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "cli.main", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def _python(code):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)


def _png_size(path):
    import matplotlib.image

    return matplotlib.image.imread(path).shape[:2]


def _red_box(path):
    """(height, width) of the bounding box of the pure red pixels of a PNG."""
    import matplotlib.image

    rgb = matplotlib.image.imread(path)[..., :3]
    red = (rgb[..., 0] > 0.9) & (rgb[..., 1] < 0.1) & (rgb[..., 2] < 0.1)
    rows, cols = np.nonzero(red)
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


def _save_png(path, image):
    import matplotlib.image

    if image.ndim == 2:
        matplotlib.image.imsave(path, image, cmap="gray", vmin=0.0, vmax=1.0)
    else:
        matplotlib.image.imsave(path, image)
    return str(path)


def _warning_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("Warning:")]


def test_model_title_is_the_run_folder_not_the_file_name(tmp_path):
    folder = tmp_path / "models" / "transition_n10000_s1"
    folder.mkdir(parents=True)
    assert model_title(str(folder / "model.keras")) == "transition_n10000_s1"
    assert model_title(str(folder)) == "transition_n10000_s1"
    assert model_title(str(folder) + os.sep) == "transition_n10000_s1"
    assert model_title("elsewhere/denoiser.keras") == "denoiser"  # a file named by its user
    assert model_title(keras.Sequential([keras.Input((4, 4, 1))], name="mine")) == "mine"


def test_a_run_folder_with_a_colour_image_of_another_size_warns_once_each(run, tmp_path):
    """RGB 16x16 on a gray model trained on 8x8: two one-line warnings naming the file, and the
    run goes on; the grid is enlarged to 64 px per image."""
    image = _save_png(tmp_path / "rgb16.png", np.random.default_rng(0).uniform(size=(16, 16, 3)))
    out = tmp_path / "inpaint"
    completed = _cli("sample", run, "--task", "inpaint", "--image", image, "--num", "1",
                     "--max-steps", "2", "--quiet", "--out", out)
    assert completed.returncode == 0, completed.stderr[-2000:]
    lines = _warning_lines(completed.stderr)
    assert len(lines) == 2, completed.stderr
    colour = next(line for line in lines if "colour" in line)
    assert "rgb16.png" in colour and "made gray" in colour and "takes 1 channel" in colour
    size = next(line for line in lines if "trained on" in line)
    assert "rgb16.png is 16x16" in size and "trained on 8x8" in size
    assert "Traceback" not in completed.stderr
    # clean, measured and one sample, each 16x16 enlarged 4x to 64x64, 1 px apart.
    assert _png_size(out / "grid.png") == (64, 3 * 65 - 1)


def test_a_size_the_model_cannot_take_is_an_error_naming_the_file(run, tmp_path):
    image = _save_png(tmp_path / "odd9.png", np.random.default_rng(1).uniform(size=(9, 9)))
    completed = _cli("analyze", "jacobian", run, "--image", image, "--sigma", "0.1", "--out",
                     tmp_path / "eig", "--quiet")
    assert completed.returncode == 1
    lines = [line for line in completed.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, completed.stderr
    assert "odd9.png is 9x9" in lines[0] and "divisible by 2" in lines[0]
    assert "8x8 or 10x10" in lines[0] and "bias_free_u_net" not in lines[0]


def test_gray_png_at_the_training_size_converts_without_a_word(run, tmp_path):
    """A gray image saved as an RGBA PNG (what matplotlib writes) loses nothing when made gray:
    no warning; a transparent alpha channel is lost: a warning."""
    from keras_gahb.sampling import load_image, run_sampling

    rng = np.random.default_rng(2)
    gray = _save_png(tmp_path / "gray8.png", rng.uniform(size=(8, 8)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_sampling(str(tmp_path / "s"), run, task="inpaint", image=gray, num=1, max_steps=2,
                     verbose=0)
    assert not [w for w in caught if issubclass(w.category, UserWarning)], [
        str(w.message) for w in caught]
    rgba = np.concatenate([np.repeat(rng.uniform(size=(8, 8, 1)), 3, -1),
                           np.full((8, 8, 1), 0.5)], axis=-1)
    with pytest.warns(UserWarning, match="alpha channel"):
        load_image(_save_png(tmp_path / "rgba.png", rgba), channels=1)


def test_figures_are_enlarged_and_titled_by_run_folder(run, tmp_path, monkeypatch):
    from keras_gahb.analysis import figures
    from keras_gahb.sampling import plots, run_sampling
    from keras_gahb.training import DenoisedGridCallback

    titles = {}
    original = plots.save_comparison_grid

    def comparison(path, a, b, **options):
        titles["compare"] = options["titles"]
        return original(path, a, b, **options)

    monkeypatch.setattr(plots, "save_comparison_grid", comparison)
    monkeypatch.setattr(plots, "plot_sigma_trajectories",
                        lambda path, s, f, title="": titles.__setitem__("sigmas", title))
    run_sampling(str(tmp_path / "cmp"), run, compare=os.path.join(run, "model.keras"), num=3,
                 max_steps=2, verbose=0)
    name = os.path.basename(run)
    assert titles["compare"] == (name, name) and titles["sigmas"] == f"sigma_t, {name}"
    # compare.png: an 8x8 image (pure red) is drawn at 64x64 screen pixels.
    red = np.zeros((3, 8, 8, 3), "float32")
    red[0, ..., 0] = 1.0
    plots.save_comparison_grid(str(tmp_path / "c.png"), red, red[::-1], titles=("a", "b"))
    assert min(_red_box(str(tmp_path / "c.png"))) >= 64
    # The training grid (clean, noisy, denoised rows of 2 images) and the Fig 1 layout.
    grid = DenoisedGridCallback(np.zeros((2, 8, 8, 1), "float32"), None).make_grid(
        keras_gahb.load_model(run))
    assert grid.shape == (3 * 65 - 1, 2 * 65 - 1, 1)
    figures.fig1_layout(str(tmp_path / "f.png"), [{"n": 1, "images": [red[0]] + [red[1]] * 3}])
    assert min(_red_box(str(tmp_path / "f.png"))) >= 64


def test_loading_without_import_fails_with_the_documented_message_and_load_model_works(run):
    """In a fresh process Keras alone cannot find the classes (the message docs/models.md quotes);
    keras_gahb.load_model(run folder) loads the same model."""
    code = (
        "import keras, numpy as np, os\n"
        f"path = os.path.join({run!r}, 'model.keras')\n"
        "try:\n"
        "    keras.saving.load_model(path)\n"
        "except Exception as error:\n"
        "    print('RAW:', str(error).replace(chr(10), ' ')[:300])\n"
        "import keras_gahb\n"
        f"model = keras_gahb.load_model({run!r})\n"
        "y = keras.ops.convert_to_numpy(model(np.full((1, 8, 8, 1), 0.5, 'float32')))\n"
        "print('LOADED:', type(model).__name__, repr(float(y.sum())))\n"
    )
    completed = _python(code)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "RAW: Could not locate class 'BiasFreeUNet'" in completed.stdout
    loaded = completed.stdout.split("LOADED: ", 1)[1].split()
    assert loaded[0] == "BiasFreeUNet"
    here = keras.saving.load_model(os.path.join(run, "model.keras"))
    expected = float(keras.ops.convert_to_numpy(here(np.full((1, 8, 8, 1), 0.5, "float32"))).sum())
    assert float(loaded[1]) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(FileNotFoundError):  # a folder without a model.keras
        keras_gahb.load_model(os.path.dirname(run))
