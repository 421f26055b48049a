"""The authors' batch-norm scale initialization and the denoiser it starts from."""

import keras
import numpy as np
import pytest

from keras_gahb.layers import ClippedNormal
from keras_gahb.layers.clipped_normal import AUTHORS_GAMMA_CLIP, AUTHORS_GAMMA_STDDEV
from keras_gahb.models import from_preset


def test_clipped_normal_statistics_and_config_round_trip():
    values = np.asarray(ClippedNormal(seed=3)((20_000,)))
    assert np.abs(values).max() <= AUTHORS_GAMMA_CLIP
    assert values.std() == pytest.approx(AUTHORS_GAMMA_STDDEV, rel=0.05)
    clipped = np.asarray(ClippedNormal(stddev=1.0, clip=0.5, seed=3)((20_000,)))
    # P(|z| > 0.5) for a standard normal is 0.617: that share sits exactly at the clip.
    assert np.mean(np.abs(clipped) == 0.5) == pytest.approx(0.617, abs=0.02)
    init = ClippedNormal(seed=5)
    again = ClippedNormal.from_config(init.get_config())
    np.testing.assert_array_equal(np.asarray(init((8,))), np.asarray(again((8,))))
    with pytest.raises(ValueError, match="stddev"):
        ClippedNormal(stddev=0.0)


@pytest.mark.parametrize("preset", ["unet_tiny", "bfcnn_small"])
def test_authors_gamma_start_the_denoiser_near_the_identity(preset):
    keras.utils.set_random_seed(0)
    y = np.random.default_rng(0).random((2, 16, 16, 1)).astype("float32")
    near = from_preset(preset, gamma_initializer="authors")
    far = from_preset(preset)
    # Every normalized layer starts with a gain ~0.0035, so net(y) ~ 0 and f(y) ~ y.
    gap_authors = np.linalg.norm(keras.ops.convert_to_numpy(near(y)) - y) / np.linalg.norm(y)
    gap_ones = np.linalg.norm(keras.ops.convert_to_numpy(far(y)) - y) / np.linalg.norm(y)
    assert gap_authors < 1e-2 < gap_ones
    assert near.get_config()["gamma_initializer"] == "authors"
    with pytest.raises(ValueError, match="gamma_initializer"):
        from_preset(preset, gamma_initializer="zeroes-ish")
