"""Denoisers trained by keras_gahb that ship with it: named presets with weights.

Each lives in `keras_gahb/models/pretrained/<name>/` as `manifest.json` (the architecture,
the data it was trained on, its recipe, the command that retrains it, and its test PSNRs
on images regenerated from a seed) beside `model.weights.h5` (Keras weights, readable by the
TensorFlow, JAX and PyTorch backends).

    >>> denoiser = keras_gahb.models.from_preset("calpha2_medium", weights=True)
    >>> keras_gahb.models.pretrained_test_psnr("calpha2_medium")  # recomputes the stored PSNRs

`export_pretrained` writes such a folder from a trained model (how the shipped ones were made).
"""

import json
import os
import shutil
import tempfile

import numpy as np

#: Where the shipped presets live (package data).
PRETRAINED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pretrained")
MANIFEST = "manifest.json"
WEIGHTS = "model.weights.h5"
#: Test images and noise levels of the stored PSNRs.
TEST_IMAGES, TEST_SIGMAS, TEST_SEED = 64, (0.02, 0.04, 0.08, 0.16, 0.32), 20_261_208


def pretrained_presets(root=None):
    """{name: manifest} of every preset with weights under `root` (default: the shipped ones)."""
    root = root or PRETRAINED_DIR
    found = {}
    if not os.path.isdir(root):
        return found
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name, MANIFEST)
        if os.path.isfile(path) and os.path.isfile(os.path.join(root, name, WEIGHTS)):
            with open(path, encoding="utf-8") as f:
                found[name] = json.load(f)
    return found


def get_pretrained(name, root=None):
    """The manifest of a preset with weights, or a ValueError listing those there are."""
    presets = pretrained_presets(root)
    if name not in presets:
        listed = ", ".join(presets) or "none are installed"
        raise ValueError(f"No shipped weights for preset {name!r}. Presets with weights: "
                         f"{listed}.")
    return presets[name]


def build_architecture(manifest, name=None, **overrides):
    """The untrained denoiser of a manifest's architecture, built at its image size.

    `name` (default: the manifest's) becomes the Keras model name; `overrides` are
    constructor arguments.
    """
    from keras_gahb.models import _CLASSES, get_preset

    arch = manifest["architecture"]
    spec = get_preset(arch["preset"])
    channels = arch.get("image_channels", 1)
    model = _CLASSES[spec["class"]](**{**spec["config"], **arch.get("overrides", {}),
                                       "image_channels": channels,
                                       "name": name or manifest["name"], **overrides})
    side = manifest["data"]["image_size"]
    model(np.zeros((1, side, side, channels), "float32"))  # build the weights
    return model


def load_pretrained(name, root=None, **overrides):
    """The denoiser of a preset with weights, built from its manifest and its weights loaded.

    Args:
        name: a name of `pretrained_presets()`.
        root: folder of the presets. Default: the shipped ones.
        **overrides: constructor arguments (e.g. `dtype`); those that change the weights'
            shapes (channels, levels) fail when the weights are loaded.
    """
    model = build_architecture(get_pretrained(name, root), name=name, **overrides)
    model.load_weights(os.path.join(root or PRETRAINED_DIR, name, WEIGHTS))
    return model


def test_images(manifest):
    """The test images of a manifest: regenerated from its data options and test seed."""
    from keras_gahb.data import get_images

    data, test = manifest["data"], manifest["test"]
    return get_images(data["dataset"], test["num_images"], data["image_size"],
                      seed=test["seed"], **data.get("options", {}))


def _test_curve(model, manifest):
    """`analysis.psnr_curve` of `model` on the manifest's test images, noise and sigmas."""
    from keras_gahb import analysis

    test = manifest["test"]
    return analysis.psnr_curve(model, test_images(manifest), test["sigmas"], seed=test["seed"])


def pretrained_test_psnr(name, model=None, root=None):
    """Recompute a preset's test PSNRs: {"sigmas", "psnr", "input_psnr", "stored"}.

    The same images (regenerated from the manifest's seed) and noise (seeded) as stored, so
    `psnr` matches `stored` up to the float rounding of the backend.
    """
    manifest = get_pretrained(name, root)
    model = model if model is not None else load_pretrained(name, root)
    curve = _test_curve(model, manifest)
    return {"sigmas": list(manifest["test"]["sigmas"]),
            "psnr": [float(v) for v in curve["output_psnr"]],
            "input_psnr": [float(v) for v in curve["input_psnr"]],
            "stored": list(manifest["test"]["psnr"])}


def export_pretrained(model, name, dataset, image_size, options=None, preset="unet_small",
                      overrides=None, description="", command="", trained=None, checks=None,
                      sampler=None, root=None, num_images=TEST_IMAGES, sigmas=TEST_SIGMAS,
                      seed=TEST_SEED):
    """Write `root/<name>/` (manifest.json and model.weights.h5) from a trained denoiser.

    Args:
        model: a Keras denoiser, a .keras file or a run folder.
        name: the preset name (a folder name: letters, digits, "_").
        dataset, image_size, options: the `keras_gahb.data.get_images` source of the
            training and test images (test images are fresh draws from `seed`).
        preset, overrides: the architecture preset and constructor overrides.
        description: one line shown by `gahb models`.
        command: the exact command that retrains it.
        trained: facts of the training (N, images seen, recipe, seed, source run).
        checks: the report's verdicts of the part that trained it (they may concern the
            part's other models too: the C^alpha checks cover every alpha), shipped beside it.
        sampler: `keras_gahb.sampling.sample` settings that suit it (`gahb sample --preset`).
        root: destination folder. Default: the package's.

    Returns:
        The manifest written (with the test PSNRs measured here).
    """
    from keras_gahb.models.loading import load_denoiser

    if not name or not all(c.isalnum() or c == "_" for c in name):
        raise ValueError(f"Preset name {name!r}: use letters, digits and '_'.")
    model = load_denoiser(model, presets=False)[0]
    root = root or PRETRAINED_DIR
    manifest = {
        "name": name, "description": description,
        "architecture": {"preset": preset, "overrides": dict(overrides or {}),
                         "image_channels": int(model.image_channels)},
        "data": {"dataset": dataset, "image_size": int(image_size),
                 "options": dict(options or {})},
        "trained": dict(trained or {}), "command": command,
        "part_checks": list(checks or []),
        "sampler": dict(sampler or {}),
        "test": {"num_images": int(num_images), "sigmas": [float(s) for s in sigmas],
                 "seed": int(seed)},
    }
    curve = _test_curve(model, manifest)
    manifest["test"]["psnr"] = [round(float(v), 4) for v in curve["output_psnr"]]
    manifest["test"]["input_psnr"] = [round(float(v), 4) for v in curve["input_psnr"]]
    # The weights alone, from a fresh model of the manifest's architecture (a model loaded
    # from a training run is compiled: its optimizer's variables would triple the file).
    fresh = build_architecture(manifest)
    fresh.set_weights(model.get_weights())
    os.makedirs(root, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{name}.", dir=root)
    os.chmod(staging, 0o755)  # package data: readable by every user
    try:
        fresh.save_weights(os.path.join(staging, WEIGHTS))
        with open(os.path.join(staging, MANIFEST), "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=1)
            f.write("\n")
        final = os.path.join(root, name)
        if os.path.exists(final):
            shutil.rmtree(final)
        os.replace(staging, final)
    finally:
        if os.path.exists(staging):
            shutil.rmtree(staging)
    return manifest

