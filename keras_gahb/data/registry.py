"""One entry point for every dataset: `get_images`, `image_dataset`, `list_datasets`."""

import dataclasses

import numpy as np

from keras_gahb.data import builtin, calpha, discs, folder, manifolds, tfds_sources
from keras_gahb.data.gaussian_images import GaussianImages
from keras_gahb.data.not_enough_images_error import NotEnoughImagesError
from keras_gahb.data.prepared import load_prepared
from keras_gahb.data.transforms import (
    check_channels,
    check_count,
    check_size,
    pixel_shuffle,
    to_channels,
)


@dataclasses.dataclass(frozen=True)
class _Source:
    loader: object
    description: str
    kind: str  # "synthetic", "builtin" or "external"
    options: tuple = ()


def _discs(n, size, seed, channels, **options):
    return to_channels(discs.disc_images(n, size, seed=seed, **options), channels)


def _calpha(n, size, seed, channels, **options):
    return to_channels(calpha.calpha_images(n, size, seed=seed, **options), channels)


def _ray(n, size, seed, channels, **options):
    return to_channels(manifolds.ray_images(n, size, seed=seed, **options), channels)


def _sinusoids(n, size, seed, channels, **options):
    return to_channels(manifolds.sinusoid_images(n, size, seed=seed, **options), channels)


def _gaussian(n, size, seed, channels, **options):
    return GaussianImages(size, channels=channels, **options).sample(n, seed=seed)


def _tfds(name):
    def load(n, size, seed, channels, split="train", data_dir=None, crop="default",
             deduplicate=None):
        del seed  # file order
        return tfds_sources.tfds_images(name, n, size, channels=channels, split=split,
                                        data_dir=data_dir, crop=crop, deduplicate=deduplicate)

    return load


def _folder(n, size, seed, channels, path=None, crop="center", recursive=True, on_error="skip"):
    del seed  # sorted file order
    if path is None:
        raise ValueError("Dataset 'folder' needs path=FOLDER (CLI: --option path=FOLDER).")
    return folder.folder_images(path, n, size, channels=channels, crop=crop,
                                recursive=recursive, on_error=on_error)


def _prepared(n, size, seed, channels, path=None, verify=True):
    del seed  # stored order
    if path is None:
        raise ValueError("Dataset 'prepared' needs path=FOLDER written by `gahb data prepare`.")
    images, manifest = load_prepared(path, verify=verify)
    if images.shape[1:] != (size, size, channels):
        raise ValueError(f"{path} holds images of shape {images.shape[1:]}, not "
                         f"{(size, size, channels)}; pass matching size and channels.")
    if len(images) < n:
        raise NotEnoughImagesError(f"{path} holds {len(images)} images, {n} were asked for.",
                                   available=len(images), requested=n, source=path)
    return images[:n]


def _faces(n, size, seed, channels):
    del seed  # a fixed set of 100 faces, in stored order
    return builtin.lfw_faces(n, size, channels=channels)


def _photos(n, size, seed, channels, **options):
    return builtin.photo_patches(n, size, seed=seed, channels=channels, **options)


_SOURCES = {
    "calpha": _Source(
        _calpha, "C^alpha images: regular contour between two regular backgrounds (App. E).",
        "synthetic", ("alpha", "background_alpha", "contour_amplitude", "intensity_ranges",
                      "blur", "variant")),
    "discs": _Source(
        _discs, "Anti-aliased discs: a 5-D manifold (center x, y, radius, 2 intensities).",
        "synthetic", ("radius_range", "min_contrast")),
    "ray": _Source(
        _ray, "One image at random positive scalings (a 1-D ray).", "synthetic",
        ("image", "scale_range")),
    "sinusoids": _Source(
        _sinusoids, "Unit-frequency sinusoids, random amplitude and phase (a 2-D cone).",
        "synthetic", ("frequency", "max_amplitude")),
    "gaussian": _Source(
        _gaussian, "Stationary Gaussian images with power spectrum |k|^-p (Wiener optimum).",
        "synthetic", ("spectrum_exponent", "std", "mean", "k0")),
    "faces": _Source(_faces, "scikit-image's 100 LFW faces (offline), bicubic resize.", "builtin"),
    "photos": _Source(
        _photos, "Random patches of scikit-image's bundled photos (offline).", "builtin",
        ("patch_size", "photos")),
    "celeba": _Source(
        _tfds("celeba"), "CelebA via tfds celeb_a (user-prepared), paper crop + bicubic resize.",
        "external", ("split", "data_dir", "crop", "deduplicate")),
    "celeba_hq": _Source(
        _tfds("celeba_hq"), "CelebA-HQ via tfds celeb_a_hq/128 (manual download).", "external",
        ("split", "data_dir", "crop")),
    "lsun_bedroom": _Source(
        _tfds("lsun_bedroom"), "LSUN bedrooms via tfds lsun/bedroom (user-prepared).",
        "external", ("split", "data_dir", "crop")),
    "folder": _Source(
        _folder, "Any folder of PNG/JPEG images (recursive), crop + bicubic resize.",
        "external", ("path", "crop", "recursive", "on_error")),
    "prepared": _Source(
        _prepared, "A folder written by `gahb data prepare` (checksums verified).", "external",
        ("path", "verify")),
}


def register_source(name, loader, description, kind, options=()):
    """Add a dataset `name` whose `loader(n, size, seed, channels, **options)` returns images."""
    _SOURCES[name] = _Source(loader, description, kind, tuple(options))


def list_datasets():
    """Rows {name, kind, description, options} for every dataset `get_images` knows."""
    rows = []
    for name, source in _SOURCES.items():
        rows.append({
            "name": name,
            "kind": source.kind,
            "description": source.description,
            "options": list(source.options),
        })
    return rows


def get_images(name, n, size, seed=0, channels=1, shuffle_pixels=None, **options):
    """Load or generate `n` images of `name` as float32 (n, size, size, channels) in [0, 1].

    Args:
        name: a dataset name (see `list_datasets()` or `gahb data list`).
        n: number of images.
        size: image side.
        seed: int seed for generated or sampled data. Default 0.
        channels: 1 (gray) or 3. Default 1.
        shuffle_pixels: None, or an int seed: apply one fixed permutation of pixel
            positions (drawn from it) to every image. Default None.
        **options: dataset-specific options (e.g. alpha for "calpha",
            path for "folder"); unknown options raise ValueError.

    Example:

    >>> images = keras_gahb.data.get_images("discs", 16, size=32, seed=0)
    >>> images.shape
    (16, 32, 32, 1)
    """
    source = _lookup(name)
    n, size, channels = check_count(n), check_size(size), check_channels(channels)
    allowed = source.options
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(
            f"Dataset {name!r} has no option(s) {', '.join(unknown)}; its options are: "
            f"{', '.join(allowed) or 'none'}."
        )
    images = np.asarray(source.loader(n, size, seed, channels, **options), dtype=np.float32)
    if shuffle_pixels is not None:
        images = pixel_shuffle(images, seed=shuffle_pixels)
    return images


def image_dataset(name, n, size, seed=0, channels=1, **options):
    """`get_images(...)` as a tf.data.Dataset of single float32 images (size, size, channels).

    Example:

    >>> ds = keras_gahb.data.image_dataset("discs", 8, size=16).batch(4)
    """
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(
        get_images(name, n, size, seed=seed, channels=channels, **options)
    )


def _lookup(name):
    if name not in _SOURCES:
        raise ValueError(
            f"Unknown dataset {name!r}; choose one of: {', '.join(_SOURCES)} "
            "(see `gahb data list`)."
        )
    return _SOURCES[name]

