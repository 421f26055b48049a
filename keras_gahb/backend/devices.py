"""Which device the current Keras backend computes on (the only module that asks each backend)."""

import os

import keras


def on_cpu(backend=None):
    """True when the current backend computes on the CPU (no GPU or TPU in use).

    - tensorflow: no logical GPU device and no TPU_NAME in the environment;
    - jax: `jax.default_backend() == "cpu"`;
    - torch: `torch.cuda.is_available()` is False;
    - numpy (and any other backend): True.

    Args:
        backend: optional str, one of "tensorflow", "jax", "torch", "numpy".
            Defaults to `keras.backend.backend()`.

    Example:

    >>> keras_gahb.backend.on_cpu()
    True
    """
    backend = backend or keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return not tf.config.list_logical_devices("GPU") and not os.environ.get("TPU_NAME")
    if backend == "jax":
        import jax

        return jax.default_backend() == "cpu"
    if backend == "torch":
        import torch

        return not torch.cuda.is_available()
    return True
