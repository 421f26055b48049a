"""The noise floor of a denoiser on clean images, where its sampler stalls."""

import numpy as np

from keras_gahb import backend
from keras_gahb.utils.images import as_image_batch


def clean_image_floor(denoiser, images, batch_size=64):
    """Per image, ||f(x) - x|| / sqrt(D) on clean images x: the denoiser's own noise floor.

    The sampler estimates the noise level of its iterate as
    sigma_t = ||f(x) - x|| / sqrt(D). On a clean image an optimal denoiser
    changes almost nothing, so this is near 0; a denoiser with an error floor
    (worse than the identity at low noise) moves clean images by about its
    floor, and its sampler cannot take sigma_t much below that value: it
    reaches `sigma_final` only if sigma_final is above the floor, and stops
    at the floor otherwise (`SampleResult.at_floor`). Measured this way, the
    floor needs no sampling.

    Args:
        denoiser: a Keras model (called in inference mode) or a callable on
            float32 batches (B, H, W, C).
        images: clean images (n, H, W, C) in the data range.
        batch_size: images per call. Defaults to 64.

    Returns:
        float64 array (n,).

    Example:

    >>> floor = keras_gahb.sampling.clean_image_floor(model, test_images)
    >>> float(np.median(floor))  # compare with sigma_final
    """
    images = as_image_batch(images, "images", allow_one_image=False)
    if not callable(denoiser):
        raise ValueError(f"The denoiser must be callable, got {type(denoiser).__name__}.")
    batch_size = int(batch_size)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    out = np.concatenate([backend.forward(denoiser, images[i:i + batch_size])
                          for i in range(0, len(images), batch_size)])
    d = (out.astype(np.float64) - images).reshape(len(images), -1)
    return np.sqrt(np.mean(d**2, axis=1))
