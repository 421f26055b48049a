"""Jacobian-vector products of a denoiser on every Keras backend (the one dispatching module).

Everything backend-specific about differentiation lives here, dispatched on
`keras.backend.backend()`:

- tensorflow: `tf.GradientTape` (reverse mode) and `tf.autodiff.ForwardAccumulator`
  (forward mode) inside `tf.function` graphs (unused weight gradients are pruned);
- jax: `jax.vjp` / `jax.jvp` vectorized with `jax.vmap` over the model's
  `stateless_call`, compiled with `jax.jit` (the weights are arguments, not
  constants); the primal pass is computed once per chunk of vectors;
- torch: `torch.autograd.grad` for reverse mode and the double-backward
  identity J v = d/du <J^T u, v> for forward mode.

For a denoiser f: R^D -> R^D at an image y, J(y)[i, j] = d f_i / d y_j, so a
Jacobian-vector product is J v and a vector-Jacobian product is J^T u; row i of
J is J^T e_i. The full Jacobian is assembled from chunks of rows, so memory
stays bounded by `chunk_size` copies of the network's activations.

The denoiser must treat the images of a batch independently (true for every
Keras model in inference mode, since batch norm then uses its running
statistics): several vectors at one image are evaluated as one batch.
"""

import math
import weakref

import keras
import numpy as np

_CACHE = weakref.WeakKeyDictionary()


def forward(denoiser, y):
    """f(y) for a batch (B, H, W, C) through the cached compiled function (float32 numpy).

    Keras models run in inference mode (`training=False`).
    """
    y = _as_batch(y, "y")
    return _numpy(_differentiator(denoiser).forward(y))


def jvp(denoiser, y, v):
    """Jacobian-vector products J(y_b) v_b for a batch, with the outputs f(y_b).

    Args:
        denoiser: a Keras model (called with `training=False`) or a callable
            mapping a float32 batch (B, H, W, C) to a batch of the same shape,
            written with keras.ops (so the backend can differentiate it).
        y: images (B, H, W, C).
        v: tangent vectors, same shape as y.

    Returns:
        `(f(y), J v)`: two float32 numpy arrays of shape (B, H, W, C).

    Example:

    >>> model = keras_gahb.models.from_preset("unet_tiny")
    >>> y = np.random.default_rng(0).random((2, 8, 8, 1), dtype="float32")
    >>> fy, jy = keras_gahb.backend.jvp(model, y, y)  # f(y) == J(y) y (bias-free)
    """
    y, v = _check_pair(y, v, "v")
    out, tangent = _differentiator(denoiser).jvp(y, v)
    return _numpy(out), _numpy(tangent)


def vjp(denoiser, y, u):
    """Vector-Jacobian products J(y_b)^T u_b for a batch, with the outputs f(y_b).

    Args:
        denoiser: a Keras model or keras.ops callable on (B, H, W, C) batches.
        y: images (B, H, W, C).
        u: cotangent vectors, same shape as y.

    Returns:
        `(f(y), J^T u)`: two float32 numpy arrays of shape (B, H, W, C).

    Example:

    >>> fy, jt_u = keras_gahb.backend.vjp(model, y, np.ones_like(y))
    """
    y, u = _check_pair(y, u, "u")
    out, cotangent = _differentiator(denoiser).vjp(y, u)
    return _numpy(out), _numpy(cotangent)


def linearize(denoiser, image):
    """Return `(f(y), jvp_fn, vjp_fn)`: products with J(y) at one image y.

    `jvp_fn(V)` maps a stack of k tangent vectors (k, H, W, C) to the stack of
    J V_i, and `vjp_fn(U)` maps a stack of cotangents to the stack of J^T U_i
    (numpy in, float32 numpy out). All k vectors are processed as one batch;
    compiled functions are cached per denoiser, so repeated calls are cheap.
    This is what Lanczos, Hutchinson and the full Jacobian are built on.

    Args:
        denoiser: a Keras model or keras.ops callable on (B, H, W, C) batches.
        image: one image (H, W, C) or (1, H, W, C).

    Example:

    >>> fy, jv, jtu = keras_gahb.backend.linearize(model, y[0])
    >>> jv(np.eye(64, dtype="float32").reshape(64, 8, 8, 1)).shape  # columns of J
    (64, 8, 8, 1)
    """
    y = _check_single(image)
    diff = _differentiator(denoiser)
    fy = _numpy(diff.forward(y))[0]

    def jvp_fn(vectors):
        vectors = _check_stack(vectors, y.shape[1:], "tangent")
        return _numpy(diff.jvp_at(y, vectors))

    def vjp_fn(vectors):
        vectors = _check_stack(vectors, y.shape[1:], "cotangent")
        return _numpy(diff.vjp_at(y, vectors))

    return fy, jvp_fn, vjp_fn


def jacobian(denoiser, images, chunk_size=None, max_memory_gb=4.0, verbose=0):
    """The full Jacobian J(y) of the denoiser at each image of a batch.

    Rows are computed as vector-Jacobian products with one-hot cotangents,
    `chunk_size` rows at a time (one batched reverse pass per chunk), so the
    peak memory is about `chunk_size` forward/backward passes plus the
    (D, D) result, D = H * W * C.

    Args:
        denoiser: a Keras model or keras.ops callable on (B, H, W, C) batches.
        images: (B, H, W, C) or one image (H, W, C).
        chunk_size: rows per batched reverse pass. Default None: as many as fit
            in `max_memory_gb` by an upper-bound estimate of the activations,
            at most 256.
        max_memory_gb: memory budget for one chunk's activations. Default 4.0.
        verbose: 1 shows a progress bar over chunks. Default 0.

    Returns:
        float32 numpy array (B, D, D) with J[b, i, j] = d f_i(y_b) / d y_j,
        pixels flattened in (H, W, C) order.

    Example:

    >>> J = keras_gahb.backend.jacobian(model, y)  # (2, 64, 64)
    >>> np.allclose(J[0] @ y[0].ravel(), model(y)[0].numpy().ravel(), atol=1e-4)
    True

    Reference: Kadkhodaie et al. 2024, https://arxiv.org/abs/2310.02557 (Sec. 3).
    """
    images = _as_batch(images)
    count, dim = images.shape[0], int(np.prod(images.shape[1:]))
    if chunk_size is None:
        chunk_size = auto_chunk_size(denoiser, images.shape[1:], max_memory_gb)
    chunk_size = int(chunk_size)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}.")
    chunk_size = min(chunk_size, dim)
    result = np.empty((count, dim, dim), np.float32)
    diff = _differentiator(denoiser)
    chunks = math.ceil(dim / chunk_size)
    progbar = keras.utils.Progbar(count * chunks, unit_name="chunk") if verbose else None
    eye = np.zeros((chunk_size, dim), np.float32)
    for b in range(count):
        y = images[b : b + 1]
        for c in range(chunks):
            start = c * chunk_size
            stop = min(dim, start + chunk_size)
            eye[:] = 0.0
            eye[np.arange(stop - start), np.arange(start, stop)] = 1.0
            # The last chunk is padded to the full size: one compiled shape.
            rows = _numpy(diff.vjp_at(y, eye.reshape((chunk_size,) + y.shape[1:])))
            result[b, start:stop] = rows.reshape(chunk_size, dim)[: stop - start]
            if progbar is not None:
                progbar.update(b * chunks + c + 1)
    return result


def auto_chunk_size(denoiser, image_shape, max_memory_gb=4.0, max_chunk=256):
    """Rows per chunk that fit in `max_memory_gb` (an upper-bound estimate).

    For a functional Keras model each layer's output is counted at full
    resolution (an upper bound, since pooling only shrinks maps), twice (the
    forward activations and their gradients); any other callable is assumed
    to hold 64 image-sized maps.
    """
    if not max_memory_gb > 0:
        raise ValueError(f"max_memory_gb must be > 0, got {max_memory_gb}.")
    pixels = int(np.prod(image_shape[:-1]))
    channels = 0
    if isinstance(denoiser, keras.Model):
        for layer in denoiser.layers:
            try:
                shape = layer.output.shape
            except (AttributeError, ValueError):
                continue
            if shape and shape[-1] is not None:
                channels += int(shape[-1])
    channels = channels or 64 * int(image_shape[-1])
    per_row = 4 * 2 * pixels * channels
    return int(max(1, min(max_chunk, max_memory_gb * 2**30 // per_row)))


def clear_cache():
    """Drop the compiled functions cached for denoisers (frees memory)."""
    _CACHE.clear()


# ----------------------------------------------------------------------------------------


def _differentiator(denoiser):
    if not callable(denoiser):
        raise ValueError(
            "The denoiser must be a Keras model or a callable mapping a (B, H, W, C) batch "
            f"to denoised images; got {type(denoiser).__name__}."
        )
    backend = keras.backend.backend()
    try:
        cached = _CACHE.get(denoiser)
    except TypeError:
        cached = None
    if cached is not None and cached.backend == backend:
        return cached
    classes = {"tensorflow": _TensorFlow, "jax": _Jax, "torch": _Torch}
    if backend not in classes:
        raise ValueError(f"Jacobians need the tensorflow, jax or torch backend, not '{backend}'.")
    diff = classes[backend](denoiser)
    try:
        _CACHE[denoiser] = diff
    except TypeError:
        pass
    return diff


def _call(denoiser):
    if isinstance(denoiser, keras.Layer):
        return lambda y: denoiser(y, training=False)
    return denoiser


def _ensure_built(denoiser, y):
    if isinstance(denoiser, keras.Layer) and not denoiser.built:
        denoiser(keras.ops.convert_to_tensor(y), training=False)


class _TensorFlow:
    backend = "tensorflow"

    def __init__(self, denoiser):
        import tensorflow as tf

        self.tf = tf
        self.denoiser = denoiser
        fn = _call(denoiser)

        def forward(y):
            return fn(y)

        def vjp(y, u):
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(y)
                out = fn(y)
            return out, tape.gradient(out, y, output_gradients=u)

        def jvp(y, v):
            with tf.autodiff.ForwardAccumulator(y, v) as acc:
                out = fn(y)
            return out, acc.jvp(out, unconnected_gradients=tf.UnconnectedGradients.ZERO)

        def vjp_at(y, u):
            # One primal pass; the reverse pass is vectorized over the k
            # cotangents by pfor (several times faster than tiling y).
            with tf.GradientTape(watch_accessed_variables=False, persistent=True) as tape:
                tape.watch(y)
                out = fn(y)
                flat_u = tf.reshape(u, [tf.shape(u)[0], -1])
                target = tf.linalg.matvec(flat_u, tf.reshape(out, [-1]))
            return tape.jacobian(target, y, experimental_use_pfor=True)[:, 0]

        def jvp_at(y, v):
            def one(w):
                with tf.autodiff.ForwardAccumulator(y, w[None]) as acc:
                    out = fn(y)
                return acc.jvp(out, unconnected_gradients=tf.UnconnectedGradients.ZERO)[0]

            return tf.vectorized_map(one, v)

        options = dict(reduce_retracing=True, autograph=False)
        self._forward = tf.function(forward, **options)
        self._vjp = tf.function(vjp, **options)
        self._jvp = tf.function(jvp, **options)
        self._vjp_at = tf.function(vjp_at, **options)
        self._jvp_at = tf.function(jvp_at, **options)

    def _t(self, x):
        return self.tf.convert_to_tensor(x, self.tf.float32)

    def forward(self, y):
        _ensure_built(self.denoiser, y)
        return self._forward(self._t(y))

    def vjp(self, y, u):
        _ensure_built(self.denoiser, y)
        return self._vjp(self._t(y), self._t(u))

    def jvp(self, y, v):
        _ensure_built(self.denoiser, y)
        return self._jvp(self._t(y), self._t(v))

    def vjp_at(self, y, u):
        _ensure_built(self.denoiser, y)
        return self._vjp_at(self._t(y), self._t(u))

    def jvp_at(self, y, v):
        _ensure_built(self.denoiser, y)
        return self._jvp_at(self._t(y), self._t(v))


class _Jax:
    backend = "jax"

    def __init__(self, denoiser):
        import jax

        self.jax = jax
        self.denoiser = denoiser
        self.stateful = isinstance(denoiser, keras.Layer)
        if self.stateful:

            def pure(state, y):
                out, _ = denoiser.stateless_call(state[0], state[1], y, training=False)
                return out

        else:

            def pure(state, y):
                return denoiser(y)

        def vjp(state, y, u):
            out, pullback = jax.vjp(lambda x: pure(state, x), y)
            return out, pullback(u)[0]

        def jvp(state, y, v):
            return jax.jvp(lambda x: pure(state, x), (y,), (v,))

        def vjp_at(state, y, u):
            _, pullback = jax.vjp(lambda x: pure(state, x), y)
            return jax.vmap(lambda w: pullback(w[None])[0][0])(u)

        def jvp_at(state, y, v):
            f = lambda x: pure(state, x)  # noqa: E731
            return jax.vmap(lambda w: jax.jvp(f, (y,), (w[None],))[1][0])(v)

        self._forward = jax.jit(pure)
        self._vjp = jax.jit(vjp)
        self._jvp = jax.jit(jvp)
        self._vjp_at = jax.jit(vjp_at)
        self._jvp_at = jax.jit(jvp_at)

    def _state(self, y):
        if not self.stateful:
            return ()
        _ensure_built(self.denoiser, y)
        return (
            [v.value for v in self.denoiser.trainable_variables],
            [v.value for v in self.denoiser.non_trainable_variables],
        )

    def _t(self, x):
        return self.jax.numpy.asarray(x, self.jax.numpy.float32)

    def forward(self, y):
        return self._forward(self._state(y), self._t(y))

    def vjp(self, y, u):
        return self._vjp(self._state(y), self._t(y), self._t(u))

    def jvp(self, y, v):
        return self._jvp(self._state(y), self._t(y), self._t(v))

    def vjp_at(self, y, u):
        return self._vjp_at(self._state(y), self._t(y), self._t(u))

    def jvp_at(self, y, v):
        return self._jvp_at(self._state(y), self._t(y), self._t(v))


class _Torch:
    backend = "torch"

    def __init__(self, denoiser):
        import torch

        self.torch = torch
        self.denoiser = denoiser
        self.fn = _call(denoiser)

    def _t(self, x, grad=False):
        t = keras.ops.convert_to_tensor(np.asarray(x, np.float32))
        return t.detach().requires_grad_(grad)

    def forward(self, y):
        _ensure_built(self.denoiser, y)
        with self.torch.no_grad():
            return self.fn(self._t(y))

    def vjp(self, y, u):
        _ensure_built(self.denoiser, y)
        y = self._t(y, grad=True)
        with self.torch.enable_grad():
            out = self.fn(y)
            (grad,) = self.torch.autograd.grad(out, y, grad_outputs=self._t(u))
        return out.detach(), grad

    def jvp(self, y, v):
        # J v = d/du <J^T u, v>: the double-backward trick needs only reverse mode.
        _ensure_built(self.denoiser, y)
        y = self._t(y, grad=True)
        with self.torch.enable_grad():
            out = self.fn(y)
            u = self.torch.zeros_like(out, requires_grad=True)
            (grad,) = self.torch.autograd.grad(out, y, grad_outputs=u, create_graph=True)
            (tangent,) = self.torch.autograd.grad(grad, u, grad_outputs=self._t(v))
        return out.detach(), tangent

    def vjp_at(self, y, u):
        return self.vjp(np.repeat(np.asarray(y), len(u), axis=0), u)[1]

    def jvp_at(self, y, v):
        return self.jvp(np.repeat(np.asarray(y), len(v), axis=0), v)[1]


def _numpy(x):
    if hasattr(x, "detach"):
        x = x.detach().cpu()
    return np.asarray(keras.ops.convert_to_numpy(x), np.float32)


def _as_batch(images, name="images"):
    images = np.asarray(_numpy(images) if not isinstance(images, np.ndarray) else images)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4:
        raise ValueError(
            f"{name} must be a batch (B, H, W, C) or one image (H, W, C); got shape {images.shape}."
        )
    if not np.all(np.isfinite(images)):
        raise ValueError(f"{name} contain non-finite values (NaN or inf).")
    return images.astype(np.float32, copy=False)


def _check_single(image):
    y = _as_batch(image, "image")
    if y.shape[0] != 1:
        raise ValueError(f"Expected one image (H, W, C) or (1, H, W, C); got shape {y.shape}.")
    return y


def _check_pair(y, w, name):
    y = _as_batch(y, "y")
    w = _as_batch(w, name)
    if w.shape != y.shape:
        raise ValueError(f"{name} must have the shape of y {y.shape}; got {w.shape}.")
    return y, w


def _check_stack(vectors, image_shape, name):
    vectors = np.asarray(vectors, np.float32)
    if vectors.ndim == 3:
        vectors = vectors[None]
    if vectors.ndim != 4 or vectors.shape[1:] != tuple(image_shape):
        raise ValueError(
            f"{name} vectors must be a stack (k, {', '.join(map(str, image_shape))}); "
            f"got shape {vectors.shape}."
        )
    return vectors
