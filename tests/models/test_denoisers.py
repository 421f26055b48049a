import keras
import numpy as np
import pytest

from keras_gahb import models
from keras_gahb.models import BFCNN, BiasFreeUNet
from tests.test_case import assert_allclose, run_fit_step_test, run_serialization_test

PAPER_COUNTS = {
    "unet_rf18": 366_080,
    "unet_rf45": 1_825_024,
    "unet_rf90": 7_659_264,
    "unet_rf180": 30_993_152,
    "bfcnn_21": 702_784,
}


def _trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def _noisy(shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, size=shape).astype("float32")


@pytest.mark.parametrize("name", sorted(PAPER_COUNTS))
def test_paper_parameter_counts_are_exact(name):
    assert _trainable(models.from_preset(name)) == PAPER_COUNTS[name]


@pytest.mark.parametrize("name", sorted(models.PRESETS))
def test_every_preset_is_homogeneous_in_inference(name):
    """f(a y) = a f(y) for a > 0: no additive constant anywhere."""
    model = models.from_preset(name)
    # Give the batch norms non-trivial statistics first.
    size = 2 ** getattr(model, "levels", 2)
    y = _noisy((2, size, size, 1))
    model(y * 3.0, training=True)
    f = keras.ops.convert_to_numpy(model(y, training=False))
    for a in (0.01, 0.37, 5.0, 100.0):
        assert_allclose(model(a * y, training=False), a * f, rtol=2e-4, atol=2e-5 * a,
                        err_msg=f"f({a} y) != {a} f(y) for {name}")


def test_output_is_the_denoised_image_in_residual_form():
    """With the last conv zeroed, net(y) = 0 so f(y) = y exactly."""
    model = BiasFreeUNet(levels=1, base_channels=4)
    model.get_layer("decoder_0_conv1").kernel.assign(np.zeros((3, 3, 4, 1), "float32"))
    y = _noisy((2, 8, 8, 1))
    assert_allclose(model(y), y, atol=0)


@pytest.mark.parametrize(
    "model",
    [lambda: BiasFreeUNet(levels=2, base_channels=4, image_channels=3),
     lambda: BFCNN(num_layers=4, channels=4, image_channels=3)],
    ids=["unet", "bfcnn"],
)
def test_serialization_save_load_and_color(model, tmp_path):
    model = model()
    y = _noisy((2, 8, 8, 3))
    model(y, training=True)  # non-trivial moving statistics
    loaded = run_serialization_test(model, y, tmp_path)
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()


def test_one_fit_step_reduces_the_loss():
    model = BiasFreeUNet(levels=1, base_channels=8)
    clean = _noisy((4, 16, 16, 1))
    noisy = clean + 0.2 * np.random.default_rng(1).normal(size=clean.shape).astype("float32")
    run_fit_step_test(model, noisy, clean)


def test_input_size_must_be_divisible_by_two_to_the_levels():
    model = BiasFreeUNet(levels=2, base_channels=4)
    with pytest.raises(ValueError, match="divisible by 4"):
        model(_noisy((1, 10, 12, 1)))
    with pytest.raises(ValueError, match="divisible by 8"):
        BiasFreeUNet(levels=3, base_channels=4, image_size=20)


def test_wrong_channels_and_rank_are_clear_errors():
    model = BFCNN(num_layers=3, channels=4)
    with pytest.raises(ValueError, match="1 image channel"):
        model(_noisy((1, 8, 8, 3)))
    with pytest.raises(ValueError, match="batch of images"):
        model(_noisy((8, 8, 1)))


def test_unknown_and_mismatched_presets():
    with pytest.raises(ValueError, match="Unknown preset 'unet_rf91'.*unet_rf90"):
        models.from_preset("unet_rf91")
    with pytest.raises(ValueError, match="builds a BFCNN"):
        BiasFreeUNet.from_preset("bfcnn_21")
    assert "unet_rf90" in BiasFreeUNet.presets() and "bfcnn_21" in BFCNN.presets()


def test_receptive_field_matches_the_gradient_support():
    """The stated receptive field equals the support of d f(y)[center] / d y."""
    model = BiasFreeUNet(levels=1, base_channels=4)
    assert model.receptive_field == 18
    unet2 = BiasFreeUNet(levels=2, base_channels=4)
    cnn = BFCNN(num_layers=5, channels=4)
    size = 64
    for net in (cnn, model, unet2):
        y = _noisy((1, size, size, 1))
        # Response at the center to a perturbation at each pixel of the center row, with the
        # unperturbed image in the same batch (a separate call with another batch size may pick
        # another convolution kernel, whose rounding differs at 1e-7: seen on torch).
        deltas = np.zeros((size + 1, size, size, 1), "float32")
        deltas[np.arange(size), size // 2, np.arange(size), 0] = 1e-2
        out = keras.ops.convert_to_numpy(net(y + deltas))[:, size // 2, size // 2, 0]
        diff = out[:-1] - out[-1]
        support = np.flatnonzero(np.abs(diff) > 1e-7)
        if isinstance(net, BFCNN):
            assert len(support) == net.receptive_field
        else:
            # UNets: the support never spans more than the stated field (its position depends on
            # the pooling grid); at the field's edge a pixel whose every path meets an inactive
            # ReLU can have exactly zero effect (seen under JAX), hence the lower bound RF - 2.
            span = support.max() - support.min() + 1
            assert net.receptive_field - 2 <= span <= net.receptive_field, type(net).__name__
