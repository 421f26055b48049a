"""Backend-specific code: compilation and automatic differentiation (TensorFlow, JAX, PyTorch).

This is the only part of keras_gahb that dispatches on the Keras backend
(with `training/distribution.py` for data parallelism):

- `compile`: `compile_function` (tf.function / jax.jit / torch.no_grad) and
  `functional_denoiser` (a model as a pure function of its weights, for jax.jit);
- `autodiff`: compiled inference `forward`, Jacobian-vector products `jvp`,
  vector-Jacobian products `vjp`, products at one image `linearize`, and the
  full chunked `jacobian`;
- `cross_replica`: `global_batch_variance`, batch statistics pooled over the
  replicas of a data-parallel step (synchronized batch norm), and
  `local_predictor`, inference computed by one process of a multi-process run;
- `threads`: `configure_stacked_threads`, TensorFlow's CPU thread pools for
  stacked training;
- `devices`: `on_cpu`, whether the backend computes on the CPU.
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
from keras_gahb.backend.compile import compile_function, functional_denoiser
from keras_gahb.backend.devices import on_cpu
from keras_gahb.backend.cross_replica import global_batch_variance, local_predictor
from keras_gahb.backend.threads import configure_stacked_threads

__all__ = [
    "auto_chunk_size",
    "clear_cache",
    "compile_function",
    "configure_stacked_threads",
    "forward",
    "functional_denoiser",
    "global_batch_variance",
    "jacobian",
    "jvp",
    "linearize",
    "local_predictor",
    "on_cpu",
    "vjp",
]
