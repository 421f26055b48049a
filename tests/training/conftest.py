"""Shared tiny settings of the training tests (8x8 images, a 1-level UNet of width 8)."""

import numpy as np
import pytest

TINY = dict(
    dataset="faces", n=8, test_size=4, image_size=8, preset="unet_tiny", epochs=3,
    batch_size=4, eval_sigmas=[0.1, 0.3], eval_train_size=4, grid_images=4,
)


@pytest.fixture
def tiny_options():
    return dict(TINY)


@pytest.fixture
def tiny_images():
    rng = np.random.default_rng(0)
    x = rng.uniform(0.2, 0.8, size=(12, 8, 8, 1)).astype("float32")
    return x[:8], x[8:]
