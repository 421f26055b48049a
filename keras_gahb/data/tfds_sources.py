"""Natural-image datasets read through tensorflow-datasets, never downloaded implicitly.

CelebA, CelebA-HQ and LSUN bedrooms are large and partly need manual download,
so these readers only use data already prepared in a tfds data folder; when it
is absent they raise FileNotFoundError naming the steps to prepare it.
"""

import numpy as np

from keras_gahb.data.not_enough_images_error import NotEnoughImagesError
from keras_gahb.data.transforms import check_channels, check_count, check_size

CELEBA_CROP = ((29, -29), (9, -9))  # 218x178 aligned faces -> 160x160 (the paper's crop)

TFDS_SOURCES = {
    "celeba": {
        "builder": "celeb_a",
        "crop": CELEBA_CROP,
        "steps": (
            "CelebA is read with tensorflow-datasets. Prepare it once (downloads about 1.4 GB "
            "from Google Drive): python -c \"import tensorflow_datasets as tfds; "
            "tfds.builder('celeb_a', data_dir=DATA_DIR).download_and_prepare()\", or place "
            "the files manually as described at "
            "https://www.tensorflow.org/datasets/catalog/celeb_a, then pass data_dir=DATA_DIR."
        ),
    },
    "celeba_hq": {
        "builder": "celeb_a_hq/128",
        "crop": None,
        "steps": (
            "CelebA-HQ needs a manual download: follow "
            "https://www.tensorflow.org/datasets/catalog/celeb_a_hq (put the generated files in "
            "DATA_DIR/downloads/manual), then run python -c \"import tensorflow_datasets as tfds; "
            "tfds.builder('celeb_a_hq/128', data_dir=DATA_DIR).download_and_prepare()\" and "
            "pass data_dir=DATA_DIR."
        ),
    },
    "lsun_bedroom": {
        "builder": "lsun/bedroom",
        "crop": "center",
        "steps": (
            "LSUN bedrooms are read with tensorflow-datasets. Prepare them once (a large "
            "download): python -c \"import tensorflow_datasets as tfds; "
            "tfds.builder('lsun/bedroom', data_dir=DATA_DIR).download_and_prepare()\" "
            "(see https://www.tensorflow.org/datasets/catalog/lsun), then pass data_dir=DATA_DIR."
        ),
    },
}


def tfds_dataset(name, size=80, split="train", channels=1, data_dir=None, crop="default"):
    """A tf.data.Dataset of preprocessed images from CelebA, CelebA-HQ or LSUN bedrooms.

    Preprocessing (the paper's for CelebA): crop (CelebA: rows 29:-29 and
    columns 9:-9 of the 218x178 aligned image; LSUN: central square), bicubic
    resize (antialiased) to size x size, values / 255 clipped to [0, 1], gray
    = mean of R, G, B.

    Args:
        name: "celeba", "celeba_hq" or "lsun_bedroom".
        size: output side. Default 80.
        split: tfds split, e.g. "train", "test" or "train[:1000]". Default "train".
        channels: 1 (gray = mean of RGB) or 3. Default 1.
        data_dir: the tfds data folder holding the prepared dataset; None = tfds's
            default (~/tensorflow_datasets or $TFDS_DATA_DIR). Default None.
        crop: "default" (per dataset, above), None (no crop), "center" (central
            square) or ((top, bottom), (left, right)) slice ends. Default "default".

    Returns:
        tf.data.Dataset of float32 images (size, size, channels), in file order.

    Raises:
        FileNotFoundError: the dataset is not prepared in data_dir (with the steps to do it).

    Example:

    >>> ds = keras_gahb.data.tfds_dataset("celeba", size=80, data_dir="~/tensorflow_datasets")
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    if name not in TFDS_SOURCES:
        raise ValueError(f"Unknown tfds dataset {name!r}; choose one of {', '.join(TFDS_SOURCES)}.")
    size, channels = check_size(size), check_channels(channels)
    source = TFDS_SOURCES[name]
    crop = source["crop"] if crop == "default" else crop
    try:
        dataset = tfds.load(
            source["builder"], split=split, data_dir=data_dir, download=False,
            shuffle_files=False,
        )
    except (AssertionError, FileNotFoundError) as error:
        where = data_dir or "the default tfds folder (~/tensorflow_datasets or $TFDS_DATA_DIR)"
        raise FileNotFoundError(
            f"Dataset {name!r} ({source['builder']}) is not prepared in {where}. "
            f"{source['steps']} ({error})"
        ) from None
    except ValueError as error:  # e.g. a bad split string
        raise ValueError(f"Cannot read {name!r} split {split!r}: {error}") from None

    def preprocess(example):
        image = tf.cast(example["image"], tf.float32) / 255.0
        image = _crop(tf, image, crop)
        image = tf.image.resize(image, (size, size), method="bicubic", antialias=True)
        image = tf.clip_by_value(image, 0.0, 1.0)
        if channels == 1:
            image = tf.reduce_mean(image, axis=-1, keepdims=True)
        return image

    return dataset.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def tfds_images(name, n, size=80, channels=1, split="train", data_dir=None, crop="default",
                batch_size=256):
    """The first n images of `tfds_dataset(...)` as a numpy array (n, size, size, channels)."""
    n = check_count(n)
    dataset = tfds_dataset(name, size, split=split, channels=channels, data_dir=data_dir,
                           crop=crop)
    out = np.empty((n, size, size, channels), np.float32)
    filled = 0
    for batch in dataset.take(n).batch(batch_size).as_numpy_iterator():
        out[filled:filled + len(batch)] = batch
        filled += len(batch)
    if filled < n:
        raise NotEnoughImagesError(
            f"{name!r} split {split!r} has only {filled} images, {n} were asked for.",
            available=filled, requested=n, source=name)
    return out


def _crop(tf, image, crop):
    if crop is None:
        return image
    if isinstance(crop, str):
        if crop != "center":
            raise ValueError(f"crop must be 'default', 'center', None or slice ends, got {crop!r}.")
        shape = tf.shape(image)
        side = tf.minimum(shape[0], shape[1])
        top, left = (shape[0] - side) // 2, (shape[1] - side) // 2
        return image[top:top + side, left:left + side]
    try:
        (top, bottom), (left, right) = crop
    except (TypeError, ValueError):
        raise ValueError(f"crop must be ((top, bottom), (left, right)), got {crop!r}.") from None
    return image[top:bottom, left:right]
