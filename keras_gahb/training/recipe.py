"""The paper's training recipe as reusable pieces: schedules, optimizer, loss, EMA.

The paper trains with Adam, learning rate 1e-3 halved every 100 epochs, MSE
loss on the denoised image (equivalently on the predicted noise, since
f(y) = y - net(y)). For two runs to reach the same function on a small
budget, decay the learning rate to zero (cosine) and average the weights
(exponential moving average): both remove the optimisation noise that is
otherwise mistaken for model variance.

Reference: Kadkhodaie et al., ICLR 2024, https://arxiv.org/abs/2310.02557
"""

import contextlib
import math
import warnings

import keras
import numpy as np

from keras_gahb.backend.devices import on_cpu


def paper_learning_rate_schedule(steps_per_epoch, initial_learning_rate=1e-3, halve_every=100):
    """The paper's step schedule: lr = initial * 0.5 ** floor(epoch / halve_every).

    Args:
        steps_per_epoch: int, optimizer steps per epoch.
        initial_learning_rate: float. Defaults to 1e-3.
        halve_every: int, epochs between halvings. Defaults to 100 (the paper's K).

    Returns:
        A `keras.optimizers.schedules.ExponentialDecay` (staircase).

    Example:

    >>> schedule = keras_gahb.training.paper_learning_rate_schedule(10, halve_every=2)
    >>> float(schedule(25))  # epoch 2 -> one halving
    0.0005
    """
    steps_per_epoch = _positive_int(steps_per_epoch, "steps_per_epoch")
    halve_every = _positive_int(halve_every, "halve_every")
    return keras.optimizers.schedules.ExponentialDecay(
        initial_learning_rate,
        decay_steps=steps_per_epoch * halve_every,
        decay_rate=0.5,
        staircase=True,
    )


def cosine_schedule(total_steps, initial_learning_rate=1e-3, warmup_steps=0):
    """Cosine decay from `initial_learning_rate` to exactly 0 at `total_steps`.

    lr(t) = initial * (1 + cos(pi t / T)) / 2 for t <= T (after an optional
    linear warm-up from 0 over `warmup_steps`).

    Args:
        total_steps: int, optimizer steps of the whole run (T).
        initial_learning_rate: float, the peak. Defaults to 1e-3.
        warmup_steps: int, linear warm-up steps. Defaults to 0.

    Returns:
        A `keras.optimizers.schedules.CosineDecay`.

    Example:

    >>> schedule = keras_gahb.training.cosine_schedule(100)
    >>> float(schedule(50))
    0.0005
    """
    total_steps = _positive_int(total_steps, "total_steps")
    warmup_steps = int(warmup_steps)
    if warmup_steps < 0 or warmup_steps >= total_steps:
        raise ValueError(
            f"warmup_steps must be in [0, total_steps={total_steps}), got {warmup_steps}."
        )
    if warmup_steps:
        return keras.optimizers.schedules.CosineDecay(
            0.0,
            decay_steps=total_steps - warmup_steps,
            alpha=0.0,
            warmup_target=initial_learning_rate,
            warmup_steps=warmup_steps,
        )
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate, decay_steps=total_steps, alpha=0.0
    )


def learning_rate_schedule(schedule, steps_per_epoch, epochs, learning_rate=1e-3, halve_every=100,
                           warmup_steps=0):
    """The schedule named `schedule` ("cosine", "paper" or "constant") for a run.

    `warmup_steps` (cosine only): a linear warm-up from 0 over that many steps.

    Example:

    >>> keras_gahb.training.learning_rate_schedule("cosine", steps_per_epoch=10, epochs=5)
    """
    if warmup_steps and schedule != "cosine":
        raise ValueError(f"warmup_steps needs schedule='cosine', got {schedule!r}.")
    if schedule == "cosine":
        return cosine_schedule(steps_per_epoch * epochs, learning_rate, warmup_steps)
    if schedule == "paper":
        return paper_learning_rate_schedule(steps_per_epoch, learning_rate, halve_every)
    if schedule == "constant":
        return float(learning_rate)
    raise ValueError(f"Unknown schedule {schedule!r}; use 'cosine', 'paper' or 'constant'.")


def auto_ema_momentum(total_steps, minimum=0.9, maximum=0.9999):
    """An EMA momentum whose averaging window is about a tenth of the run.

    momentum = clip(1 - 10 / total_steps, minimum, maximum): the weight of the
    early (poor) iterates in the average is then below exp(-9) at the end,
    whatever the run length.

    Example:

    >>> keras_gahb.training.auto_ema_momentum(1000)
    0.99
    """
    total_steps = _positive_int(total_steps, "total_steps")
    return float(np.clip(1.0 - 10.0 / total_steps, minimum, maximum))


def denoiser_optimizer(learning_rate=1e-3, ema_momentum=None):
    """Adam with an optional exponential moving average of the weights.

    With `ema_momentum` set, `keras.optimizers.Adam(use_ema=True)` keeps
    w_ema <- m w_ema + (1 - m) w after every step (on every backend, inside
    the compiled train step); `model.fit` copies the average into the model
    at the end of training, and `ema_weights(model)` does so temporarily.

    Args:
        learning_rate: float or a schedule. Defaults to 1e-3.
        ema_momentum: None (no EMA) or a float in [0, 1). Defaults to None.

    Example:

    >>> optimizer = keras_gahb.training.denoiser_optimizer(1e-3, ema_momentum=0.999)
    """
    if ema_momentum is None:
        return keras.optimizers.Adam(learning_rate)
    return keras.optimizers.Adam(learning_rate, use_ema=True, ema_momentum=float(ema_momentum))


def compile_denoiser(
    model,
    learning_rate=1e-3,
    schedule="cosine",
    steps_per_epoch=None,
    epochs=None,
    halve_every=100,
    ema_momentum=None,
    jit_compile="auto",
    warmup_steps=0,
):
    """Compile a denoiser with the paper's loss (MSE) and Adam + a schedule (+ EMA).

    The loss is Keras' "mean_squared_error": with (noisy, clean, weight) batches
    (`keras_gahb.data.noisy_pairs(..., loss_weight=...)`) it is the per-image
    weighted mean (1 / B) sum_i w_i MSE_i.

    Args:
        model: a Keras denoiser (e.g. from `keras_gahb.models.from_preset`).
        learning_rate: float, peak learning rate. Defaults to 1e-3.
        schedule: "cosine" (to 0 at the end of the run), "paper" (halve every
            `halve_every` epochs) or "constant". Defaults to "cosine".
        steps_per_epoch: int, needed by "cosine" and "paper".
        epochs: int, needed by "cosine".
        halve_every: int. Defaults to 100.
        ema_momentum: None (no EMA), "auto" (`auto_ema_momentum` of the run's
            steps) or a float. Defaults to None.
        jit_compile: passed to `model.compile`. Defaults to "auto".
        warmup_steps: linear learning-rate warm-up steps (schedule="cosine"). Defaults to 0.

    Returns:
        The model (compiled in place). With float16 layers (precision
        "mixed_float16") the optimizer is a `keras.optimizers.LossScaleOptimizer`.

    Example:

    >>> pairs = keras_gahb.data.noisy_pairs(images, batch_size=16, seed=0)
    >>> keras_gahb.training.compile_denoiser(model, steps_per_epoch=len(pairs), epochs=10)
    >>> model.fit(pairs, epochs=10)
    """
    if schedule in ("cosine", "paper") and steps_per_epoch is None:
        raise ValueError(f"schedule={schedule!r} needs steps_per_epoch.")
    if schedule == "cosine" and epochs is None:
        raise ValueError("schedule='cosine' needs epochs (it decays to 0 at the end of the run).")
    lr = learning_rate_schedule(schedule, steps_per_epoch or 1, epochs or 1, learning_rate,
                                halve_every, warmup_steps)
    if ema_momentum == "auto":
        if steps_per_epoch is None or epochs is None:
            raise ValueError("ema_momentum='auto' needs steps_per_epoch and epochs.")
        ema_momentum = auto_ema_momentum(steps_per_epoch * epochs)
    optimizer = denoiser_optimizer(lr, ema_momentum)
    _warn_if_emulated_bfloat16(model)
    if _uses_float16(model):
        # Keras wraps the optimizer only when the model's own policy is mixed_float16;
        # the denoisers set the policy per layer, so wrap here.
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(
        optimizer=optimizer,
        loss="mean_squared_error",
        jit_compile=jit_compile,
    )
    return model


# "auto" turns XLA on (TensorFlow) for models up to this many weights, over runs of at least
# XLA_MIN_STEPS steps (its compilation, seconds, is then repaid): measured in docs/performance.md.
XLA_MAX_PARAMS = 1_000_000
XLA_MIN_STEPS = 500


def resolve_jit_compile(jit_compile, model, total_steps=None):
    """The `jit_compile` to compile `model` with: "auto" picks XLA where it was measured faster.

    On TensorFlow, Keras' own "auto" means no XLA. For small denoisers
    (`unet_small`: 0.1 M weights) a step is dominated by per-operation costs
    that XLA fuses away (Adam, EMA and batch-norm updates: about 1.3x more
    images per CPU-second, docs/performance.md), while for `unet_rf90`
    (7.7 M weights) XLA was slower. So "auto" becomes True on TensorFlow when
    the model has at most `XLA_MAX_PARAMS` weights and the run at least
    `XLA_MIN_STEPS` steps (or `total_steps` is None); otherwise, and on the
    other backends (JAX always compiles; torch.compile is not used), "auto"
    is passed on. True or False are returned as given.

    Example:

    >>> keras_gahb.training.resolve_jit_compile("auto", model, total_steps=2000)
    True
    """
    if jit_compile != "auto":
        return jit_compile
    if keras.backend.backend() != "tensorflow":
        return "auto"
    small = model.count_params() <= XLA_MAX_PARAMS
    long_enough = total_steps is None or total_steps >= XLA_MIN_STEPS
    return True if small and long_enough else "auto"


def native_bfloat16():
    """True when the CPU computes bfloat16 natively (AVX512-BF16 or AMX-BF16 flags, Linux).

    Without them (e.g. AVX2-only processors) bfloat16 arithmetic is emulated
    and mixed_bfloat16 training is slower than float32.

    Example:

    >>> keras_gahb.training.native_bfloat16()
    False
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _warn_if_emulated_bfloat16(model):
    layers = model._flatten_layers() if hasattr(model, "_flatten_layers") else model.layers
    uses_bf16 = any(getattr(layer, "dtype_policy", None) is not None
                    and layer.dtype_policy.compute_dtype == "bfloat16" for layer in layers)
    if uses_bf16 and on_cpu() and not native_bfloat16():
        warnings.warn(
            "mixed_bfloat16 on a CPU without native bfloat16 (no AVX512-BF16 or AMX flag in "
            "/proc/cpuinfo): bfloat16 is emulated and trains slower than float32 here. Use "
            "precision='float32' on this machine.",
            stacklevel=3,
        )


@contextlib.contextmanager
def ema_weights(model):
    """Temporarily put the optimizer's moving-average weights into `model`.

    Does nothing when the model's optimizer keeps no EMA (or is not built).
    The training weights are restored on exit.

    Example:

    >>> with keras_gahb.training.ema_weights(model):
    ...     model.save("model_ema.keras")
    """
    optimizer = getattr(model, "optimizer", None)
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer
    if optimizer is None or not getattr(optimizer, "use_ema", False) or not optimizer.built:
        yield model
        return
    variables = model.trainable_variables
    saved = [keras.ops.convert_to_numpy(v.value) for v in variables]
    optimizer.finalize_variable_values(variables)
    detach_weights(model)
    try:
        yield model
    finally:
        for variable, value in zip(variables, saved):
            variable.assign(value)


def detach_weights(model):
    """Give every trainable variable its own copy of its value.

    On JAX, `optimizer.finalize_variable_values` (called by `model.fit` at its
    end when the optimizer keeps an EMA) makes the model's weights share
    buffers with the optimizer's averages; `model.predict` then donates (frees)
    those buffers and a later `fit` or `save` fails with "Array has been
    deleted". Call this after such a `fit` (harmless on every backend).

    Example:

    >>> model.fit(pairs, epochs=3)
    >>> keras_gahb.training.detach_weights(model)
    """
    for variable in model.trainable_variables:
        variable.assign(keras.ops.convert_to_numpy(variable.value))


def current_learning_rate(optimizer):
    """The optimizer's learning rate at its current iteration, as a float."""
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def steps_per_epoch(num_images, batch_size, images_per_epoch=None):
    """Optimizer steps in one epoch of `keras_gahb.data.noisy_pairs` (last batch kept)."""
    return math.ceil((images_per_epoch or num_images) / batch_size)


def _uses_float16(model):
    layers = model._flatten_layers() if hasattr(model, "_flatten_layers") else model.layers
    return any(
        getattr(layer, "dtype_policy", None) is not None
        and layer.dtype_policy.compute_dtype == "float16"
        for layer in layers
    )


def _positive_int(value, name):
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)
