"""Non-overlapping training sets S1, S2 and a held-out test set."""

import dataclasses
import numbers

import numpy as np


@dataclasses.dataclass(frozen=True)
class Split:
    """Index arrays of two disjoint training sets and a test set drawn from one pool.

    Attributes:
        s1: indices of the first training set (N,).
        s2: indices of the second training set (N,), disjoint from s1.
        test: indices of the held-out test set, disjoint from both.
        num_images: size of the pool the indices refer to.
        seed: the seed that ordered the pool (None when the pool order was kept).

    Use `to_dict()` / `Split.from_dict()` to record a split next to a run so it
    can be audited.
    """

    s1: np.ndarray
    s2: np.ndarray
    test: np.ndarray
    num_images: int
    seed: object = None

    @property
    def n(self):
        return int(len(self.s1))

    def to_dict(self):
        """JSON-ready dict: sizes, seed and the three index lists."""
        return {
            "num_images": int(self.num_images),
            "n": self.n,
            "test_size": int(len(self.test)),
            "seed": self.seed,
            "s1": [int(i) for i in self.s1],
            "s2": [int(i) for i in self.s2],
            "test": [int(i) for i in self.test],
        }

    @classmethod
    def from_dict(cls, config):
        """Rebuild a Split from `to_dict()` output, checking that it is disjoint."""
        try:
            split = cls(
                s1=np.asarray(config["s1"], dtype=np.int64),
                s2=np.asarray(config["s2"], dtype=np.int64),
                test=np.asarray(config["test"], dtype=np.int64),
                num_images=int(config["num_images"]),
                seed=config.get("seed"),
            )
        except KeyError as error:
            raise ValueError(f"A split record needs the key {error}.") from None
        split.check()
        return split

    def check(self):
        """Raise ValueError if the sets overlap or index outside the pool."""
        parts = {"s1": self.s1, "s2": self.s2, "test": self.test}
        for name, idx in parts.items():
            if len(idx) and (idx.min() < 0 or idx.max() >= self.num_images):
                raise ValueError(f"{name} has indices outside [0, {self.num_images}).")
            if len(np.unique(idx)) != len(idx):
                raise ValueError(f"{name} repeats an index.")
        everything = np.concatenate(list(parts.values()))
        if len(np.unique(everything)) != len(everything):
            raise ValueError("The sets of this split share indices.")


def disjoint_subsets(num_images, n, test_size=512, seed=0):
    """Split a pool of images into S1, S2 (N images each) and a test set, all disjoint.

    The pool order is a permutation drawn from `seed` (seed=None keeps the
    pool order, as the paper's "first N and last N"). The test set is the first
    `test_size` images of that order, S1 the next N, and S2 the last N (in
    reverse). So the test set does not depend on N, and for a fixed seed the
    S1 (and S2) of a smaller N is contained in that of a larger N.

    Args:
        num_images: size of the pool.
        n: images in each training set.
        test_size: held-out test images. Default 512 (the paper's).
        seed: int, numpy Generator or None. Default 0.

    Returns:
        A `Split` with `.s1`, `.s2`, `.test` int64 index arrays.

    Example:

    >>> split = keras_gahb.data.disjoint_subsets(100, n=10, test_size=20, seed=0)
    >>> images[split.s1], images[split.s2], images[split.test]
    """
    for value, name, minimum in ((num_images, "num_images", 1), (n, "n", 1),
                                 (test_size, "test_size", 0)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
            raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}.")
    check_pool_size(num_images, n, test_size)
    if seed is None:
        order = np.arange(num_images, dtype=np.int64)
        recorded_seed = None
    else:
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        order = rng.permutation(num_images).astype(np.int64)
        recorded_seed = None if isinstance(seed, np.random.Generator) else int(seed)
    test = order[:test_size]
    rest = order[test_size:]
    s1 = rest[:n]
    s2 = rest[::-1][:n]
    return Split(s1=s1.copy(), s2=s2.copy(), test=test.copy(), num_images=int(num_images),
                 seed=recorded_seed)


def check_pool_size(num_images, n, test_size, source="The pool"):
    """Raise a ValueError unless `num_images` can hold S1, S2 (n images each) and a test set.

    The message says what the request means (2N + test images) and the
    largest N that fits beside this test set.

    Args:
        num_images: images the pool (dataset) holds.
        n: images in each training set.
        test_size: held-out test images.
        source: how to name the pool in the message. Default "The pool".

    Example:

    >>> keras_gahb.data.check_pool_size(100, n=60, test_size=1, source="Dataset 'faces'")
    Traceback (most recent call last):
    ValueError: Dataset 'faces' holds 100 images; two disjoint training sets of N=60 plus a ...
    """
    needed = 2 * n + test_size
    if num_images >= needed:
        return
    largest = (num_images - test_size) // 2
    if largest >= 1:
        advice = (f"The largest N with a test set of {test_size} is {largest}; or lower the "
                  "test size")
    else:
        advice = f"No N fits beside a test set of {test_size}: lower the test size"
    raise ValueError(
        f"{source} holds {num_images} images; two disjoint training sets of N={n} plus a test "
        f"set of {test_size} need {needed} images (2N + test). {advice}, or use a larger "
        "dataset."
    )
