"""benchmarks/conv_ceiling.py counts the same FLOPs as train_throughput.py's ratio to the peak."""

import importlib.util
import os

from keras_gahb import models

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "benchmarks",
                                                                      f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_layer_flops_add_up_to_the_throughput_benchmarks_count():
    ceiling, throughput = _load("conv_ceiling"), _load("train_throughput")
    model = models.from_preset("unet_small", image_size=16)
    shapes = [shape for _, shape in ceiling.conv_shapes(model)]
    # 2 levels: 2 convs per encoder block and in the middle, 2 transposed convs, the decoder
    # blocks (2 + 1 convs) and the output conv.
    assert len(shapes) == 12
    total = sum(ceiling.training_flops(shape, batch=4) for shape in shapes)
    assert total == 4 * 6 * throughput.forward_macs(model)
    # One hand-counted layer: the first 3x3 conv, 1 -> 16 channels on a 16 x 16 map.
    assert shapes[0] == (16, 16, 3, 3, 1, 16)
    assert ceiling.training_flops(shapes[0], batch=1) == 6 * 16 * 16 * 9 * 16
