"""Counter-based Gaussian noise: each image's draw depends only on (seed, image index, step).

The sampler draws its initial image and every injected noise z_t on the host
with numpy's counter-based Philox generator, keyed on (seed, image index) and
positioned at a counter derived from the step. Nothing depends on the
denoiser, the batch composition or the Keras backend, so two denoisers sampled
with the same seed start from, and receive, exactly the same noise.
"""

import numpy as np

_WORD = 2**64


def check_seed(seed):
    """Return `seed` as a Python int in [0, 2**64), or raise a ValueError."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(
            f"`seed` must be a non-negative int (the sampler's noise is a function of "
            f"(seed, image index, step)); got {seed!r} of type {type(seed).__name__}."
        )
    seed = int(seed)
    if not 0 <= seed < _WORD:
        raise ValueError(f"`seed` must be in [0, 2**64), got {seed}.")
    return seed


def counter_normal(seed, indices, step, image_shape):
    """Standard normal float32 images, one per index, that depend only on (seed, index, step).

    Image `i` at step `t` is drawn from `np.random.Philox(key=(seed, i),
    counter=t * 2**64)`: the streams of different steps start 2**64 counter
    blocks apart, so they never overlap for any image size.

    Args:
        seed: int in [0, 2**64).
        indices: iterable of non-negative ints (global image indices).
        step: int >= 0 (0 is the initial image, t >= 1 the noise z_t).
        image_shape: tuple (height, width, channels).

    Returns:
        np.ndarray float32 of shape (len(indices),) + image_shape.

    Example:

    >>> z = keras_gahb.sampling.counter_normal(0, [0, 5], step=3, image_shape=(8, 8, 1))
    >>> z.shape
    (2, 8, 8, 1)
    """
    seed = check_seed(seed)
    indices = [int(i) for i in indices]
    image_shape = tuple(int(s) for s in image_shape)
    out = np.empty((len(indices),) + image_shape, dtype=np.float32)
    # One generator per call, re-keyed per image: identical to building
    # Philox(key=seed * 2**64 + index, counter=step * 2**64), about 2x faster.
    bit_generator = np.random.Philox(key=0)
    generator = np.random.Generator(bit_generator)
    counter = np.array([0, int(step), 0, 0], dtype=np.uint64)
    for row, index in enumerate(indices):
        if index < 0:
            raise ValueError(f"Image indices must be non-negative, got {index}.")
        bit_generator.state = {
            "bit_generator": "Philox",
            "state": {"counter": counter.copy(), "key": np.array([index, seed], np.uint64)},
            "buffer": np.zeros(4, np.uint64),
            "buffer_pos": 4,
            "has_uint32": 0,
            "uinteger": 0,
        }
        out[row] = generator.standard_normal(image_shape, dtype=np.float32)
    return out
