"""Images from any folder of PNG/JPEG files, with the same preprocessing as the tfds sources."""

import os
import warnings

import numpy as np

from keras_gahb.data.not_enough_images_error import NotEnoughImagesError
from keras_gahb.data.transforms import check_channels, check_size, resize_images, to_channels

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


def list_image_files(path, recursive=True):
    """Sorted paths of the PNG/JPEG files under `path` (case-insensitive extensions)."""
    path = os.path.expanduser(os.fspath(path))
    if not os.path.isdir(path):
        raise FileNotFoundError(f"Image folder not found: {path}")
    files = []
    for root, dirs, names in os.walk(path):
        dirs.sort()
        files.extend(os.path.join(root, name) for name in names
                     if name.lower().endswith(IMAGE_EXTENSIONS))
        if not recursive:
            break
    return sorted(files)


def folder_images(path, n=None, size=80, channels=1, crop="center", recursive=True,
                  on_error="skip"):
    """Read, crop and resize the images of a folder (recursively) in sorted file order.

    Each file is decoded to RGB in [0, 1], cropped (central square by default,
    or ((top, bottom), (left, right)) slice ends such as CelebA's
    ((29, -29), (9, -9))), resized bicubically (antialiased) to size x size
    and, for channels=1, averaged over R, G, B.

    Args:
        path: the folder.
        n: read the first n readable images; None = all. Default None.
        size: output side. Default 80.
        channels: 1 or 3. Default 1.
        crop: "center", None (resize the whole image) or slice ends. Default "center".
        recursive: include subfolders. Default True.
        on_error: "skip" (warn, naming each unreadable file) or "raise". Default "skip".

    Returns:
        float32 (n, size, size, channels) in [0, 1].

    Example:

    >>> images = keras_gahb.data.folder_images("photos/", n=100, size=40)
    """
    from PIL import Image

    size, channels = check_size(size), check_channels(channels)
    if on_error not in ("skip", "raise"):
        raise ValueError(f"on_error must be 'skip' or 'raise', got {on_error!r}.")
    files = list_image_files(path, recursive=recursive)
    if not files:
        raise FileNotFoundError(f"No PNG/JPEG images in {path}.")
    images, skipped = [], []
    for file in files:
        if n is not None and len(images) >= n:
            break
        try:
            with Image.open(file) as handle:
                rgb = np.asarray(handle.convert("RGB"), dtype=np.float32) / 255.0
        except Exception as error:  # noqa: BLE001  any decoding failure (PIL raises
            # OSError, ValueError, DecompressionBombError, SyntaxError, struct.error, ...)
            reason = _reason(error)
            if on_error == "raise":
                raise ValueError(f"Cannot read image {file}: {reason}") from None
            skipped.append(f"{file} ({reason})")
            continue
        cropped = _crop(rgb, crop, file)
        images.append(to_channels(resize_images(cropped[None], size), channels)[0])
    if skipped:
        warnings.warn(f"Skipped {len(skipped)} unreadable image file(s): {'; '.join(skipped)}",
                      stacklevel=2)
    if not images:
        raise ValueError(f"None of the {len(files)} image files in {path} could be read"
                         f"{': ' + skipped[0] if len(skipped) == 1 else ''}.")
    if n is not None and len(images) < n:
        raise NotEnoughImagesError(
            f"{path} holds {len(images)} readable images, {n} were asked for.",
            available=len(images), requested=n, source=os.fspath(path))
    return np.stack(images)


def _reason(error):
    """`Type: first line of the message`, e.g. for PIL's DecompressionBombError."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def _crop(image, crop, file):
    if crop is None:
        return image
    if crop == "center":
        side = min(image.shape[:2])
        top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
        return image[top:top + side, left:left + side]
    try:
        (top, bottom), (left, right) = crop
    except (TypeError, ValueError):
        raise ValueError(f"crop must be 'center', None or ((top, bottom), (left, right)), "
                         f"got {crop!r}.") from None
    cropped = image[top:bottom, left:right]
    if min(cropped.shape[:2]) < 1:
        raise ValueError(f"crop {crop} leaves nothing of {file} ({image.shape[0]}x"
                         f"{image.shape[1]}).")
    return cropped
