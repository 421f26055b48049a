"""The FLOP count behind the benchmarks' ratios to the peak, against a count by hand."""

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


def test_flops_of_unet_small_match_a_count_by_hand():
    ceiling, throughput = _load("conv_ceiling"), _load("train_throughput")
    model = models.from_preset("unet_small", image_size=16)
    shapes = [shape for _, shape in ceiling.conv_shapes(model)]  # train_throughput's
    # 2 levels: 2 convs per encoder block and in the middle, 2 transposed convs, the decoder
    # blocks (2 + 1 convs) and the output conv.
    assert len(shapes) == 12
    # By hand, H W 9 Cin Cout per 3x3 conv and h w 4 Cin Cout per 2x2 transposed conv:
    # 16x16: 1->16, 16->16; 8x8: 16->32, 32->32; 4x4: 32->64, 64->64; up 4x4 64->32;
    # 8x8: 64->32, 32->32; up 8x8 32->16; 16x16: 32->16, 16->1.
    by_hand = (256 * 9 * (16 + 256) + 64 * 9 * (512 + 1024) + 16 * 9 * (2048 + 4096)
               + 16 * 4 * 2048 + 64 * 9 * (2048 + 1024) + 64 * 4 * 512 + 256 * 9 * (512 + 16))
    assert throughput.forward_macs(model) == by_hand == 5_644_288
    total = sum(ceiling.training_flops(shape, batch=4) for shape in shapes)
    assert total == 4 * 6 * by_hand
    # One hand-counted layer: the first 3x3 conv, 1 -> 16 channels on a 16 x 16 map.
    assert shapes[0] == (16, 16, 3, 3, 1, 16)
    assert ceiling.training_flops(shapes[0], batch=1) == 6 * 16 * 16 * 9 * 16
