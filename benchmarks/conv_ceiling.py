"""The ceiling that a model's convolutions put on training speed, layer by layer (TensorFlow).

A training step cannot beat its convolutions. This script times, for every
Conv2D / Conv2DTranspose of a preset at its real shapes, the forward pass and
both gradients (input and kernel) in isolation, and the same arithmetic as
plain matrix products (the im2col GEMMs: forward P W, kernel gradient P^T dY,
input gradient dY W^T; the im2col and col2im copies are not counted, so this
is an optimistic bound for an im2col convolution). Each figure is a ratio to
the fp32 matmul peak measured with the same thread count in the same run
(best of TensorFlow's and NumPy's 2048 x 2048 products, as in
`train_throughput.py`).

The FLOP-weighted ceiling (all FLOPs / sum of the per-layer times) bounds the
ratio that `train_throughput.py` can print: batch norm, ReLU, pooling, the
optimizer and the input pipeline only add time.

Usage (stacked training runs each op on one thread, so the default is 1):

    python benchmarks/conv_ceiling.py --preset unet_small --size 16 --batch 64
    python benchmarks/conv_ceiling.py --preset unet_rf90 --size 40 --batch 32 --threads 2
"""

import os
import sys
import time

import click

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_throughput import conv_shapes  # noqa: E402  (the same FLOP count as the ratio there)


@click.command()
@click.option("--preset", default="unet_small", show_default=True)
@click.option("--size", default=16, show_default=True, type=click.IntRange(min=8))
@click.option("--batch", default=64, show_default=True, type=click.IntRange(min=1))
@click.option("--threads", default=1, show_default=True, type=click.IntRange(min=1),
              help="Threads per op (intra-op); the peak is measured with the same number.")
@click.option("--repeats", default=7, show_default=True, type=click.IntRange(min=1))
def main(preset, size, batch, threads, repeats):
    """Print each convolution's fwd+bwd ratio to the matmul peak, and the weighted ceiling."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ["KERAS_BACKEND"] = "tensorflow"
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = str(threads)
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    sys.path.insert(0, _ROOT)
    from keras_gahb import models

    a = np.random.default_rng(0).standard_normal((2048, 2048)).astype("float32")
    seconds = min(_best(tf.function(tf.matmul), repeats, tf.constant(a), tf.constant(a)),
                  _best(lambda a: a @ a, repeats, a))
    peak = 2 * 2048**3 / seconds
    model = models.from_preset(preset, image_size=size)
    print(f"{preset} {size}x{size} batch {batch}, {threads} thread(s) per op; "
          f"fp32 matmul peak {peak / 1e9:.1f} GFLOP/s (2048^3, TensorFlow or NumPy, same threads)")
    print(f"{'layer':<34} {'shape':<22} {'MFLOP':>7} {'conv':>6} {'GEMM':>6}")
    total_flops = total_conv = total_gemm = 0.0
    for layer, shape in conv_shapes(model):
        flops = training_flops(shape, batch)
        conv_seconds, gemm_seconds = _time_layer(tf, layer, shape, batch, repeats)
        total_flops += flops
        total_conv += conv_seconds
        total_gemm += gemm_seconds
        h, w, _, _, cin, cout = shape
        print(f"{layer.name:<34} {f'{h}x{w} {cin}->{cout}':<22} {flops / 1e6:>7.0f} "
              f"{flops / conv_seconds / peak:>6.2f} {flops / gemm_seconds / peak:>6.2f}")
    print(f"FLOP-weighted ceiling: convolutions {total_flops / total_conv / peak:.2f} of the peak, "
          f"im2col GEMMs (copies not counted) {total_flops / total_gemm / peak:.2f}")
    print(f"images/s if the step were only its convolutions: {batch / total_conv:,.0f}")


def training_flops(shape, batch):
    """FLOPs of one layer's forward pass and both gradients for a batch (3 x 2 x MACs)."""
    h, w, kh, kw, cin, cout = shape
    return 3 * 2 * batch * h * w * kh * kw * cin * cout


def _time_layer(tf, layer, shape, batch, repeats):
    """The best seconds of the layer as a convolution and as its three im2col GEMMs."""
    import keras

    h, w, kh, kw, cin, cout = shape
    x = tf.random.normal((batch,) + tuple(layer.input.shape[1:]))
    kernel = tf.Variable(tf.random.normal(layer.kernel.shape) * 0.1)
    if isinstance(layer, keras.layers.Conv2DTranspose):
        out_shape = (batch, h * kh, w * kw, cout)

        def forward(x):
            return tf.nn.conv2d_transpose(x, kernel, out_shape, strides=(kh, kw), padding="SAME")
    else:
        def forward(x):
            return tf.nn.conv2d(x, kernel, 1, "SAME")

    @tf.function
    def conv_step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = forward(x)
            loss = tf.reduce_sum(y * y)
        return tape.gradient(loss, [x, kernel])

    m, k = batch * h * w, kh * kw * cin
    patches, weights, grad = (tf.random.normal(s) for s in ((m, k), (k, cout), (m, cout)))

    @tf.function
    def gemm_step(patches, weights, grad):
        return (tf.matmul(patches, weights), tf.matmul(patches, grad, transpose_a=True),
                tf.matmul(grad, weights, transpose_b=True))

    return _best(conv_step, repeats, x), _best(gemm_step, repeats, patches, weights, grad)


def _best(fn, repeats, *args):
    """Best wall seconds of `fn(*args)` over `repeats` calls after one warm-up."""
    import tensorflow as tf

    def run():
        tf.nest.map_structure(lambda t: getattr(t, "numpy", lambda: t)(), fn(*args))

    run()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


if __name__ == "__main__":
    main()
