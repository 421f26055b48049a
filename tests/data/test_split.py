import json

import numpy as np
import pytest

from keras_gahb.data import Split, disjoint_subsets


def test_sets_are_disjoint_sized_and_deterministic():
    split = disjoint_subsets(1000, n=300, test_size=100, seed=3)
    assert len(split.s1) == len(split.s2) == 300 and len(split.test) == 100
    assert not set(split.s1) & set(split.s2)
    assert not (set(split.s1) | set(split.s2)) & set(split.test)
    assert all(0 <= i < 1000 for i in np.concatenate([split.s1, split.s2, split.test]))
    again = disjoint_subsets(1000, n=300, test_size=100, seed=3)
    np.testing.assert_array_equal(split.s1, again.s1)
    other = disjoint_subsets(1000, n=300, test_size=100, seed=4)
    assert not np.array_equal(split.s1, other.s1)


def test_test_set_fixed_and_training_sets_nested_across_n():
    small = disjoint_subsets(500, n=10, test_size=50, seed=0)
    large = disjoint_subsets(500, n=200, test_size=50, seed=0)
    np.testing.assert_array_equal(small.test, large.test)
    assert set(small.s1) <= set(large.s1) and set(small.s2) <= set(large.s2)


def test_exact_fit_and_paper_order():
    split = disjoint_subsets(7, n=3, test_size=1, seed=None)
    np.testing.assert_array_equal(split.test, [0])
    np.testing.assert_array_equal(split.s1, [1, 2, 3])
    np.testing.assert_array_equal(split.s2, [6, 5, 4])


def test_record_round_trip():
    split = disjoint_subsets(50, n=5, test_size=10, seed=1)
    record = json.loads(json.dumps(split.to_dict()))
    assert record["n"] == 5 and record["seed"] == 1
    back = Split.from_dict(record)
    np.testing.assert_array_equal(back.s2, split.s2)
    record["s2"][0] = record["s1"][0]
    with pytest.raises(ValueError, match="share"):
        Split.from_dict(record)


def test_pool_too_small():
    with pytest.raises(ValueError, match=r"need 1024"):
        disjoint_subsets(1000, n=256, test_size=512)
    with pytest.raises(ValueError, match="n must be"):
        disjoint_subsets(10, n=0)
