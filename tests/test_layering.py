"""The package's layering (docs/package_map.md): who may import what.

- Sampling and analysis read run folders through `keras_gahb.runs` and never import
  `keras_gahb.training`: checked on the source (every import statement, also inside functions)
  and at run time (a fresh process samples and analyses a run folder, then looks at sys.modules).
- Only keras_gahb/backend/ imports jax or torch, besides the authors' checkpoint reader and the
  tf.distribute / jax.distributed set-up.
Each scanner is tested both ways: it flags a module written to break the rule.
"""

import ast
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "keras_gahb")

#: Modules outside keras_gahb/backend/ that may import jax or torch, and why.
BACKEND_IMPORT_EXCEPTIONS = {
    "keras_gahb/models/official_checkpoint.py": "reads the authors' PyTorch checkpoint files",
    "keras_gahb/training/distribution.py": "tf.distribute and jax.distributed set-up",
}
#: Packages that must not import the training code (nor the experiments that train).
READERS = ("keras_gahb/data", "keras_gahb/runs", "keras_gahb/models", "keras_gahb/layers",
           "keras_gahb/sampling", "keras_gahb/analysis", "keras_gahb/utils", "keras_gahb/backend")


def imported_modules(source, package_path=None):
    """Every module an source file imports (absolute names), at any depth of the file."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level and package_path:  # relative: resolve against the file's package
                base = package_path.split(".")[: len(package_path.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _violations(files, forbidden, allowed=()):
    """{file: sorted imports} of the files importing a module under one of `forbidden`."""
    found = {}
    for path, source in files.items():
        if path in allowed:
            continue
        package = os.path.dirname(path).replace("/", ".")
        bad = sorted(name for name in imported_modules(source, package)
                     if any(name == f or name.startswith(f + ".") for f in forbidden))
        if bad:
            found[path] = bad
    return found


def _sources(*folders):
    files = {}
    for folder in folders:
        for dirpath, _, names in os.walk(os.path.join(ROOT, folder)):
            for name in names:
                if name.endswith(".py"):
                    full = os.path.join(dirpath, name)
                    with open(full, encoding="utf-8") as f:
                        files[os.path.relpath(full, ROOT).replace(os.sep, "/")] = f.read()
    return files


def test_the_import_scanner_sees_imports_inside_functions_and_relative_ones():
    source = textwrap.dedent("""
        import os

        def late():
            import jax.numpy as jnp
            from torch import nn
            from ..training import train
            return jnp, nn, train
    """)
    names = imported_modules(source, "keras_gahb.sampling")
    assert {"jax.numpy", "torch", "torch.nn", "keras_gahb.training.train", "os"} <= names
    files = {"keras_gahb/sampling/bad.py": source, "keras_gahb/sampling/good.py": "import os\n"}
    assert _violations(files, ("jax", "torch")) == {"keras_gahb/sampling/bad.py":
                                                     ["jax.numpy", "torch", "torch.nn"]}
    assert list(_violations(files, ("keras_gahb.training",))) == ["keras_gahb/sampling/bad.py"]


def test_only_the_backend_module_imports_jax_or_torch():
    files = {path: source for path, source in _sources("keras_gahb", "cli").items()
             if not path.startswith("keras_gahb/backend/")}
    assert _violations(files, ("jax", "torch"), allowed=BACKEND_IMPORT_EXCEPTIONS) == {}
    # The exceptions are real (a stale entry would hide nothing and should go).
    for path in BACKEND_IMPORT_EXCEPTIONS:
        assert _violations({path: files[path]}, ("jax", "torch")), path


def test_readers_of_run_folders_never_import_training_or_experiments():
    files = _sources(*READERS)
    assert len(files) > 40  # the scan saw the packages
    assert _violations(files, ("keras_gahb.training", "keras_gahb.experiments")) == {}


@pytest.mark.slow
def test_sampling_and_analysing_a_run_folder_does_not_import_training(tmp_path):
    """A fresh process loads a run folder, samples it and measures its PSNR on its own training
    images: keras_gahb.training is never imported. The control (importing keras_gahb.experiments,
    which trains) shows that the check sees an import when there is one."""
    import keras

    from keras_gahb import runs
    from keras_gahb.models import from_preset

    run = tmp_path / "run"
    run.mkdir()
    model = from_preset("unet_tiny", image_channels=1)
    model.save(run / "model.keras")
    rng = np.random.default_rng(0)
    train, test = (rng.uniform(0.2, 0.8, (n, 8, 8, 1)).astype("float32") for n in (4, 2))
    (run / "config.json").write_text(json.dumps({
        "config": {"dataset": "arrays", "image_size": 8, "channels": 1},
        "data": {"train": runs.fingerprint(train), "test": runs.fingerprint(test)}}))
    runs.record_training_images(run, train_images=train, test_images=test)
    code = textwrap.dedent(f"""
        import json, sys
        import keras_gahb
        from keras_gahb import analysis, models, runs, sampling
        from keras_gahb.analysis.run import analyze_psnr, load_images
        from keras_gahb.sampling import run_sampling
        run = {str(run)!r}
        denoiser, name = models.load_denoiser(run)
        summary = run_sampling({str(tmp_path / 'samples')!r}, run, num=1, max_steps=3, verbose=0)
        psnr = analyze_psnr({str(tmp_path / 'psnr')!r}, {{"n4": run}}, train=run,
                            test=(run, "test"), sigmas=(0.1,), num=4)
        sizes = [runs.trained_image_size(run), int(load_images(run).shape[0])]
        before = "keras_gahb.training" in sys.modules
        import keras_gahb.experiments
        after = "keras_gahb.training" in sys.modules
        print(json.dumps({{"before": before, "after": after, "sizes": sizes,
                          "shape": summary["summary"] is not None}}))
    """)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": keras.backend.backend()}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["sizes"] == [8, 4]  # the size and the images came from the run folder
    assert result["before"] is False  # sampling and analysis did not import training
    assert result["after"] is True  # the control: the check sees an import of training
