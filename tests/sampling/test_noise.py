import numpy as np
import pytest

from keras_gahb.sampling import counter_normal


def test_depends_only_on_seed_index_and_step():
    batch = counter_normal(7, [0, 1, 2, 3], step=5, image_shape=(4, 4, 1))
    alone = counter_normal(7, [2], step=5, image_shape=(4, 4, 1))
    np.testing.assert_array_equal(batch[2], alone[0])
    reordered = counter_normal(7, [3, 0], step=5, image_shape=(4, 4, 1))
    np.testing.assert_array_equal(reordered[0], batch[3])
    np.testing.assert_array_equal(reordered[1], batch[0])


def test_steps_seeds_and_images_differ():
    base = counter_normal(0, [0], 1, (8, 8, 1))
    for other in (counter_normal(0, [0], 2, (8, 8, 1)), counter_normal(1, [0], 1, (8, 8, 1)),
                  counter_normal(0, [1], 1, (8, 8, 1))):
        assert np.abs(base - other).max() > 0.1


def test_standard_normal_statistics():
    z = counter_normal(3, range(50), step=2, image_shape=(20, 20, 1)).ravel()
    n = z.size
    assert z.dtype == np.float32
    assert abs(z.mean()) < 4 / np.sqrt(n)
    assert abs(z.var() - 1) < 4 * np.sqrt(2 / n)
    # Independent across images: the correlation of two images is ~N(0, 1/400).
    a, b = counter_normal(3, [0, 1], 2, (20, 20, 1)).reshape(2, -1)
    assert abs(np.corrcoef(a, b)[0, 1]) < 4 / 20


@pytest.mark.parametrize("seed", [-1, 1.5, "0", None, True])
def test_bad_seed(seed):
    with pytest.raises(ValueError, match="seed"):
        counter_normal(seed, [0], 0, (2, 2, 1))


def test_matches_documented_philox_stream():
    """Image i at step t is Philox(key=seed * 2**64 + i, counter=t * 2**64)'s normal stream."""
    seed, index, step = 9, 4, 12
    generator = np.random.Generator(np.random.Philox(key=seed * 2**64 + index, counter=step * 2**64))
    expected = generator.standard_normal((3, 5, 2), dtype=np.float32)
    np.testing.assert_array_equal(counter_normal(seed, [index], step, (3, 5, 2))[0], expected)
