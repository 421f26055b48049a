import numpy as np
import pytest

from keras_gahb.data import get_images, near_duplicate_pairs, remove_near_duplicates
from keras_gahb.data.dedup import duplicate_features


def test_planted_duplicates_are_removed_and_distinct_images_kept():
    rng = np.random.default_rng(0)
    base = get_images("photos", 40, 40, seed=0)
    # Plant near duplicates: brightness/contrast changes (correlation 1) and slight noise.
    planted = np.concatenate([
        0.8 * base[:5] + 0.1,
        np.clip(base[5:10] + 0.005 * rng.standard_normal(base[5:10].shape), 0, 1),
    ])
    images = np.concatenate([base, planted]).astype(np.float32)
    keep = remove_near_duplicates(images, threshold=0.95, pool_size=20, block_size=16)
    features = duplicate_features(base, 20)
    corr = features @ features.T
    np.fill_diagonal(corr, 0)
    distinct = corr.max() < 0.95  # the photo patches themselves are not duplicates
    assert distinct
    np.testing.assert_array_equal(keep, np.arange(40))


def test_blockwise_pairs_match_the_dense_computation():
    features = duplicate_features(get_images("discs", 60, 20, seed=1), pool_size=5)
    corr = features @ features.T
    i, j = np.nonzero(np.tril(corr, -1) > 0.9)
    dense = sorted(zip(i.tolist(), j.tolist()))
    blockwise = near_duplicate_pairs(features, 0.9, block_size=7)
    assert [tuple(p) for p in blockwise.tolist()] == dense
    assert len(dense) > 0  # discs at 5x5 do correlate: the check is not vacuous


def test_greedy_keeps_the_first_of_each_group():
    x = get_images("photos", 3, 20, seed=2)
    images = np.concatenate([x[:1], x[1:2], x[:1] * 0.5, x[2:3], x[1:2] + 0.1])
    np.testing.assert_array_equal(remove_near_duplicates(images, pool_size=10), [0, 1, 3])
    with pytest.raises(ValueError, match="threshold"):
        remove_near_duplicates(images, threshold=2.0)


def test_the_authors_rule_compares_the_absolute_correlation():
    images = get_images("photos", 6, 20, seed=2)
    inverted = 1.0 - images[:1]  # correlation -1 with image 0
    pool = np.concatenate([images, inverted])
    np.testing.assert_array_equal(remove_near_duplicates(pool, 0.95, pool_size=5),
                                  np.arange(6))
    np.testing.assert_array_equal(remove_near_duplicates(pool, 0.95, pool_size=5,
                                                         absolute=False), np.arange(7))
