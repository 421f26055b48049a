"""Presets with weights: export -> load gives the same function; the shipped presets reproduce
the test PSNRs stored beside them (on whichever backend runs the suite)."""

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

import keras
import keras_gahb
from keras_gahb.models import pretrained

#: The presets the medium run shipped (issue 24): one per part whose claims rest on them.
EXPECTED = {"calpha2_medium", "discs_medium", "transition_n10000_s1_medium",
            "transition_n10000_s2_medium"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("pretrained"))
    keras.utils.set_random_seed(0)
    model = keras_gahb.models.from_preset("unet_tiny", image_channels=1)
    images = np.random.default_rng(0).uniform(size=(2, 8, 8, 1)).astype("float32")
    before = keras.ops.convert_to_numpy(model(images))
    manifest = pretrained.export_pretrained(
        model, "tiny_test", dataset="calpha", image_size=8,
        options={"alpha": 2.0, "variant": "authors"}, preset="unet_tiny",
        description="a test", command="(none)", root=root, num_images=8)
    return root, images, before, manifest


def test_export_then_load_is_the_same_function(exported):
    root, images, before, manifest = exported
    assert set(os.listdir(os.path.join(root, "tiny_test"))) == {pretrained.MANIFEST,
                                                                 pretrained.WEIGHTS}
    assert not [n for n in os.listdir(root) if n.startswith(".")]  # no staging folder left
    model = pretrained.load_pretrained("tiny_test", root=root)
    # The weights alone (float32), not a compiled model's optimizer state beside them.
    size = os.path.getsize(os.path.join(root, "tiny_test", pretrained.WEIGHTS))
    assert size < 4 * model.count_params() * 1.5 + 60_000, size
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(images)), before, atol=1e-5)
    assert model.name == "tiny_test"
    again = pretrained.pretrained_test_psnr("tiny_test", root=root)
    np.testing.assert_allclose(again["psnr"], manifest["test"]["psnr"], atol=1e-3)
    # An untrained tiny UNet starts near f(y) = y: its PSNRs sit at the input's, a sanity check
    # that the stored numbers are of this function and these noise levels.
    np.testing.assert_allclose(again["input_psnr"], -20 * np.log10(again["sigmas"]), atol=0.2)


def test_bad_names_and_missing_weights_are_clear(exported, tmp_path):
    root = exported[0]
    with pytest.raises(ValueError, match="No shipped weights for preset 'nope'.*tiny_test"):
        pretrained.get_pretrained("nope", root=root)
    with pytest.raises(ValueError, match="No shipped weights for preset 'unet_rf90'"):
        keras_gahb.models.from_preset("unet_rf90", weights=True)
    with pytest.raises(ValueError, match="letters, digits"):
        pretrained.export_pretrained(lambda y: y, "../escape", "calpha", 8, root=str(tmp_path))
    # A folder without its weights file is not a preset.
    os.makedirs(tmp_path / "half")
    (tmp_path / "half" / pretrained.MANIFEST).write_text("{}")
    assert "half" not in pretrained.pretrained_presets(str(tmp_path))


def test_the_shipped_presets_are_there():
    assert EXPECTED <= set(pretrained.pretrained_presets())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_shipped_preset_reproduces_its_stored_test_psnr(name):
    model = keras_gahb.models.from_preset(name, weights=True)
    measured = pretrained.pretrained_test_psnr(name, model=model)
    # Stored on TensorFlow; the other backends differ by float32 rounding only.
    np.testing.assert_allclose(measured["psnr"], measured["stored"], atol=0.02)
    # A trained denoiser, not the identity: above the noisy input at sigma >= 0.04.
    assert all(p > i for p, i, s in zip(measured["psnr"], measured["input_psnr"],
                                        measured["sigmas"]) if s >= 0.04)
    untrained = keras_gahb.models.from_preset(name)  # the same architecture, random weights
    assert untrained.count_params() == model.count_params()


def test_the_cli_lists_and_samples_a_shipped_preset(tmp_path):
    from cli.main import gahb as main

    runner = CliRunner()
    listed = runner.invoke(main, ["models", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert EXPECTED <= {r["name"] for r in rows if r["weights"]}
    result = runner.invoke(main, ["sample", "--preset", "discs_medium", "--out",
                                  str(tmp_path / "s"), "--num", "2", "--max-steps", "30",
                                  "--quiet"])
    assert result.exit_code == 0, result.output
    with np.load(tmp_path / "s" / "samples.npz") as f:
        assert f["images"].shape == (2, 16, 16, 1)
    bad = runner.invoke(main, ["sample", "--preset", "nope", "--out", str(tmp_path / "t")])
    assert bad.exit_code != 0 and "Presets with weights" in bad.output
    assert "Traceback" not in bad.output
    both = runner.invoke(main, ["sample", "x.keras", "--preset", "discs_medium", "--out", "t"])
    assert both.exit_code != 0 and "not both" in both.output
