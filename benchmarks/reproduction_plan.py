"""Projected training time of a whole reproduction plan, from a short timed slice of each model.

The plan is every denoiser `gahb reproduce` trains at a scale
(keras_gahb/experiments/reproduction_config.py), with three models per N in
the memorization -> generalization part (S1, S2 and a control):

- transition: len(n_values) x 3 models x images_per_model images;
- calpha: len(calpha_alphas) models x calpha_images_per_model images;
- discs: 1 model x discs_images_per_model images.

Models of the same shape cost the same per image, so each distinct training
step (preset, image size, batch, and stacking) is timed once for `--steps`
steps with `benchmarks/train_throughput.run_benchmark` (Adam + EMA, the
settings `keras_gahb.training.train` resolves), and the plan's time is
projected as images / rate. As `gahb reproduce` does by default (`stack=True`),
the three models of each N, and the C^alpha models, are timed as one stacked
step (`keras_gahb.training.train_stacked`); `--no-stack` times them one by one.
The per-epoch evaluation and saving are not counted (a few seconds per model).

Usage:

    python benchmarks/reproduction_plan.py --scale quick
    python benchmarks/reproduction_plan.py --scale quick --no-stack
"""

import os
import sys
import time

import click

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONTROLS_PER_N = 3  # S1, S2 and a control model


@click.command()
@click.option("--scale", default="quick", show_default=True)
@click.option("--steps", default=30, show_default=True, help="Timed steps per distinct model.")
@click.option("--stack/--no-stack", default=True, show_default=True,
              help="Train the models of one N (and the C^alpha models) side by side, as "
                   "`gahb reproduce` does by default.")
@click.option("--jit-compile", "jit", type=click.Choice(["auto", "on", "off"]), default="auto",
              show_default=True)
@click.option("--backend", type=click.Choice(["tensorflow", "jax", "torch"]), default=None)
def main(scale, steps, stack, jit, backend):
    """Print each part's images, the measured images/s, % of the fp32 peak, projected minutes."""
    if backend:
        os.environ["KERAS_BACKEND"] = backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, _ROOT)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from train_throughput import matmul_peak_gflops, run_benchmark

    from keras_gahb.experiments.reproduction_config import config_for_scale

    config = config_for_scale(scale)
    parts = plan(config)
    wall0 = time.perf_counter()
    peak, peak_per_cpu = matmul_peak_gflops(2048, per_cpu_second=True)
    rates = {}
    total_seconds = total_cpu_seconds = total_images = 0.0
    click.echo(f"scale={scale} preset={config.preset} size={config.image_size} "
               f"batch={config.batch_size} stacked={stack} jit={jit} "
               f"load={os.getloadavg()[0]:.2f} fp32 peak={peak:.1f} GFLOP/s "
               f"({peak_per_cpu:.1f} GFLOP/CPU-s)")
    for name, models, images, group in parts:
        k = group if stack else 1
        key = (config.preset, config.image_size, config.batch_size, k)
        if key not in rates:
            rates[key] = run_benchmark(
                preset=config.preset, size=config.image_size, batch=config.batch_size,
                steps=steps, warmup=3, jit=jit, peak_size=None, stack=k, ema=True)
        result = rates[key]
        rate, cpu_rate = result["images_per_second"], result["images_per_cpu_second"]
        gflops = cpu_rate * result["train_gflop_per_image"]
        seconds = models * images / rate
        # The CPU-normalised projection: the whole machine's CPU time at this process's rate.
        cpu_seconds = models * images / (cpu_rate * os.cpu_count())
        total_seconds += seconds
        total_cpu_seconds += cpu_seconds
        total_images += models * images
        click.echo(f"{name:>10}: {models:2d} models x {images:>9,} images, stack {k}: "
                   f"{rate:7.0f} images/s ({cpu_rate * os.cpu_count():7.0f} per CPU-s x cores), "
                   f"{100 * gflops / peak_per_cpu:5.1f}% of peak (CPU-normalised), "
                   f"{seconds / 60:6.1f} min ({cpu_seconds / 60:5.1f} min CPU-normalised)")
    click.echo(f"{'total':>10}: {total_images:,.0f} images, projected {total_seconds / 60:.1f} min "
               f"wall under this load, {total_cpu_seconds / 60:.1f} min on an idle machine "
               f"(CPU-normalised); measured in {time.perf_counter() - wall0:.0f} s, "
               f"load {os.getloadavg()[0]:.2f}")


def plan(config):
    """[(part, models, images per model, models per stacked step)] of a `ReproductionConfig`."""
    return [
        ("transition", CONTROLS_PER_N * len(config.n_values), config.images_per_model,
         CONTROLS_PER_N),
        ("calpha", len(config.calpha_alphas), config.calpha_images_per_model,
         len(config.calpha_alphas)),
        ("discs", 1, config.discs_images_per_model, 1),
    ]


if __name__ == "__main__":
    main()
