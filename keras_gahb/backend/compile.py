"""Compile a function of tensors with the current backend's own compiler.

The sampler's step is written with keras.ops; this module turns it into a
compiled function and makes a Keras model callable as a pure function of its
weights, which is what `jax.jit` needs to avoid baking weights in as constants.
"""

import keras


def compile_function(fn, backend=None):
    """Compile `fn` for `backend` (default: the current Keras backend).

    - tensorflow: `tf.function(fn, jit_compile=False, reduce_retracing=True,
      autograph=False)`
      (graph mode with oneDNN kernels; XLA was slower for the UNet on CPU);
    - jax: `jax.jit(fn)`;
    - torch: `fn` run eagerly under `torch.no_grad()`.

    Args:
        fn: a function of tensors written with keras.ops.
        backend: optional str, one of "tensorflow", "jax", "torch", "numpy".
            Defaults to `keras.backend.backend()`.

    Example:

    >>> step = keras_gahb.backend.compile_function(lambda x: keras.ops.square(x) + 1.0)
    >>> float(step(keras.ops.ones(())))
    2.0
    """
    backend = backend or keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=False, reduce_retracing=True, autograph=False)
    if backend == "jax":
        import jax

        return jax.jit(fn)
    if backend == "torch":
        import torch

        def no_grad_fn(*args):
            with torch.no_grad():
                return fn(*args)

        return no_grad_fn
    return fn


def functional_denoiser(denoiser, example=None):
    """Return `(fn, state)` with `fn(state, y) == denoiser(y)` in inference mode.

    On JAX a Keras model is called through `stateless_call`, so its weights are
    arguments of the compiled function rather than constants; elsewhere `fn`
    calls the model (`training=False`) or the plain callable directly.

    Args:
        denoiser: a Keras layer/model or a callable of a (B, H, W, C) tensor.
        example: optional input used to build an unbuilt Keras model.
    """
    if not callable(denoiser):
        raise ValueError(
            f"The denoiser must be a Keras model or a callable mapping a batch of images "
            f"to denoised images; got {type(denoiser).__name__}."
        )
    if isinstance(denoiser, keras.Layer):
        if not denoiser.built and example is not None:
            denoiser(example, training=False)
        if keras.backend.backend() == "jax":
            state = (
                [v.value for v in denoiser.trainable_variables],
                [v.value for v in denoiser.non_trainable_variables],
            )

            def stateless(state, y):
                outputs, _ = denoiser.stateless_call(state[0], state[1], y, training=False)
                return outputs

            return stateless, state
        return (lambda state, y: denoiser(y, training=False)), ()
    return (lambda state, y: denoiser(y)), ()
