"""Explicit randomness for numpy code: every function that draws takes a seed."""

import numbers

import numpy as np


def numpy_rng(seed):
    """A numpy Generator from an int seed (or None), or `seed` itself if it is one.

    Raises:
        ValueError: for anything else (e.g. a float or a string).
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool)):
        return np.random.default_rng(seed)
    raise ValueError(f"seed must be an int or a numpy Generator, got {seed!r}.")
