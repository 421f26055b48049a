"""Which training precisions work here: a one-step probe before a run writes anything.

Mixed precision depends on the backend and the processor: torch 2.13's CPU
build, for instance, falls back to a slow float16 convolution on processors
without AVX-512 whose backward pass fails ("slow_conv2d: grad_weight must be
contiguous"). `check_precision` trains a one-convolution model for one step in
the requested precision and turns any failure into one clear sentence, so a
run is refused before its folder is written instead of crashing mid-way.
"""

import keras
import numpy as np

from keras_gahb.training.train_config import PRECISIONS

# (backend, precision, channels) -> None when training works, else the error message.
_PROBED = {}


def precision_problem(precision, channels=1):
    """Why `precision` cannot train a denoiser on this backend and machine, or None.

    Runs (once per process and argument pair, then cached) one
    forward/backward/update step of a tiny two-scale bias-free network built
    from the denoisers' layer types (3x3 convolutions down to `channels`
    outputs, average pooling, a stride-2 transposed convolution, the bias-free
    batch norm) in the precision's dtype policy, and checks that it completes
    with a finite loss.

    Args:
        precision: "float32", "mixed_bfloat16" or "mixed_float16".
        channels: image channels (the failure above depends on them: torch's
            slow kernel fails for a one-channel output).

    Returns:
        None when training works, else a string naming what failed.

    Example:

    >>> keras_gahb.training.precision_problem("float32") is None
    True
    """
    if precision not in PRECISIONS:
        raise ValueError(f"Unknown precision {precision!r}. Valid: {', '.join(PRECISIONS)}.")
    if precision == "float32":  # the reference every backend trains in
        return None
    key = (keras.backend.backend(), precision, int(channels))
    if key not in _PROBED:
        _PROBED[key] = _probe(precision, int(channels))
    return _PROBED[key]


def check_precision(precision, channels=1):
    """Raise a ValueError when `precision` cannot train on this backend and machine.

    The message says what failed and what to use instead (float32 always
    works; mixed_bfloat16 where the probe passes).
    """
    problem = precision_problem(precision, channels)
    if problem is None:
        return
    others = [p for p in PRECISIONS
              if p != precision and precision_problem(p, channels) is None]
    raise ValueError(
        f"precision={precision!r} cannot train on the {keras.backend.backend()} backend on "
        f"this machine: a one-step probe failed ({problem}). Use precision="
        + " or ".join(repr(p) for p in others) + "."
    )


def _probe(precision, channels):
    """One training step of a two-scale bias-free block made of the denoisers' layer types."""
    from keras_gahb.layers import BiasFreeBatchNormalization

    x = np.linspace(0.0, 1.0, 2 * 8 * 8 * channels, dtype="float32").reshape(2, 8, 8, channels)
    init = keras.initializers.Constant(0.1)
    layer = dict(use_bias=False, dtype=precision, kernel_initializer=init)
    inputs = keras.Input((8, 8, channels))
    fine = keras.layers.Conv2D(4, 3, padding="same", **layer)(inputs)
    fine = BiasFreeBatchNormalization(dtype=precision)(fine)
    fine = keras.layers.ReLU(dtype=precision)(fine)
    coarse = keras.layers.AveragePooling2D(2, dtype=precision)(fine)
    coarse = keras.layers.Conv2D(4, 3, padding="same", **layer)(coarse)
    up = keras.layers.Conv2DTranspose(4, 2, strides=2, **layer)(coarse)
    merged = keras.layers.Concatenate(dtype=precision)([up, fine])
    outputs = keras.layers.Conv2D(channels, 3, padding="same", **layer)(merged)
    outputs = keras.layers.Activation("linear", dtype="float32")(outputs)
    model = keras.Model(inputs, outputs)
    optimizer = keras.optimizers.SGD(1e-3)
    if precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    try:
        model.compile(optimizer=optimizer, loss="mean_squared_error")
        loss = float(np.asarray(model.train_on_batch(x, x * 0.5)).reshape(-1)[0])
    except Exception as error:  # noqa: BLE001 (any failure of the backend is the answer)
        return f"{type(error).__name__}: {str(error).strip().splitlines()[0][:200]}"
    if not np.isfinite(loss):
        return f"one step gave a loss of {loss}"
    return None
