"""Where a small denoiser's training step spends its time: one variant at a time, CPU-ms per step.

Each row trains the same model on the same batch with one thing changed, and
reports the wall and CPU milliseconds per step (CPU time of this process, all
threads: a figure that other processes' load changes much less than the wall
time). The differences between rows are the costs of the pieces:

- ``grad only``: forward + backward in one compiled function, no optimizer;
- ``+ adam``: the Keras train step (model.fit) without EMA;
- ``+ ema``: the same with the EMA of the weights (what `train` uses);
- ``no batch norm``: the batch norms replaced by an identity layer;
- ``noisy_pairs``: the real input pipeline instead of a batch in memory;
- ``train() callbacks``: PSNR evaluation etc. are left out (they run once per
  epoch); the per-step callbacks are the NaN guard (every 25 steps);
- ``spe=N``: `steps_per_execution=N` (N steps per call into the backend);
- ``xla``: `jit_compile=True`.

Usage:

    python benchmarks/train_step_profile.py --preset unet_small --size 16 --batch 64
    KERAS_BACKEND=jax python benchmarks/train_step_profile.py --variants "adam,ema"
"""

import os
import sys
import time

import click

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VARIANTS = ("grad", "adam", "ema", "ema_xla", "ema_spe8", "ema_xla_spe8", "no_bn",
            "noisy_pairs", "noisy_pairs_xla_spe8")


@click.command()
@click.option("--preset", default="unet_small", show_default=True)
@click.option("--size", default=16, show_default=True)
@click.option("--batch", default=64, show_default=True)
@click.option("--steps", default=40, show_default=True)
@click.option("--variants", default=",".join(VARIANTS), show_default=True)
@click.option("--threads", default=0, show_default=True,
              help="Intra-op threads (TensorFlow/torch; 0: all cores).")
def main(preset, size, batch, steps, variants, threads):
    """Print wall and CPU milliseconds per training step for each variant."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, _ROOT)
    import keras

    if threads and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
    elif threads and keras.backend.backend() == "torch":
        import torch

        torch.set_num_threads(threads)
    click.echo(f"backend={keras.backend.backend()} preset={preset} size={size} batch={batch} "
               f"load={os.getloadavg()[0]:.2f}")
    for name in variants.split(","):
        wall, cpu = profile_variant(name.strip(), preset, size, batch, steps)
        click.echo(f"{name:>24}: {wall * 1e3:8.2f} wall-ms/step {cpu * 1e3:8.2f} cpu-ms/step "
                   f"{batch / cpu:8.0f} images/cpu-s")


def profile_variant(name, preset, size, batch, steps):
    """(wall seconds, CPU seconds) per training step of variant `name`."""
    import keras
    import numpy as np

    from keras_gahb import data, models
    from keras_gahb.training import compile_denoiser, detach_weights

    keras.utils.set_random_seed(0)
    if name == "no_bn":
        from keras_gahb.models import blocks

        original = blocks.BiasFreeBatchNormalization
        blocks.BiasFreeBatchNormalization = lambda **kw: keras.layers.Identity(name=kw["name"])
        try:
            model = models.from_preset(preset, image_size=size)
        finally:
            blocks.BiasFreeBatchNormalization = original
    else:
        model = models.from_preset(preset, image_size=size)
    rng = np.random.default_rng(0)
    clean = rng.uniform(0, 1, (max(batch, 256), size, size, 1)).astype("float32")
    noisy = clean + 0.3 * rng.standard_normal(clean.shape).astype("float32")
    if name == "grad":
        return _time_grad(model, noisy[:batch], clean[:batch], steps)
    spe = 8 if "spe8" in name else 1
    compile_denoiser(model, schedule="constant", ema_momentum=None if name == "adam" else 0.99,
                     jit_compile=True if "xla" in name else "auto")
    model.compile(optimizer=model.optimizer, loss=model.loss, jit_compile=model.jit_compile,
                  steps_per_execution=spe)
    total = -(-steps // spe) * spe
    if name.startswith("noisy_pairs"):
        def dataset():
            return data.noisy_pairs(clean, batch, images_per_epoch=total * batch, seed=0)
    else:
        def dataset():
            return _repeat(noisy[:batch], clean[:batch], total)
    model.fit(dataset(), epochs=1, steps_per_epoch=spe * 2, verbose=0, shuffle=False)
    detach_weights(model)  # JAX: the EMA finalisation shares buffers (see detach_weights)
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(dataset(), epochs=1, steps_per_epoch=total, verbose=0, shuffle=False)
    return (time.perf_counter() - start) / total, (time.process_time() - cpu) / total


def _repeat(noisy, clean, steps):
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.data.Dataset.from_tensors((noisy, clean)).repeat()
    batch = (keras.ops.convert_to_tensor(noisy), keras.ops.convert_to_tensor(clean))
    return (batch for _ in iter(int, 1))


def _time_grad(model, noisy, clean, steps):
    """Forward + backward only, compiled the backend's usual way."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function
        def step(x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean((model(x, training=True) - y) ** 2)
            return tape.gradient(loss, model.trainable_variables)[0]

        def run():
            return step(noisy, clean).numpy()
    elif backend == "jax":
        import jax

        trainable = [v.value for v in model.trainable_variables]
        fixed = [v.value for v in model.non_trainable_variables]

        @jax.jit
        def step(trainable, fixed, x, y):
            def loss(t):
                out, _ = model.stateless_call(t, fixed, x, training=True)
                return ((out - y) ** 2).mean()
            return jax.grad(loss)(trainable)[0]

        def run():
            return step(trainable, fixed, noisy, clean).block_until_ready()
    else:
        import torch

        x, y = torch.as_tensor(noisy), torch.as_tensor(clean)

        def run():
            model.zero_grad()
            loss = ((model(x, training=True) - y) ** 2).mean()
            loss.backward()
            return float(loss)
    for _ in range(3):
        run()
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        run()
    return (time.perf_counter() - start) / steps, (time.process_time() - cpu) / steps


if __name__ == "__main__":
    main()
