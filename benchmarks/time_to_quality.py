"""Time to quality: test PSNR against images seen and CPU-seconds, for several training recipes.

Each configuration (a recipe of `keras_gahb.training.RECIPES`, optionally with
overrides) trains a fresh denoiser with plain `model.fit` on the same images
with the same seed (same initial weights), Adam with cosine decay to 0 over
the whole budget. Every `--eval-every` images the test PSNR is measured at
sigma = 0 (the clean input: the bias a denoiser has with no noise at all),
0.01, 0.02, 0.05, 0.1, 0.2 and 0.4 (one noise draw per test image, reused at
every evaluation), against images seen and the CPU-seconds of training alone
(`time.process_time` of the process, all its threads, evaluation excluded).
Printed per configuration: the CPU-seconds to first beat the identity (the
noisy input) at sigma = 0.02 by 1 dB, and the PSNRs after the budget; also the
machine's fp32 matmul peak measured in the same run
(`train_throughput.matmul_peak_gflops`), the CPU's name and the load average.
Writes curves.json and curves.png to `--out`.

Usage:

    nice -n 19 python benchmarks/time_to_quality.py --configs paper,cpu --images 96000
    python benchmarks/time_to_quality.py --configs "cpu,cpu:loss_weight=inverse_sqrt_sigma" \\
        --images 192000 --lr 2e-3

A configuration is a recipe name, optionally followed by ":key=value,..." with
keys sigma_distribution, sigma_min, loss_weight, sigma_data, lr, warmup_steps.
"""

import json
import os
import sys
import time

import click

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

#: Test noise levels (0 = the clean image) and the one that decides "time to quality".
SIGMAS = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4)
TARGET_SIGMA, TARGET_GAIN_DB = 0.02, 1.0
_OVERRIDES = {"sigma_distribution": str, "sigma_min": float, "loss_weight": str,
              "sigma_data": float, "lr": float, "warmup_steps": int}


def parse_configuration(spec):
    """'cpu:loss_weight=inverse_sqrt_sigma,lr=1e-3' -> (label, {recipe options})."""
    recipe, _, rest = spec.strip().partition(":")
    options = {"recipe": recipe}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep or key not in _OVERRIDES:
            raise click.BadParameter(
                f"{item!r} in {spec!r}: use key=value with a key of {', '.join(_OVERRIDES)}")
        if key == "sigma_distribution":  # a name, or a fixed number
            options[key] = _number_or_name(value)
            continue
        try:
            options[key] = _OVERRIDES[key](value)
        except ValueError:
            raise click.BadParameter(f"{item!r} in {spec!r}: not a {_OVERRIDES[key].__name__}") \
                from None
    return spec.strip(), options


def parse_model_options(spec):
    """'base_channels=32;levels=3' -> {"base_channels": 32, "levels": 3} (numbers or names)."""
    options = {}
    for item in filter(None, (p.strip() for p in spec.replace(",", ";").split(";"))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r}: use key=value", param_hint="--model")
        value = _number_or_name(value.strip())
        options[key.strip()] = int(value) if isinstance(value, float) and value.is_integer() \
            else value
    return options


def time_to_target(curve, input_psnr):
    """The first point of `curve` at least TARGET_GAIN_DB above the input PSNR at TARGET_SIGMA."""
    target = input_psnr[_key(TARGET_SIGMA)] + TARGET_GAIN_DB
    return next((p for p in curve if p["psnr"][_key(TARGET_SIGMA)] >= target), None)


def run(configurations, images=96_000, eval_every=16_000, n_train=10_000, test_size=256,
        size=16, alpha=2.0, preset="unet_small", batch_size=64, lr=2e-3, seed=0, out=None,
        peak_size=1024, verbose=0, model_options=None):
    """Train each configuration on the same data and seed; return the curves as a dict."""
    import keras

    sys.path.insert(0, _ROOT)
    from train_throughput import matmul_peak_gflops

    import keras_gahb
    from keras_gahb.training import TrainConfig

    if images < eval_every or images % eval_every:
        raise click.BadParameter("--images must be a positive multiple of --eval-every")
    resolved = []
    for label, options in configurations:
        options = {"lr": lr, **options}
        try:
            config = TrainConfig(batch_size=batch_size, **options)
        except ValueError as error:
            raise click.BadParameter(f"{label}: {error}") from None
        resolved.append((label, config))

    load_before = os.getloadavg()[0]
    peak, peak_per_cpu = matmul_peak_gflops(peak_size, "float32", per_cpu_second=True)
    pool = keras_gahb.data.get_images("calpha", n_train + test_size, size, seed=seed,
                                      alpha=alpha, variant="authors")
    train_x, test_x = pool[:n_train], pool[n_train:]
    noisy_test = keras_gahb.metrics.noisy_versions(test_x, SIGMAS, seed=seed + 1)
    input_psnr = {s: keras_gahb.metrics.mean_psnr(y, test_x) for s, y in zip(SIGMAS, noisy_test)}
    noisy_sigmas = [s for s in SIGMAS if s > 0]
    oracle = {basis: {_key(s): round(float(v), 3) for s, v in zip(
        noisy_sigmas, keras_gahb.analysis.oracle_psnr(test_x, noisy_sigmas, basis=basis))}
        for basis in ("dct", "haar")}
    epochs = images // eval_every
    results = []
    for label, config in resolved:
        keras.utils.set_random_seed(seed)
        model = keras_gahb.models.from_preset(preset, image_channels=1, **(model_options or {}))
        weighted = config.loss_weight != "none"
        pairs = keras_gahb.data.noisy_pairs(
            train_x, batch_size, sigma=config.sigma_distribution,
            sigma_min=config.sigma_min if isinstance(config.sigma_distribution, str) else None,
            sigma_max=config.sigma_max, images_per_epoch=eval_every, seed=seed,
            loss_weight=config.loss_weight if weighted else None, sigma_data=config.sigma_data)
        keras_gahb.training.compile_denoiser(
            model, learning_rate=config.lr, schedule="cosine", steps_per_epoch=len(pairs),
            epochs=epochs, warmup_steps=config.warmup_steps,
            jit_compile=keras_gahb.training.resolve_jit_compile("auto", model,
                                                                len(pairs) * epochs))
        clock = _train_clock(keras)
        curve = []

        def evaluate(seen, model=model, clock=clock, curve=curve):
            psnrs = {s: keras_gahb.metrics.mean_psnr(
                model.predict(y, batch_size=256, verbose=0), test_x)
                for s, y in zip(SIGMAS, noisy_test)}
            curve.append({"images": seen, "cpu_seconds": round(clock.cpu, 2),
                          "wall_seconds": round(clock.wall, 2),
                          "psnr": {_key(s): round(v, 3) for s, v in psnrs.items()}})
            if verbose:
                print(f"  {label}: {seen:>8,} images, {clock.cpu:7.1f} CPU-s: " + " ".join(
                    f"{s:g}:{v:.1f}" for s, v in psnrs.items()), flush=True)

        evaluate(0)
        logger = keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs, f=evaluate, c=clock: (
                c.stop(), f((epoch + 1) * eval_every)))
        model.fit(pairs, epochs=epochs, callbacks=[clock, logger], verbose=0, shuffle=False)
        first = time_to_target(curve, {_key(s): v for s, v in input_psnr.items()})
        results.append({
            "label": label, "recipe": config.recipe_label(), "lr": config.lr,
            "warmup_steps": config.warmup_steps, "curve": curve,
            "cpu_seconds_to_target": first["cpu_seconds"] if first else None,
            "images_to_target": first["images"] if first else None,
            "final_psnr": curve[-1]["psnr"], "train_cpu_seconds": round(clock.cpu, 1),
        })
    summary = {
        "setup": {"preset": preset, "model_options": dict(model_options or {}),
                  "dataset": f"calpha alpha={alpha:g} (authors' generator)",
                  "image_size": size, "n_train": n_train, "test_size": test_size,
                  "images": images, "eval_every": eval_every, "batch_size": batch_size,
                  "optimizer": "Adam, cosine decay to 0, no EMA", "seed": seed,
                  "backend": keras.backend.backend()},
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count(),
                    "fp32_matmul_peak_gflops": round(peak, 1),
                    "fp32_matmul_gflop_per_cpu_second": round(peak_per_cpu, 1),
                    "load_average_before": round(load_before, 2),
                    "load_average_after": round(os.getloadavg()[0], 2)},
        "sigmas": list(SIGMAS),
        "input_psnr": {_key(s): round(v, 3) for s, v in input_psnr.items()},
        "oracle_psnr": oracle,
        "target": f"test PSNR at sigma {TARGET_SIGMA} >= input + {TARGET_GAIN_DB} dB",
        "configurations": results,
    }
    if out:
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "curves.json"), "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=1)
        plot_curves(os.path.join(out, "curves.png"), summary)
    return summary


def format_table(summary):
    """The results as a markdown table (one row per configuration)."""
    machine = summary["machine"]
    keys = [_key(s) for s in summary["sigmas"]]
    lines = [
        f"{machine['cpu']}, {machine['cores']} cores, fp32 matmul peak "
        f"{machine['fp32_matmul_peak_gflops']} GFLOP/s (same run), load average "
        f"{machine['load_average_before']} -> {machine['load_average_after']}; "
        f"{summary['setup']['images']:,} images seen, {summary['setup']['backend']}",
        "",
        "| configuration | CPU-s to +1 dB at 0.02 | train CPU-s | "
        + " | ".join(f"{k} ({summary['input_psnr'][k]:.1f})" for k in keys) + " |",
        "| --- | ---: | ---: | " + " | ".join("---:" for _ in keys) + " |",
    ]
    for result in summary["configurations"]:
        reached = result["cpu_seconds_to_target"]
        lines.append(
            f"| {result['label']} (lr {result['lr']:g}) | "
            f"{'not reached' if reached is None else f'{reached:.0f}'} | "
            f"{result['train_cpu_seconds']:.0f} | "
            + " | ".join(f"{result['final_psnr'][k]:.1f}" for k in keys) + " |")
    for basis, psnr in summary.get("oracle_psnr", {}).items():
        lines.append(f"| oracle {basis.upper()} projection risk (same test images) | | | "
                     + " | ".join(f"{psnr[k]:.1f}" if k in psnr else "-" for k in keys) + " |")
    return "\n".join(lines)


def plot_curves(path, summary):
    """Test PSNR minus input PSNR against CPU-seconds, one panel per noise level."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [_key(s) for s in summary["sigmas"]]
    fig, axes = plt.subplots(1, len(keys), figsize=(3 * len(keys), 3), sharex=True)
    for ax, key in zip(axes, keys):
        for result in summary["configurations"]:
            x = [p["cpu_seconds"] for p in result["curve"]]
            y = [p["psnr"][key] for p in result["curve"]]
            ax.plot(x, y, marker="o", ms=3, label=result["label"])
        ax.axhline(summary["input_psnr"][key], color="k", lw=0.8, ls="--")
        ax.set_title(f"sigma {key} (input {summary['input_psnr'][key]:.1f} dB)", fontsize=9)
        ax.set_xlabel("training CPU-seconds")
    axes[0].set_ylabel("test PSNR (dB)")
    axes[-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def cpu_name(cpuinfo="/proc/cpuinfo"):
    """The processor's model name (Linux), or the platform's description."""
    try:
        with open(cpuinfo, encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def _key(sigma):
    return f"{sigma:g}"


def _number_or_name(value):
    try:
        return float(value)
    except ValueError:
        return value


def _train_clock(keras):
    """A callback adding up the CPU- and wall-seconds of training epochs (evaluation excluded)."""

    class TrainClock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.cpu = self.wall = 0.0
            self._start = None

        def on_epoch_begin(self, epoch, logs=None):
            self._start = (time.process_time(), time.perf_counter())

        def stop(self):
            """End the epoch's clock (before its evaluation runs)."""
            if self._start is not None:
                self.cpu += time.process_time() - self._start[0]
                self.wall += time.perf_counter() - self._start[1]
                self._start = None

    return TrainClock()


@click.command()
@click.option("--configs", default="paper,cpu", show_default=True,
              help="Comma-separated configurations: a recipe name, optionally with "
                   "':key=value;...' overrides (use ';' between overrides here).")
@click.option("--images", default=96_000, show_default=True, type=click.IntRange(min=1),
              help="Training images seen per configuration (the budget).")
@click.option("--eval-every", default=16_000, show_default=True, type=click.IntRange(min=1),
              help="Images between evaluations (one epoch).")
@click.option("--n-train", default=10_000, show_default=True, type=click.IntRange(min=1))
@click.option("--test-size", default=256, show_default=True, type=click.IntRange(min=1))
@click.option("--size", default=16, show_default=True, type=click.IntRange(min=4))
@click.option("--alpha", default=2.0, show_default=True, type=float)
@click.option("--preset", default="unet_small", show_default=True)
@click.option("--model", "model_spec", default="", metavar="KEY=VALUE;...",
              help="Constructor overrides of the preset, e.g. 'base_channels=32'.")
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(min=1))
@click.option("--lr", default=2e-3, show_default=True, type=float, help="Peak learning rate.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--peak-size", default=1024, show_default=True, type=click.IntRange(min=64))
@click.option("--out", default="benchmarks/results/time_to_quality", show_default=True)
@click.option("--quiet", is_flag=True)
def main(configs, images, eval_every, n_train, test_size, size, alpha, preset, model_spec,
         batch_size, lr, seed, peak_size, out, quiet):
    """Train each configuration; print CPU-seconds to +1 dB at sigma 0.02 and the final PSNRs."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    specs = [parse_configuration(spec.replace(";", ",")) for spec in configs.split(",")
             if spec.strip()]
    summary = run(specs, images=images, eval_every=eval_every, n_train=n_train,
                  test_size=test_size, size=size, alpha=alpha, preset=preset,
                  batch_size=batch_size, lr=lr, seed=seed, out=out, peak_size=peak_size,
                  verbose=0 if quiet else 1, model_options=parse_model_options(model_spec))
    click.echo(format_table(summary))
    click.echo(f"Wrote {os.path.join(out, 'curves.json')} and curves.png")


if __name__ == "__main__":
    main()
