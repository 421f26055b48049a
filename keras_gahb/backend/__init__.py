"""Backend-specific automatic differentiation of denoisers (TensorFlow, JAX, PyTorch).

This is the only part of keras_gahb that dispatches on the Keras backend:
compiled inference `forward`, Jacobian-vector products `jvp`, vector-Jacobian products `vjp`, products at
one image `linearize`, and the full chunked `jacobian`; and `global_batch_variance`, batch
statistics pooled over the replicas of a data-parallel step (synchronized batch norm).
"""

from keras_gahb.backend.autodiff import (
    auto_chunk_size,
    clear_cache,
    forward,
    jacobian,
    jvp,
    linearize,
    vjp,
)
from keras_gahb.backend.cross_replica import global_batch_variance

__all__ = [
    "auto_chunk_size",
    "clear_cache",
    "forward",
    "global_batch_variance",
    "jacobian",
    "jvp",
    "linearize",
    "vjp",
]
