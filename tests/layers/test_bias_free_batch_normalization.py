import keras
import numpy as np
import pytest

from keras_gahb.layers import BiasFreeBatchNormalization
from tests.test_case import assert_allclose, run_serialization_test


def _images(seed=0, shape=(4, 6, 6, 3)):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=shape) * [1.0, 3.0, 0.5] + [0.5, -1.0, 2.0]).astype("float32")


def test_training_divides_by_batch_std_without_mean_subtraction():
    x = _images()
    layer = BiasFreeBatchNormalization(gamma_initializer=keras.initializers.Constant(2.0))
    y = keras.ops.convert_to_numpy(layer(x, training=True))
    sd = np.sqrt(x.var(axis=(0, 1, 2)) + 1e-5)  # biased variance, numpy reference
    np.testing.assert_allclose(y, x / sd * 2.0, rtol=1e-5, atol=1e-6)
    # The mean is not removed: a positive-mean channel keeps a positive mean.
    assert y[..., 2].mean() > 1.0


def test_moving_std_update_matches_pytorch_momentum():
    x = _images()
    layer = BiasFreeBatchNormalization()
    layer(x, training=True)
    sd = np.sqrt(x.var(axis=(0, 1, 2)) + 1e-5)
    assert_allclose(layer.moving_std, 0.9 * 1.0 + 0.1 * sd, rtol=1e-5)


def test_inference_is_linear_with_moving_std_and_no_epsilon():
    x = _images()
    layer = BiasFreeBatchNormalization(
        moving_std_initializer=keras.initializers.Constant(0.5),
        gamma_initializer=keras.initializers.Constant(3.0),
    )
    y = layer(x, training=False)
    assert_allclose(y, x / 0.5 * 3.0, rtol=1e-6)
    assert_allclose(layer(-2.5 * x), -2.5 * keras.ops.convert_to_numpy(y), rtol=1e-5)


def test_serialization_and_save_load(tmp_path):
    layer = BiasFreeBatchNormalization(momentum=0.8, epsilon=1e-3, name="bn")
    run_serialization_test(layer, _images(), tmp_path)


def test_only_gamma_is_trainable():
    layer = BiasFreeBatchNormalization()
    layer.build((None, 4, 4, 5))
    assert [w.name for w in layer.trainable_weights] == ["gamma"]
    assert [w.name for w in layer.non_trainable_weights] == ["moving_std"]


@pytest.mark.parametrize("kwargs", [{"momentum": 1.5}, {"epsilon": -1.0}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        BiasFreeBatchNormalization(**kwargs)


def test_unknown_channels_is_a_clear_error():
    with pytest.raises(ValueError, match="known number of channels"):
        BiasFreeBatchNormalization().build((None, 4, 4, None))
