"""Additive Gaussian noise: per-image noise levels and (noisy, clean) training pairs.

The paper trains blind denoisers on y = x + sigma z with z ~ N(0, I) and a noise
level drawn per image, sigma = U^2 sigma_max with U ~ Uniform(0, 1) ("quadratic",
skewed towards small sigma). Each epoch tiles the training set up to a fixed
number of images (250,000 in the paper) so that every training-set size N sees
the same number of optimisation steps.

A per-image loss weight w(sigma) of the drawn noise level (`loss_weights`) moves
where a finite model is good over sigma: `noisy_pairs(..., loss_weight=...)` then
yields (noisy, clean, weight) batches that plain `model.fit` uses as sample weights
(the training recipes of `keras_gahb.training`, docs/training.md).

Reference: Kadkhodaie et al., ICLR 2024, https://arxiv.org/abs/2310.02557
"""

import numbers

import numpy as np

from keras_gahb.utils import numpy_rng
from keras_gahb.utils.images import as_image_batch

SIGMA_DISTRIBUTIONS = ("quadratic", "uniform", "log_uniform", "mixture")
LOSS_WEIGHTS = ("none", "inverse_sqrt_sigma", "inverse_sigma", "inverse_variance", "edm")
_DEFAULT_LOG_SIGMA_MIN = 1.0 / 255.0
#: Noise levels below this are raised to it before a loss weight is computed (a quadratic
#: draw can be 0, where 1/sigma is infinite): the weight is bounded by w(WEIGHT_SIGMA_FLOOR).
WEIGHT_SIGMA_FLOOR = 0.005
#: EDM's sigma_data for images in [0, 1] (pixel standard deviation of natural images ~ 0.25).
DEFAULT_SIGMA_DATA = 0.25


def sample_sigmas(n, sigma="quadratic", sigma_max=1.0, sigma_min=None, seed=0):
    """Draw `n` per-image noise levels (numpy, float32).

    Distributions (U ~ Uniform(0, 1)):

    - "quadratic": sigma = sigma_min + U^2 (sigma_max - sigma_min) (the paper's, sigma_min=0);
    - "uniform": sigma = sigma_min + U (sigma_max - sigma_min);
    - "log_uniform": log sigma ~ Uniform(log sigma_min, log sigma_max);
    - "mixture": each image draws from "quadratic" (on [0, sigma_max]) or "log_uniform"
      (on [sigma_min, sigma_max]) with probability 1/2 each;
    - a number: every image gets that sigma.

    Args:
        n: number of noise levels.
        sigma: a distribution name or a fixed non-negative number. Default "quadratic".
        sigma_max: largest noise level. Default 1.0.
        sigma_min: smallest noise level; default 0 ("quadratic", "uniform") or 1/255
            ("log_uniform" and "mixture", which need sigma_min > 0).
        seed: int or numpy Generator. Default 0.

    Example:

    >>> keras_gahb.data.sample_sigmas(4, "quadratic", seed=0).shape
    (4,)
    """
    low, high = _check_sigma(sigma, sigma_max, sigma_min)
    rng = numpy_rng(seed)
    if isinstance(sigma, numbers.Number):
        return np.full((n,), float(sigma), np.float32)
    u = rng.uniform(size=n)
    if sigma == "quadratic":
        values = low + u**2 * (high - low)
    elif sigma == "uniform":
        values = low + u * (high - low)
    elif sigma == "log_uniform":
        values = np.exp(np.log(low) + u * (np.log(high) - np.log(low)))
    else:
        log_part = rng.uniform(size=n) < 0.5
        values = np.where(log_part, np.exp(np.log(low) + u * (np.log(high) - np.log(low))),
                          u**2 * high)
    return values.astype(np.float32)


def loss_weights(sigmas, loss_weight="none", sigma_data=DEFAULT_SIGMA_DATA):
    """Per-image loss weights w(sigma) of the drawn noise levels (numpy, float32).

    With s = max(sigma, WEIGHT_SIGMA_FLOOR) (0.005; a quadratic draw can be 0):

    - "none": w = 1 (the paper's plain MSE);
    - "inverse_sqrt_sigma": w = 1 / sqrt(s);
    - "inverse_sigma": w = 1 / s;
    - "inverse_variance": w = 1 / s^2 (every sigma's MSE in units of its input MSE);
    - "edm": w = (s^2 + sigma_data^2) / (s sigma_data)^2 (Karras et al. 2022's
      lambda(sigma) on the denoised image).

    The weights are not normalized: the training loss is then the batch mean of
    w_i MSE_i (see `noisy_pairs`). Adam's steps do not depend on a constant factor
    of the loss, so no normalization is needed for training; compare loss values
    only between runs of one weighting.

    Args:
        sigmas: array of noise levels (any shape).
        loss_weight: one of LOSS_WEIGHTS. Default "none".
        sigma_data: EDM's data standard deviation. Default 0.25.

    Example:

    >>> keras_gahb.data.loss_weights(np.array([0.01, 0.1]), "inverse_sigma")
    array([100.,  10.], dtype=float32)

    Reference: Karras et al., NeurIPS 2022, https://arxiv.org/abs/2206.00364
    """
    _check_loss_weight(loss_weight, sigma_data)
    s = np.maximum(np.asarray(sigmas, np.float64), WEIGHT_SIGMA_FLOOR)
    return _weights(np, s, loss_weight, float(sigma_data)).astype(np.float32)


def _weights(xp, s, loss_weight, sigma_data):
    if loss_weight == "none":
        return xp.ones_like(s)
    if loss_weight == "inverse_sqrt_sigma":
        return 1.0 / xp.sqrt(s)
    if loss_weight == "inverse_sigma":
        return 1.0 / s
    if loss_weight == "inverse_variance":
        return 1.0 / xp.square(s)
    return (xp.square(s) + sigma_data**2) / xp.square(s * sigma_data)


def _check_loss_weight(loss_weight, sigma_data):
    if loss_weight not in LOSS_WEIGHTS:
        raise ValueError(f"Unknown loss_weight {loss_weight!r}; use one of "
                         f"{', '.join(LOSS_WEIGHTS)}.")
    if isinstance(sigma_data, bool) or not isinstance(sigma_data, numbers.Real) or not (
            np.isfinite(sigma_data) and sigma_data > 0):
        raise ValueError(f"sigma_data must be a positive number, got {sigma_data!r}.")


def add_noise(images, sigma, seed=0):
    """Return `images + sigma * z`, z ~ N(0, I) (numpy, float32, not clipped).

    Args:
        images: array (n, H, W, C) (or any shape with the batch axis first).
        sigma: a scalar, or one noise level per image (shape (n,)).
        seed: int or numpy Generator. Default 0.

    Example:

    >>> x = np.zeros((2, 8, 8, 1), "float32")
    >>> y = keras_gahb.data.add_noise(x, 0.1, seed=0)
    """
    images = np.asarray(images, dtype=np.float32)
    sigma = np.asarray(sigma, dtype=np.float32)
    if sigma.ndim == 1:
        if images.ndim == 0 or sigma.shape[0] != images.shape[0]:
            raise ValueError(
                f"sigma has {sigma.shape[0]} values but images has shape {images.shape}; "
                "pass a scalar or one noise level per image."
            )
        sigma = sigma.reshape((-1,) + (1,) * (images.ndim - 1))
    elif sigma.ndim != 0:
        raise ValueError(f"sigma must be a scalar or a 1-D array, got shape {sigma.shape}.")
    if not np.all(np.isfinite(sigma)) or np.any(sigma < 0):
        raise ValueError("sigma must be finite and non-negative.")
    noise = numpy_rng(seed).standard_normal(images.shape, dtype=np.float32)
    return images + sigma * noise


def noisy_pairs(
    images,
    batch_size,
    sigma="quadratic",
    sigma_max=1.0,
    images_per_epoch=None,
    seed=0,
    shuffle=True,
    sigma_min=None,
    initial_epoch=0,
    drop_remainder=False,
    shuffle_buffer=10_000,
    loss_weight=None,
    sigma_data=DEFAULT_SIGMA_DATA,
):
    """A tf.data.Dataset of (noisy, clean) or (noisy, clean, weight) float32 batches for `model.fit`.

    Each iteration of the dataset is one epoch. Epoch e visits the images in
    a fresh order (or in order with shuffle=False), tiled up to
    `images_per_epoch` images, and draws fresh noise y = x + sigma z with one
    sigma per image (see `sample_sigmas`). All randomness is stateless and
    keyed on (seed, epoch, position): the same seed gives the same sequence of
    epochs, and a resumed run can start at `initial_epoch`.

    Args:
        images: numpy array (n, H, W, C) in [0, 1] (gray images as (n, H, W, 1)),
            or a tf.data.Dataset of single images (H, W, C).
        batch_size: images per batch.
        sigma: "quadratic" (the paper's), "uniform", "log_uniform", "mixture" or a
            fixed number (see `sample_sigmas`). Default "quadratic".
        sigma_max: largest noise level. Default 1.0.
        images_per_epoch: repeat the set up to exactly this many images per epoch
            (250,000 in the paper); None = one pass over the images. Default None.
        seed: int. Default 0.
        shuffle: shuffle the images every epoch. Default True.
        sigma_min: smallest noise level (see `sample_sigmas`). Default None.
        initial_epoch: the epoch number of the first iteration (for resuming). Default 0.
        drop_remainder: drop a last, smaller batch. Default False.
        shuffle_buffer: when `images` is a tf.data.Dataset, images are shuffled within
            consecutive windows of this many images (shuffle the source itself if it is
            larger than that and ordered). Default 10,000.
        loss_weight: None (pairs only) or one of LOSS_WEIGHTS: each batch is then
            (noisy, clean, w) with w = `loss_weights(sigma)` of the very sigmas that
            noised the batch, shaped (B, 1, 1, 1). Default None.
        sigma_data: EDM's sigma_data for loss_weight="edm". Default 0.25.

    Keras sample weights: `model.fit` multiplies each element of the loss by its
    weight and reduces with "sum_over_batch_size", i.e. divides by the number of
    elements, not by the sum of the weights: the MSE loss is
    mean_i(w_i MSE_i) = (1 / B) sum_i w_i ||f(y_i) - x_i||^2 / D. The weights have
    the images' rank on purpose: Keras' MSE leaves a (B, H, W) loss, which a (B,)
    weight would be broadcast against along W, not B (silently wrong when W == B);
    a (B, 1, 1, 1) weight is squeezed to (B, 1, 1) and broadcasts per image.

    Returns:
        A tf.data.Dataset of (noisy, clean) float32 batches (B, H, W, C), or of
        (noisy, clean, weight) with `loss_weight`.

    Example:

    >>> x = np.random.default_rng(0).uniform(size=(10, 16, 16, 1)).astype("float32")
    >>> ds = keras_gahb.data.noisy_pairs(x, batch_size=4, images_per_epoch=20, seed=0)
    >>> model.fit(ds, epochs=2, shuffle=False)
    """
    import tensorflow as tf

    low, high = _check_sigma(sigma, sigma_max, sigma_min)
    if loss_weight is not None:
        _check_loss_weight(loss_weight, sigma_data)
    batch_size = _positive_int(batch_size, "batch_size")
    if images_per_epoch is not None:
        images_per_epoch = _positive_int(images_per_epoch, "images_per_epoch")
    if not isinstance(seed, numbers.Integral):
        raise ValueError(f"seed must be an int for noisy_pairs, got {seed!r}.")
    if not isinstance(initial_epoch, numbers.Integral) or initial_epoch < 0:
        raise ValueError(f"initial_epoch must be a non-negative int, got {initial_epoch!r}.")

    base_seed = tf.constant([int(seed) % (2**31), 0x9A4B], dtype=tf.int64)
    if isinstance(images, tf.data.Dataset):
        epoch_fn = _dataset_epoch_fn(
            tf, images, batch_size, images_per_epoch, shuffle, drop_remainder, shuffle_buffer,
            base_seed,
        )
    else:
        epoch_fn = _array_epoch_fn(
            tf, images, batch_size, images_per_epoch, shuffle, drop_remainder, base_seed
        )

    def add_noise_to_batch(epoch, batch_index, clean):
        key = tf.random.experimental.stateless_fold_in(
            tf.random.experimental.stateless_fold_in(base_seed, epoch), batch_index
        )
        sigma_key, noise_key = tf.unstack(tf.random.experimental.stateless_split(key, 2))
        n = tf.shape(clean)[0]
        sigmas = _tf_sigmas(tf, n, sigma, low, high, sigma_key)
        noise = tf.random.stateless_normal(tf.shape(clean), seed=noise_key, dtype=tf.float32)
        noisy = clean + tf.reshape(sigmas, [-1, 1, 1, 1]) * noise
        if loss_weight is None:
            return noisy, clean
        floored = tf.maximum(sigmas, WEIGHT_SIGMA_FLOOR)
        weights = _weights(tf, floored, loss_weight, float(sigma_data))
        return noisy, clean, tf.reshape(tf.cast(weights, tf.float32), [-1, 1, 1, 1])

    def one_epoch(epoch):
        batches = epoch_fn(epoch).enumerate()
        return batches.map(
            lambda i, clean: add_noise_to_batch(epoch, i, clean),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )

    # One epoch per iteration: a counter advanced each time the dataset is iterated.
    counter = tf.Variable(int(initial_epoch) - 1, dtype=tf.int64, trainable=False)
    epochs = tf.data.Dataset.range(1).map(lambda _: counter.assign_add(1))
    dataset = epochs.flat_map(one_epoch)
    per_epoch = images_per_epoch or epoch_fn.num_images
    num_batches = per_epoch // batch_size if drop_remainder else -(-per_epoch // batch_size)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(num_batches))
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    dataset._gahb_epoch_counter = counter  # keep the variable alive with the dataset
    return dataset


def _array_epoch_fn(tf, images, batch_size, images_per_epoch, shuffle, drop_remainder, base_seed):
    array = as_image_array(images)
    n = array.shape[0]
    total = images_per_epoch or n
    copies = -(-total // n)
    table = tf.constant(array)

    def indices_for(epoch):
        if shuffle:
            key = tf.random.experimental.stateless_fold_in(
                tf.random.experimental.stateless_fold_in(base_seed, epoch), -1
            )
            keys = tf.random.stateless_uniform([copies, n], seed=key)
            order = tf.argsort(keys, axis=1, stable=True)
        else:
            order = tf.tile(tf.range(n)[None, :], [copies, 1])
        return tf.reshape(order, [-1])[:total]

    def epoch_fn(epoch):
        batches = tf.data.Dataset.from_tensor_slices(indices_for(epoch)).batch(
            batch_size, drop_remainder=drop_remainder
        )
        return batches.map(lambda idx: tf.gather(table, idx))

    epoch_fn.num_images = n
    return epoch_fn


def _dataset_epoch_fn(
    tf, dataset, batch_size, images_per_epoch, shuffle, drop_remainder, shuffle_buffer, base_seed
):
    shuffle_buffer = _positive_int(shuffle_buffer, "shuffle_buffer")
    spec = dataset.element_spec
    if not isinstance(spec, tf.TensorSpec) or spec.shape.rank != 3:
        raise ValueError(
            "noisy_pairs expects a tf.data.Dataset of single images (H, W, C); got element "
            f"spec {spec}. Unbatch it first (dataset.unbatch())."
        )
    cardinality = int(dataset.cardinality())
    if images_per_epoch is None and cardinality < 0:
        raise ValueError(
            "The dataset's size is unknown or infinite; pass images_per_epoch to noisy_pairs."
        )
    dataset = dataset.map(lambda x: tf.cast(x, tf.float32))

    def one_pass(epoch, repetition):
        if not shuffle:
            return dataset
        # Block shuffle: permute each window of `shuffle_buffer` images with a
        # stateless key (seed, epoch, pass, window), so epochs differ deterministically.
        pass_key = tf.random.experimental.stateless_fold_in(
            tf.random.experimental.stateless_fold_in(base_seed, epoch), repetition
        )

        def permute(window, block):
            key = tf.random.experimental.stateless_fold_in(pass_key, window)
            order = tf.random.experimental.stateless_shuffle(
                tf.range(tf.shape(block)[0]), seed=key
            )
            return tf.gather(block, order)

        return dataset.batch(shuffle_buffer).enumerate().map(permute).unbatch()

    def epoch_fn(epoch):
        if images_per_epoch is None:
            stream = one_pass(epoch, 0)
        else:
            passes = tf.data.Dataset.range(2**62)
            stream = passes.flat_map(lambda r: one_pass(epoch, r)).take(images_per_epoch)
        return stream.batch(batch_size, drop_remainder=drop_remainder)

    epoch_fn.num_images = cardinality
    return epoch_fn


def _tf_sigmas(tf, n, sigma, low, high, key):
    if isinstance(sigma, numbers.Number):
        return tf.fill([n], tf.constant(float(sigma), tf.float32))
    u = tf.random.stateless_uniform([n], seed=key, dtype=tf.float32)
    if sigma == "quadratic":
        return low + tf.square(u) * (high - low)
    if sigma == "uniform":
        return low + u * (high - low)
    log_uniform = tf.exp(np.log(low) + u * (np.log(high) - np.log(low)))
    if sigma == "log_uniform":
        return log_uniform
    coin = tf.random.stateless_uniform([n], seed=tf.random.experimental.stateless_fold_in(key, 1),
                                       dtype=tf.float32)
    return tf.where(coin < 0.5, log_uniform, tf.square(u) * high)


def as_image_array(images, name="images"):
    """Check and convert a batch of images to a finite float32 array (n, H, W, C).

    `keras_gahb.utils.as_image_batch`'s rule: a 3-D array is one image, not a batch, and
    raises here; give gray images as (n, H, W, 1).
    """
    return as_image_batch(images, name, allow_one_image=False)


def _check_sigma(sigma, sigma_max, sigma_min):
    if isinstance(sigma, bool):
        raise ValueError(f"sigma must be a distribution name or a number, got {sigma!r}.")
    if isinstance(sigma, numbers.Number):
        if not np.isfinite(sigma) or sigma < 0:
            raise ValueError(f"A fixed sigma must be finite and >= 0, got {sigma}.")
        return float(sigma), float(sigma)
    if sigma not in SIGMA_DISTRIBUTIONS:
        raise ValueError(
            f"Unknown sigma distribution {sigma!r}; use one of {', '.join(SIGMA_DISTRIBUTIONS)} "
            "or a fixed number."
        )
    if sigma_min is None:
        sigma_min = _DEFAULT_LOG_SIGMA_MIN if sigma in ("log_uniform", "mixture") else 0.0
    sigma_min, sigma_max = float(sigma_min), float(sigma_max)
    if not (np.isfinite(sigma_max) and np.isfinite(sigma_min)) or sigma_min < 0:
        raise ValueError(f"sigma_min and sigma_max must be finite and >= 0, got "
                         f"{sigma_min} and {sigma_max}.")
    if sigma_max <= sigma_min:
        raise ValueError(f"sigma_max ({sigma_max}) must exceed sigma_min ({sigma_min}).")
    if sigma in ("log_uniform", "mixture") and sigma_min <= 0:
        raise ValueError(f"{sigma} noise levels need sigma_min > 0.")
    return sigma_min, sigma_max


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")
    return int(value)
