"""Near-duplicate removal by mean-removed correlation of downsampled images (blockwise)."""

import numpy as np

from keras_gahb.data.noise import as_image_array
from keras_gahb.data.transforms import check_size, resize_images


def duplicate_features(images, pool_size=20):
    """Unit-norm, mean-removed features of images average-pooled to pool_size x pool_size.

    Channels are averaged first. When the side is a multiple of pool_size the
    pooling is an exact block average; otherwise an antialiased resize.
    Constant images get a zero feature (they correlate with nothing).
    """
    images = as_image_array(images).mean(axis=-1, keepdims=True)
    pool_size = check_size(pool_size, "pool_size", minimum=1)
    n, h, w, _ = images.shape
    if h % pool_size == 0 and w % pool_size == 0:
        pooled = images.reshape(n, pool_size, h // pool_size, pool_size, w // pool_size)
        pooled = pooled.mean(axis=(2, 4))
    else:
        pooled = resize_images(images, pool_size)[..., 0]
    features = pooled.reshape(n, -1).astype(np.float32)
    features -= features.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return np.divide(features, norms, out=np.zeros_like(features), where=norms > 1e-12)


def near_duplicate_pairs(features, threshold=0.95, block_size=4096, verbose=False,
                         absolute=False):
    """All pairs (i, j), j < i, whose feature correlation (or |correlation|) exceeds `threshold`.

    With `absolute=True` a pair whose correlation is below -threshold counts too
    (the authors' rule: an image and its contrast-inverted copy are duplicates).

    The correlation matrix is computed in blocks of block_size x block_size
    (lower triangle only), so memory stays O(N block_size), never O(N^2).

    Returns:
        int64 array (num_pairs, 2) of [i, j] with j < i, sorted by i then j.
    """
    features = np.asarray(features, dtype=np.float32)
    n = len(features)
    pairs = []
    starts = range(0, n, block_size)
    progress = _progress(len(starts), verbose)
    for step, start in enumerate(starts):
        rows = features[start:start + block_size]
        for col_start in range(0, start + len(rows), block_size):
            cols = features[col_start:col_start + block_size]
            corr = rows @ cols.T
            if absolute:
                corr = np.abs(corr)
            i, j = np.nonzero(corr > threshold)
            i, j = i + start, j + col_start
            keep = j < i
            if keep.any():
                pairs.append(np.stack([i[keep], j[keep]], axis=1))
        if progress is not None:
            progress.update(step + 1)
    if not pairs:
        return np.zeros((0, 2), np.int64)
    pairs = np.concatenate(pairs).astype(np.int64)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]


def remove_near_duplicates(images, threshold=0.95, pool_size=20, block_size=4096,
                           verbose=False, absolute=True):
    """Indices of the images kept after removing near duplicates (the paper's CelebA rule).

    Two images are near duplicates when the absolute correlation of their
    mean-removed, pool_size x pool_size average-pooled versions exceeds
    `threshold` (the authors' code tests |corr|; `absolute=False` tests corr). Images
    are visited in order and an image is dropped when it is a near duplicate of
    an image already kept, so the first of each group survives.

    Args:
        images: (n, H, W, C) array.
        threshold: correlation above which two images are duplicates. Default 0.95.
        pool_size: side of the pooled images. Default 20 (the paper's, from 80x80).
        block_size: rows and columns per correlation block. Default 4096.
        verbose: show a progress bar. Default False.
        absolute: compare |correlation| (the authors' rule). Default True.

    Returns:
        int64 array of kept indices, increasing.

    Example:

    >>> keep = keras_gahb.data.remove_near_duplicates(images, threshold=0.95)
    >>> images = images[keep]
    """
    if not -1 <= threshold <= 1:
        raise ValueError(f"threshold is a correlation in [-1, 1], got {threshold}.")
    block_size = check_size(block_size, "block_size", minimum=1)
    features = duplicate_features(images, pool_size)
    pairs = near_duplicate_pairs(features, threshold, block_size, verbose=verbose,
                                 absolute=absolute)
    kept = np.ones(len(features), dtype=bool)
    for i, j in pairs:  # sorted by i: every j < i is already decided
        if kept[j]:
            kept[i] = False
    return np.flatnonzero(kept).astype(np.int64)


def _progress(total, verbose):
    if not verbose:
        return None
    import keras

    return keras.utils.Progbar(total, unit_name="block")
