"""keras_gahb.utils.images and keras_gahb.models.loading: one rule for image arrays, one loader."""

import numpy as np
import pytest

from keras_gahb import analysis, data, models, sampling
from keras_gahb.utils import as_image_batch, read_image_file


def test_one_rule_for_array_shapes():
    rgb = np.random.default_rng(0).random((5, 6, 3))
    assert as_image_batch(rgb).shape == (1, 5, 6, 3)  # (H, W, C): one image
    assert as_image_batch(rgb[..., 0]).shape == (1, 5, 6, 1)  # (H, W): one gray image
    np.testing.assert_allclose(as_image_batch(rgb, channels=1)[0, ..., 0], rgb.mean(axis=-1), rtol=1e-6)
    assert as_image_batch(np.zeros((2, 4, 4, 1)), channels=3).shape == (2, 4, 4, 3)
    # A stack of gray images (n, H, W) is never guessed, everywhere:
    stack = np.zeros((7, 5, 5), np.float32)
    for call in (lambda: as_image_batch(stack), lambda: analysis.load_images(stack),
                 lambda: data.noisy_pairs(stack, batch_size=2), lambda: sampling.load_image(stack),
                 lambda: analysis.psnr_curve(lambda y: y, stack, [0.1])):
        with pytest.raises(ValueError, match=r"\(n, H, W, 1\)"):
            call()
    with pytest.raises(ValueError, match="one image"):
        as_image_batch(rgb, allow_one_image=False)
    with pytest.raises(ValueError, match="NaN"):
        as_image_batch(np.full((1, 2, 2, 1), np.nan))


def test_read_image_file(tmp_path):
    x = np.random.default_rng(1).random((2, 4, 4, 1)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.savez(tmp_path / "x.npz", images=x, other=x[:1])
    np.testing.assert_array_equal(read_image_file(tmp_path / "x.npy"), x)
    np.testing.assert_array_equal(read_image_file(tmp_path / "x.npz"), x)
    np.testing.assert_array_equal(read_image_file(tmp_path / "x.npz", key="other"), x[:1])
    with pytest.raises(FileNotFoundError, match="not found"):
        read_image_file(tmp_path / "missing.png")


def test_load_denoiser(tmp_path):
    model, name = models.load_denoiser("unet_tiny")
    assert name == "unet_tiny (random weights)" and models.image_channels(model) == 1
    with pytest.raises(FileNotFoundError, match="Model not found: nope.keras. Pass"):
        models.load_denoiser("nope.keras")
    with pytest.raises(FileNotFoundError, match="Model file not found"):
        models.load_denoiser("unet_tiny", presets=False)
    (tmp_path / "m.h5").write_text("")
    with pytest.raises(ValueError, match=r"Expected a \.keras"):
        models.load_denoiser(str(tmp_path / "m.h5"))
    assert models.image_channels(lambda y: y) == 1
