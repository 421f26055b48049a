import numpy as np
import pytest
import tensorflow as tf

import keras
from keras_gahb.data import add_noise, noisy_pairs, sample_sigmas


def _images(n=5, size=8):
    return np.random.default_rng(0).uniform(size=(n, size, size, 1)).astype("float32")


def _epoch(dataset):
    noisy, clean = zip(*dataset.as_numpy_iterator())
    return np.concatenate(noisy), np.concatenate(clean)


def test_quadratic_sigma_distribution():
    # sigma = U^2 sigma_max  =>  P(sigma <= t) = sqrt(t / sigma_max), E[sigma] = sigma_max / 3.
    s = sample_sigmas(200_000, "quadratic", sigma_max=0.6, seed=1)
    assert s.min() >= 0 and s.max() <= 0.6
    np.testing.assert_allclose(s.mean(), 0.2, rtol=0.01)
    for t in (0.01, 0.15, 0.4):
        np.testing.assert_allclose((s <= t).mean(), np.sqrt(t / 0.6), atol=0.005)


def test_uniform_and_log_uniform_distributions():
    u = sample_sigmas(100_000, "uniform", sigma_max=0.5, sigma_min=0.1, seed=2)
    np.testing.assert_allclose(u.mean(), 0.3, rtol=0.01)
    lu = sample_sigmas(100_000, "log_uniform", sigma_max=1.0, sigma_min=0.01, seed=3)
    assert lu.min() >= 0.01 and lu.max() <= 1.0
    # log10 sigma uniform on [-2, 0]: each decade holds half the mass.
    np.testing.assert_allclose((lu < 0.1).mean(), 0.5, atol=0.01)
    np.testing.assert_array_equal(sample_sigmas(3, 0.2), np.full(3, 0.2, "float32"))


def test_add_noise_statistics_and_seed():
    x = np.full((4, 64, 64, 1), 0.5, "float32")
    y = add_noise(x, np.array([0.0, 0.1, 0.2, 0.4]), seed=0)
    np.testing.assert_array_equal(y[0], x[0])
    np.testing.assert_allclose((y - x)[1:].std(axis=(1, 2, 3)), [0.1, 0.2, 0.4], rtol=0.05)
    np.testing.assert_array_equal(add_noise(x, 0.1, seed=5), add_noise(x, 0.1, seed=5))
    assert not np.array_equal(add_noise(x, 0.1, seed=5), add_noise(x, 0.1, seed=6))


def test_noisy_pairs_tiling_and_fresh_noise_each_epoch():
    x = _images()
    ds = noisy_pairs(x, batch_size=4, images_per_epoch=12, seed=1)
    assert int(ds.cardinality()) == 3
    noisy0, clean0 = _epoch(ds)
    noisy1, clean1 = _epoch(ds)
    assert noisy0.shape == (12, 8, 8, 1) and noisy0.dtype == np.float32
    # Tiling: two full permutations of the 5 images, then 2 more images.
    ids = [int(np.argmin(((x - c) ** 2).sum(axis=(1, 2, 3)))) for c in clean0]
    assert sorted(ids[:5]) == list(range(5)) and sorted(ids[5:10]) == list(range(5))
    assert not np.allclose(noisy0, noisy1)  # fresh noise every epoch
    # Same seed, new dataset: the same sequence of epochs; initial_epoch resumes.
    again = noisy_pairs(x, batch_size=4, images_per_epoch=12, seed=1)
    np.testing.assert_array_equal(_epoch(again)[0], noisy0)
    resumed = noisy_pairs(x, batch_size=4, images_per_epoch=12, seed=1, initial_epoch=1)
    np.testing.assert_array_equal(_epoch(resumed)[0], noisy1)
    other = noisy_pairs(x, batch_size=4, images_per_epoch=12, seed=2)
    assert not np.allclose(_epoch(other)[0], noisy0)


def test_noisy_pairs_noise_level_is_per_image():
    x = np.full((256, 16, 16, 1), 0.5, "float32")
    noisy, clean = _epoch(noisy_pairs(x, batch_size=64, sigma="quadratic", sigma_max=0.5,
                                      shuffle=False, seed=0))
    sigmas = (noisy - clean).std(axis=(1, 2, 3))
    assert sigmas.max() < 0.5 * 1.2
    # Per-image sigma estimates follow the quadratic law (E sigma = sigma_max / 3).
    np.testing.assert_allclose(sigmas.mean(), 0.5 / 3, rtol=0.15)
    fixed, clean = _epoch(noisy_pairs(x, batch_size=64, sigma=0.1, shuffle=False, seed=0))
    np.testing.assert_allclose((fixed - clean).std(axis=(1, 2, 3)), 0.1, rtol=0.2)


def test_noisy_pairs_from_dataset_and_no_shuffle():
    x = _images()
    ds = noisy_pairs(x, batch_size=2, shuffle=False, sigma=0.0)
    np.testing.assert_array_equal(_epoch(ds)[1], x)
    source = tf.data.Dataset.from_tensor_slices(x)
    ds = noisy_pairs(source, batch_size=2, images_per_epoch=10, seed=0)
    _, clean0 = _epoch(ds)
    _, clean1 = _epoch(ds)
    for clean in (clean0, clean1):
        ids = sorted(int(np.argmin(((x - c) ** 2).sum(axis=(1, 2, 3)))) for c in clean)
        assert ids == sorted(list(range(5)) * 2)
    assert not np.array_equal(clean0, clean1)


def test_noisy_pairs_trains_a_model():
    x = _images(8)
    ds = noisy_pairs(x, batch_size=4, images_per_epoch=8, seed=0)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(1, 3, padding="same")])
    model.compile("adam", "mse")
    history = model.fit(ds, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sigma": "cubic"}, "Unknown sigma distribution"),
        ({"sigma": -0.1}, "fixed sigma"),
        ({"sigma": "log_uniform", "sigma_min": 0.0}, "sigma_min > 0"),
        ({"sigma_max": 0.0}, "must exceed"),
        ({"batch_size": 0}, "batch_size"),
        ({"images_per_epoch": -3}, "images_per_epoch"),
    ],
)
def test_noisy_pairs_bad_arguments(kwargs, match):
    options = {"batch_size": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        noisy_pairs(_images(), **options)


def test_bad_images():
    with pytest.raises(ValueError, match="shape"):
        noisy_pairs(np.zeros((4, 4)), batch_size=2)
    bad = _images()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        noisy_pairs(bad, batch_size=2)
    with pytest.raises(ValueError, match="one noise level per image"):
        add_noise(_images(), np.ones(3), seed=0)
