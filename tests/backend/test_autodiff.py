"""Jacobians on every backend: closed forms (linear maps), finite differences, bias-free identity."""

import keras
import numpy as np
import pytest

from keras_gahb import backend
from keras_gahb.models import from_preset

SHAPE = (2, 4, 4, 1)
DIM = 16


def linear_denoiser(matrix):
    """f(y) = M y per image, written with keras.ops."""
    m = keras.ops.convert_to_tensor(matrix.T.astype("float32"))

    def f(y):
        flat = keras.ops.reshape(y, (keras.ops.shape(y)[0], -1))
        return keras.ops.reshape(keras.ops.matmul(flat, m), keras.ops.shape(y))

    return f


def smooth_denoiser(seed=0):
    """A smooth nonlinear map f(y) = tanh(y A) B + y (double-precision reference below)."""
    rng = np.random.default_rng(seed)
    a = (rng.standard_normal((DIM, 24)) / 4).astype("float32")
    b = (rng.standard_normal((24, DIM)) / 5).astype("float32")
    ta, tb = keras.ops.convert_to_tensor(a), keras.ops.convert_to_tensor(b)

    def f(y):
        flat = keras.ops.reshape(y, (keras.ops.shape(y)[0], -1))
        out = keras.ops.matmul(keras.ops.tanh(keras.ops.matmul(flat, ta)), tb) + flat
        return keras.ops.reshape(out, keras.ops.shape(y))

    def reference(y):
        flat = y.reshape(len(y), -1).astype(np.float64)
        return (np.tanh(flat @ a) @ b + flat).reshape(y.shape)

    return f, reference


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(0)


def test_linear_map_jacobian_is_its_matrix(rng):
    matrix = rng.standard_normal((DIM, DIM)).astype("float32")
    f = linear_denoiser(matrix)
    y = rng.random(SHAPE, dtype=np.float32)
    J = backend.jacobian(f, y, chunk_size=5)  # 5 does not divide 16: padded last chunk
    np.testing.assert_allclose(J[0], matrix, atol=1e-5)
    np.testing.assert_allclose(J[1], matrix, atol=1e-5)
    v = rng.standard_normal(SHAPE).astype("float32")
    fy, jv = backend.jvp(f, y, v)
    np.testing.assert_allclose(jv.reshape(2, -1), v.reshape(2, -1) @ matrix.T, atol=1e-4)
    np.testing.assert_allclose(fy.reshape(2, -1), y.reshape(2, -1) @ matrix.T, atol=1e-4)
    _, jtu = backend.vjp(f, y, v)
    np.testing.assert_allclose(jtu.reshape(2, -1), v.reshape(2, -1) @ matrix, atol=1e-4)


def test_linearize_products_match_matrix(rng):
    matrix = rng.standard_normal((DIM, DIM)).astype("float32")
    y = rng.random(SHAPE[1:], dtype=np.float32)
    fy, jvp_fn, vjp_fn = backend.linearize(linear_denoiser(matrix), y)
    vectors = rng.standard_normal((3,) + SHAPE[1:]).astype("float32")
    np.testing.assert_allclose(fy.ravel(), matrix @ y.ravel(), atol=1e-4)
    np.testing.assert_allclose(jvp_fn(vectors).reshape(3, -1), vectors.reshape(3, -1) @ matrix.T, atol=1e-4)
    np.testing.assert_allclose(vjp_fn(vectors).reshape(3, -1), vectors.reshape(3, -1) @ matrix, atol=1e-4)


def test_jacobian_matches_finite_differences(rng):
    f, reference = smooth_denoiser()
    y = rng.random(SHAPE, dtype=np.float32)
    J = backend.jacobian(f, y)
    eps = 1e-4
    for b in range(2):
        fd = np.empty((DIM, DIM))
        for j in range(DIM):
            e = np.zeros(DIM)
            e[j] = eps
            plus = reference(y[b : b + 1] + e.reshape(SHAPE[1:]))
            minus = reference(y[b : b + 1] - e.reshape(SHAPE[1:]))
            fd[:, j] = (plus - minus).ravel() / (2 * eps)
        np.testing.assert_allclose(J[b], fd, atol=2e-5)


@pytest.mark.parametrize("preset", ["unet_tiny", "bfcnn_small"])
def test_bias_free_identity_for_presets(preset, rng):
    model = from_preset(preset)
    y = rng.random((2, 8, 8, 1), dtype=np.float32)
    J = backend.jacobian(model, y, chunk_size=32)
    f = keras.ops.convert_to_numpy(model(y, training=False)).reshape(2, -1)
    jy = np.einsum("bij,bj->bi", J, y.reshape(2, -1))
    error = np.linalg.norm(f - jy, axis=1) / np.linalg.norm(f, axis=1)
    assert np.all(error < 1e-5), error
    # JVP and VJP agree with the assembled Jacobian: <u, J v> == <J^T u, v>.
    v = rng.standard_normal(y.shape).astype("float32")
    _, jv = backend.jvp(model, y, v)
    _, jtv = backend.vjp(model, y, v)
    np.testing.assert_allclose(jv.reshape(2, -1), np.einsum("bij,bj->bi", J, v.reshape(2, -1)),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(jtv.reshape(2, -1), np.einsum("bji,bj->bi", J, v.reshape(2, -1)),
                               rtol=1e-4, atol=1e-4)


def test_auto_chunk_size_respects_memory():
    model = from_preset("unet_tiny")
    model(np.zeros((1, 8, 8, 1), "float32"))
    small = backend.auto_chunk_size(model, (80, 80, 1), max_memory_gb=0.01)
    large = backend.auto_chunk_size(model, (80, 80, 1), max_memory_gb=4.0)
    assert 1 <= small < large <= 256


def test_bad_inputs_give_clear_errors(rng):
    f = linear_denoiser(np.eye(DIM, dtype="float32"))
    with pytest.raises(ValueError, match="batch"):
        backend.jacobian(f, np.zeros((4, 4), "float32"))
    with pytest.raises(ValueError, match="non-finite"):
        backend.jacobian(f, np.full(SHAPE, np.nan, "float32"))
    with pytest.raises(ValueError, match="shape of y"):
        backend.jvp(f, np.zeros(SHAPE, "float32"), np.zeros((1, 4, 4, 1), "float32"))
    with pytest.raises(ValueError, match="callable"):
        backend.jacobian("not a model", np.zeros(SHAPE, "float32"))
    with pytest.raises(ValueError, match="chunk_size"):
        backend.jacobian(f, np.zeros(SHAPE, "float32"), chunk_size=0)
    with pytest.raises(ValueError, match="one image"):
        backend.linearize(f, np.zeros(SHAPE, "float32"))
