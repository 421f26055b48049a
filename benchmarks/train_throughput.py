"""Training throughput of a denoiser preset: images/s, GFLOP/s and the ratio to a matmul peak.

FLOPs are counted analytically from the convolutions (the only layers with
non-negligible arithmetic; batch norm, ReLU, pooling and concatenation are
O(1) per element and ignored):

- Conv2D, k x k, Cin -> Cout, output H x W:  MACs = H W k^2 Cin Cout;
- Conv2DTranspose, k x k stride k, input H x W:  MACs = H W k^2 Cin Cout;
- one training step = forward + gradient w.r.t. the input + gradient w.r.t.
  the kernel, each with the forward's MACs: FLOPs = 2 x 3 x forward MACs
  per image (the usual convention; it counts the first layer's unneeded
  input gradient, 0.01% of unet_rf90's work).

The fp32 peak is the best of `repeats` timed N x N matrix products (backend
matmul and NumPy), 2 N^3 FLOPs each. With `--precision mixed_bfloat16` the
bfloat16 matmul peak of the backend is measured too.

Usage (CPU as quiet as possible; check `uptime`):

    python benchmarks/train_throughput.py --backend tensorflow --preset unet_rf90 \
        --size 40 --batch 32
    python benchmarks/train_throughput.py --precision mixed_bfloat16 --jit-compile on
    python benchmarks/train_throughput.py --json results/throughput.json

`--precision mixed_bfloat16` needs bfloat16 arithmetic in hardware: on a CPU
without the avx512_bf16 or amx_bf16 flags (/proc/cpuinfo) bfloat16 is emulated
and training runs about 10x slower than float32, so the benchmark refuses
unless `--allow-emulated-bf16` is given (it always runs when a GPU is visible).

`--jit-compile auto` is Keras' default (XLA off for TensorFlow on CPU, on
for JAX, off for torch).
"""

import os
import sys
import time

import click

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@click.command()
@click.option("--backend", type=click.Choice(["tensorflow", "jax", "torch"]), default=None,
              help="Keras backend (default: $KERAS_BACKEND, else tensorflow).")
@click.option("--preset", default="unet_rf90", show_default=True)
@click.option("--size", default=40, show_default=True, type=click.IntRange(min=8))
@click.option("--batch", default=32, show_default=True, type=click.IntRange(min=1))
@click.option("--steps", default=30, show_default=True, type=click.IntRange(min=1),
              help="Timed training steps (after the warm-up).")
@click.option("--warmup", default=5, show_default=True, type=click.IntRange(min=1),
              help="Untimed steps first (compilation, allocator warm-up).")
@click.option("--precision", type=click.Choice(["float32", "mixed_bfloat16"]), default="float32",
              show_default=True)
@click.option("--jit-compile", "jit", type=click.Choice(["auto", "on", "off"]), default="auto",
              show_default=True, help="XLA / jax.jit / torch.compile for the train step.")
@click.option("--steps-per-execution", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--threads", default=0, show_default=True, type=click.IntRange(min=0),
              help="Intra-op threads (0: framework default, all cores).")
@click.option("--peak-size", default=2048, show_default=True, type=click.IntRange(min=64),
              help="Matrix side of the matmul peak measurement.")
@click.option("--skip-peak", is_flag=True, help="Do not measure the matmul peak.")
@click.option("--allow-emulated-bf16", is_flag=True,
              help="Run mixed_bfloat16 even on a CPU without native bfloat16 (about 10x slower).")
@click.option("--json", "json_path", default=None, help="Also write the results to this JSON file.")
@click.option("--seed", default=0, show_default=True)
@click.option("--window", default=5, show_default=True, type=click.IntRange(min=1),
              help="Steps per window of the best-window rate.")
@click.option("--stack", default=1, show_default=True, type=click.IntRange(min=1),
              help="Train this many independent models side by side in one step (as "
                   "keras_gahb.training.train_stacked does); images/s counts every model's.")
@click.option("--ema/--no-ema", default=False, show_default=True,
              help="Keep an EMA of the weights in the optimizer (as `train` does).")
def main(backend, preset, size, batch, steps, warmup, precision, jit, steps_per_execution,
         threads, peak_size, skip_peak, allow_emulated_bf16, json_path, seed, window, stack,
         ema):
    """Measure training images/s of PRESET at SIZE x SIZE, batch BATCH, on one backend."""
    if backend:
        os.environ["KERAS_BACKEND"] = backend
    if precision == "mixed_bfloat16" and not allow_emulated_bf16:
        native = native_bf16_cpu_flags()
        if native is not None and not native and not _gpu_visible():
            raise click.ClickException(
                "This CPU has no native bfloat16 (neither avx512_bf16 nor amx_bf16 in "
                "/proc/cpuinfo): bfloat16 is emulated and mixed_bfloat16 trains about 10x slower "
                "than float32. Benchmark float32, or pass --allow-emulated-bf16 to measure it "
                "anyway."
            )
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if threads:
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[name] = str(threads)
    sys.path.insert(0, _ROOT)
    results = run_benchmark(
        preset=preset, size=size, batch=batch, steps=steps, warmup=warmup, precision=precision,
        jit=jit, steps_per_execution=steps_per_execution, threads=threads,
        peak_size=None if skip_peak else peak_size, seed=seed, window=window, stack=stack,
        ema=ema,
    )
    for key, value in results.items():
        click.echo(f"{key:>30}: {value:.4g}" if isinstance(value, float) else f"{key:>30}: {value}")
    if json_path:
        from keras_gahb.utils import atomic_write_json

        atomic_write_json(json_path, results)


def run_benchmark(preset="unet_rf90", size=40, batch=32, steps=30, warmup=5, precision="float32",
                  jit="auto", steps_per_execution=1, threads=0, peak_size=2048, seed=0, window=5,
                  stack=1, ema=False):
    """Train `steps` steps on random data and return a dict of measurements.

    `images_per_second` is over all timed steps; `best_window_images_per_second`
    is the best over any `window` consecutive steps, and `images_per_cpu_second`
    divides by the CPU time this process got (times the core count, an upper
    estimate of the quiet-machine speed when other processes share the CPU;
    `cpu_share` is the fraction of the cores it got).
    """
    import keras
    import numpy as np

    _set_threads(keras.backend.backend(), threads)
    from keras_gahb import models
    from keras_gahb.training import detach_weights
    from keras_gahb.training.train_stacked import StackedDenoisers

    members = [models.from_preset(preset, image_size=size, dtype=precision)
               for _ in range(stack)]
    macs = forward_macs(members[0])
    flops_per_image = 2 * 3 * macs
    jit_compile = {"auto": "auto", "on": True, "off": False}[jit]
    optimizer = keras.optimizers.Adam(1e-4, use_ema=ema, ema_momentum=0.99)
    if stack == 1:
        model = members[0]
        loss = "mse"
    else:
        inputs = [keras.Input(members[0].input_shape[1:]) for _ in members]
        # The class train_stacked uses (on torch it clears every member's gradient each step).
        model = StackedDenoisers(inputs, [m(x) for m, x in zip(members, inputs)])
        loss = ["mse"] * stack
    model.compile(optimizer=optimizer, loss=loss, jit_compile=jit_compile,
                  steps_per_execution=steps_per_execution)

    rng = np.random.default_rng(seed)
    channels = members[0].image_channels
    clean = rng.uniform(0, 1, size=(batch, size, size, channels)).astype("float32")
    noisy = clean + rng.uniform(0, 1, size=(batch, 1, 1, 1)).astype("float32") * \
        rng.standard_normal(clean.shape).astype("float32")
    if stack > 1:
        noisy, clean = (noisy,) * stack, (clean,) * stack
    dataset = _repeat_dataset(noisy, clean)  # a factory: fit consumes its input
    batch = batch * stack  # images trained per step, all models together

    fit_options = {"epochs": 1, "verbose": 0, "shuffle": False}
    model.fit(dataset(), steps_per_epoch=_round_up(warmup, steps_per_execution), **fit_options)
    # JAX: fit's EMA finalisation leaves weights sharing buffers with the averages, which the
    # next fit would donate twice (see keras_gahb.training.detach_weights).
    detach_weights(model)
    timed = _round_up(steps, steps_per_execution)
    clock = _step_clock()
    load_before = os.getloadavg()[0]
    start, cpu_start = time.perf_counter(), time.process_time()
    history = model.fit(dataset(), steps_per_epoch=timed, callbacks=[clock], **fit_options)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    if not np.isfinite(history.history["loss"][-1]):
        raise RuntimeError("The training loss is not finite; the benchmark is invalid.")

    images_per_second = timed * batch / seconds
    results = {
        "backend": keras.backend.backend(),
        "preset": preset,
        "size": size,
        "batch": batch // stack,
        "stack": stack,
        "ema": ema,
        "precision": precision,
        "jit_compile": str(model.jit_compile),
        "steps_per_execution": steps_per_execution,
        "threads": threads or os.cpu_count(),
        "timed_steps": timed,
        "seconds": seconds,
        "images_per_second": images_per_second,
        "best_window_images_per_second": clock.best_rate(window, batch),
        "window_steps": window,
        "cpu_seconds": cpu_seconds,
        "images_per_cpu_second": timed * batch / cpu_seconds,
        "cpu_share": cpu_seconds / seconds / (threads or os.cpu_count()),
        "forward_gmacs_per_image": macs / 1e9,
        "train_gflop_per_image": flops_per_image / 1e9,
        "achieved_gflops": images_per_second * flops_per_image / 1e9,
        "load_average_1min_before": load_before,
        "load_average_1min_after": os.getloadavg()[0],
    }
    if peak_size:
        peak, peak_per_cpu = matmul_peak_gflops(peak_size, "float32", per_cpu_second=True)
        results["fp32_matmul_peak_gflops"] = peak
        results["ratio_to_fp32_peak"] = results["achieved_gflops"] / peak
        # Load-robust: GFLOP per CPU-second of the training over that of the matmul
        # (both processes' own CPU time, so time lost to other processes cancels).
        results["fp32_matmul_gflop_per_cpu_second"] = peak_per_cpu
        results["cpu_normalized_ratio_to_fp32_peak"] = (
            results["images_per_cpu_second"] * flops_per_image / 1e9 / peak_per_cpu)
        if precision == "mixed_bfloat16":
            results["bf16_matmul_peak_gflops"] = matmul_peak_gflops(peak_size, "bfloat16")
    return results


def native_bf16_cpu_flags(cpuinfo="/proc/cpuinfo"):
    """The CPU's native bfloat16 flags (avx512_bf16, amx_bf16) as a sorted list; [] when it has
    none; None when /proc/cpuinfo cannot be read (not Linux)."""
    try:
        with open(cpuinfo) as handle:
            text = handle.read()
    except OSError:
        return None
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[-1].split())
    return sorted(flags & {"avx512_bf16", "amx_bf16"})


def _gpu_visible():
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU") or tf.config.list_physical_devices("TPU"))
    if backend == "jax":
        import jax

        return jax.default_backend() != "cpu"
    import torch

    return torch.cuda.is_available()


def forward_macs(model):
    """Multiply-accumulates of one image's forward pass through the convolutions."""
    total = 0
    for _, (height, width, kh, kw, cin, cout) in conv_shapes(model):
        if height is None or width is None:
            raise ValueError("Build the model with a fixed image_size to count FLOPs.")
        total += height * width * kh * kw * cin * cout
    return int(total)


def conv_shapes(model):
    """(layer, (H, W, kh, kw, Cin, Cout)) per convolution: its forward costs H W kh kw Cin Cout MACs.

    H x W is a Conv2D's (same-padded) output and a stride-k Conv2DTranspose's input.
    """
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2DTranspose):
            _, height, width, cin = layer.input.shape
            kh, kw, cout, _ = layer.kernel.shape
        elif isinstance(layer, keras.layers.Conv2D):
            _, height, width, cout = layer.output.shape
            kh, kw, cin, _ = layer.kernel.shape
        else:
            continue
        yield layer, (height, width, kh, kw, cin, cout)


def matmul_peak_gflops(n=2048, dtype="float32", repeats=5, per_cpu_second=False):
    """Best GFLOP/s of an n x n matrix product (backend matmul; for float32 also NumPy).

    With `per_cpu_second=True` also returns the best GFLOP per CPU-second of
    this process (all threads), a figure that other processes' load barely
    changes.
    """
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    a_np = rng.standard_normal((n, n)).astype("float32")
    b_np = rng.standard_normal((n, n)).astype("float32")
    a = keras.ops.convert_to_tensor(a_np, dtype=dtype)
    b = keras.ops.convert_to_tensor(b_np, dtype=dtype)
    matmul = _compiled_matmul()
    best, best_cpu = float("inf"), float("inf")

    def timed(fn):
        nonlocal best, best_cpu
        start, cpu_start = time.perf_counter(), time.process_time()
        fn()
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - cpu_start)

    _block(matmul(a, b))  # compiles / warms up
    for _ in range(repeats):
        timed(lambda: _block(matmul(a, b)))
    if dtype == "float32":
        for _ in range(repeats):
            timed(lambda: a_np @ b_np)
    gflops = 2 * n**3 / best / 1e9
    if per_cpu_second:
        return gflops, 2 * n**3 / max(best_cpu, 1e-9) / 1e9
    return gflops


# === Helpers ===


def _set_threads(backend, threads):
    if not threads:
        return
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    elif backend == "torch":
        import torch

        torch.set_num_threads(threads)


def _compiled_matmul():
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.jit(keras.ops.matmul)
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(keras.ops.matmul)
    return keras.ops.matmul


def _block(x):
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        x.block_until_ready()
    elif backend == "torch":
        float(x[0, 0])
    else:
        keras.ops.convert_to_numpy(keras.ops.cast(x[0, 0], "float32"))


def _repeat_dataset(noisy, clean):
    """The same batch forever, already in memory (no input-pipeline cost)."""
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return lambda: tf.data.Dataset.from_tensors((noisy, clean)).repeat()
    batch = keras.tree.map_structure(keras.ops.convert_to_tensor, (noisy, clean))

    def batches():
        while True:
            yield batch

    return batches


def _step_clock():
    """A Keras callback noting the time at the end of every executed step."""
    import keras

    class StepClock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.marks = [(0, time.perf_counter())]

        def on_train_batch_end(self, batch, logs=None):
            self.marks.append((batch + 1, time.perf_counter()))

        def best_rate(self, window, batch_size):
            """Images/s of the fastest run of >= `window` consecutive steps."""
            best = 0.0
            for i, (step0, t0) in enumerate(self.marks):
                for step1, t1 in self.marks[i + 1:]:
                    if step1 - step0 >= window:
                        best = max(best, (step1 - step0) * batch_size / (t1 - t0))
                        break
            return best

    return StepClock()


def _round_up(n, multiple):
    return -(-n // multiple) * multiple


if __name__ == "__main__":
    main()
