"""`sample(..., initial=x_t, first_step=t + 1)` continues a run exactly (noise keyed on (seed, i, t))."""

import numpy as np
import pytest

import keras_gahb
from keras_gahb.analysis import WienerDenoiser


def test_continuing_a_run_reproduces_it():
    train = keras_gahb.data.GaussianImages(6).sample(100, seed=0)
    f = WienerDenoiser(train, 0.1)
    options = dict(seed=3, h0=0.2, beta=0.5, sigma_final=1e-4, compiled=False)
    full = keras_gahb.sampling.sample(f, (2, 6, 6, 1), max_steps=10, snapshot_every=1, **options)
    assert (full.steps == 10).all()
    rest = keras_gahb.sampling.sample(f, (2, 6, 6, 1), max_steps=5, initial=full.snapshots[4],
                                      first_step=6, **options)
    np.testing.assert_allclose(rest.images, full.images, atol=1e-5)
    np.testing.assert_allclose(rest.sigmas[0], full.sigmas[0][5:], rtol=1e-4)
    with pytest.raises(ValueError, match="initial"):
        keras_gahb.sampling.sample(f, (2, 6, 6, 1), initial=np.zeros((1, 6, 6, 1)), **options)
