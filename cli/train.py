"""`gahb train`: train a denoiser in a resumable run directory."""

import importlib.util
import json
import os
import sys

import click

from cli.common import parse_key_values

def _load_train_config():
    """keras_gahb/training/train_config.py, run on its own (it needs only the standard library).

    Importing it as `keras_gahb.training.train_config` would import Keras through the package
    `__init__`s before `gahb --backend` is applied (and make `gahb train --help` slow); the
    choices below are read from it so that the CLI and `TrainConfig` cannot disagree.
    """
    package = importlib.util.find_spec("keras_gahb")  # locates the package without importing it
    path = os.path.join(os.path.dirname(package.origin), "training", "train_config.py")
    spec = importlib.util.spec_from_file_location("_gahb_cli_train_config", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_CONFIG = _load_train_config()


def _sigmas(ctx, param, value):
    if value is None:
        return None
    try:
        sigmas = [float(s) for s in value.split(",") if s.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, got {value!r}") from None
    if not sigmas or any(not s > 0 for s in sigmas):
        raise click.BadParameter(f"expected positive noise levels, got {value!r}")
    return sigmas


def _noise(ctx, param, value):
    if value is None or value in _CONFIG.NOISES:
        return value
    try:
        return float(value)
    except ValueError:
        raise click.BadParameter(
            f"use {', '.join(_CONFIG.NOISES)} or a fixed number, got {value!r}"
        ) from None


@click.command("train")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="TOML or JSON file of options (keys = the option names below, e.g. "
                   "batch_size); flags given on the command line override it.")
@click.option("--out", type=click.Path(file_okay=False),
              help="Run directory; rerun to resume. [gahb_runs/<dataset>_n<N>_<preset>]")
@click.option("--dataset", help="Dataset name (gahb data list). [faces]")
@click.option("--n", type=click.IntRange(min=1), help="Training images N. [40]")
@click.option("--split", type=click.Choice(_CONFIG.SPLITS), help="Train on S1 or S2. [s1]")
@click.option("--test-size", type=click.IntRange(min=1),
              help="Held-out test images. [512, or the rest of the 100 faces]")
@click.option("--image-size", type=click.IntRange(min=1), help="Image side. [32]")
@click.option("--channels", type=click.IntRange(min=1), help="1 gray or 3 colour. [1]")
@click.option("--preset", help="Model preset (gahb models). [unet_small]")
@click.option("--epochs", type=click.IntRange(min=1), help="Epochs. [20]")
@click.option("--batch-size", type=click.IntRange(min=1), help="Global batch size. [16]")
@click.option("--images-per-epoch", type=click.IntRange(min=1),
              help="Tile the training set to this many images per epoch. [one pass]")
@click.option("--recipe", type=click.Choice(tuple(_CONFIG.RECIPES)),
              help="Training recipe: paper (quadratic sigma, plain MSE: the authors') or cpu "
                   "(log-uniform sigma in [0.005, 1], MSE weighted by 1/sigma: docs/training.md). "
                   "[paper]")
@click.option("--sigma-distribution", callback=_noise,
              help="Noise levels, overriding the recipe's: quadratic (paper), uniform, "
                   "log_uniform, mixture (half quadratic, half log-uniform) or a number. "
                   "[the recipe's]")
@click.option("--noise", callback=_noise, hidden=True,
              help="Older name of --sigma-distribution.")
@click.option("--sigma-min", type=click.FloatRange(min=0),
              help="Smallest training noise level. [0.005 for log_uniform and mixture, else 0]")
@click.option("--loss-weight", type=click.Choice(_CONFIG.LOSS_WEIGHTS),
              help="Per-image loss weight of its noise level, overriding the recipe's. "
                   "[the recipe's]")
@click.option("--sigma-data", type=click.FloatRange(min=0, min_open=True),
              help="sigma_data of --loss-weight edm. [0.25]")
@click.option("--sigma-max", type=click.FloatRange(min=0, min_open=True),
              help="Largest training noise level. [1.0]")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True),
              help="Peak learning rate. [1e-3]")
@click.option("--schedule", type=click.Choice(_CONFIG.SCHEDULES),
              help="Learning-rate schedule. [cosine]")
@click.option("--halve-every", type=click.IntRange(min=1),
              help="Epochs between halvings (paper schedule). [100]")
@click.option("--warmup-steps", type=click.IntRange(min=0),
              help="Linear learning-rate warm-up steps (cosine schedule). [0]")
@click.option("--ema/--no-ema", default=None, help="Average the weights (EMA). [on]")
@click.option("--ema-momentum", type=click.FloatRange(min=0, max=1, max_open=True),
              help="EMA momentum. [auto from the run's steps]")
@click.option("--precision", type=click.Choice(_CONFIG.PRECISIONS),
              help="[float32]")
@click.option("--strategy",
              type=click.Choice(("none", *_CONFIG.STRATEGIES)),
              help="Data parallelism: tf.distribute (TensorFlow) or data_parallel (JAX). "
                   "multi_worker: run this same command on every worker, each with its "
                   "TF_CONFIG; only the chief writes --out. data_parallel across processes: "
                   "the same command in each, with KERAS_DISTRIBUTION_JOB_ADDRESSES, "
                   "_NUM_PROCESSES and _PROCESS_ID (docs/distributed.md). [none]")
@click.option("--sync-batch-norm/--no-sync-batch-norm", default=None,
              help="Batch-norm statistics of the global batch under a tf.distribute strategy "
                   "(trains like one device on the whole batch). [off]")
@click.option("--seed", type=click.IntRange(min=0), help="Seed of data, split, init, noise. [0]")
@click.option("--eval-sigmas", callback=_sigmas,
              help="Comma-separated noise levels of the PSNR curves. "
                   "[0.02,0.05,0.1,0.2,0.4,0.7,1.0]")
@click.option("--eval-train-size", type=click.IntRange(min=1),
              help="Training images in the PSNR evaluation. [64]")
@click.option("--eval-every", type=click.IntRange(min=1), help="Evaluate every k epochs. [1]")
@click.option("--tensorboard/--no-tensorboard", default=None,
              help="TensorBoard logs in OUT/logs (needs `pip install tensorboard`). [off]")
@click.option("--stack", "stacked", multiple=True, metavar="DIR[:KEY=VALUE,...]",
              help="Train another model side by side in the same step, in run directory DIR, "
                   "with these per-model options (split, seed, n, dataset, ...), e.g. "
                   "--stack runs/s2:split=s2. Repeatable.")
@click.option("--wait", is_flag=True,
              help="If another process trains in the run directory, wait for it to finish "
                   "instead of refusing.")
@click.option("--restart", is_flag=True,
              help="Delete what was trained in the run directory (checkpoints, models, history) "
                   "and train it again from epoch 0, e.g. when no checkpoint is intact.")
@click.option("--print-config", is_flag=True,
              help="Print the resolved options as JSON and exit without training.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def command(ctx, config_file, print_config, quiet, stacked, wait, restart, **flags):
    """Train a bias-free denoiser; rerun the same command to resume an interrupted run.

    One process at a time trains in a run directory (--wait to queue behind
    another); a damaged newest checkpoint falls back to the one before; a full
    disk or a non-finite loss stops with one line saying what is kept.

    Example: gahb train --dataset faces --n 40 --preset unet_small --epochs 20 --out runs/faces

    On a CPU budget add --recipe cpu (docs/training.md).
    """
    from keras_gahb.training import TrainConfig, load_config_file, train

    options = load_config_file(config_file, allowed_extra=("out",)) if config_file else {}
    source = click.core.ParameterSource.COMMANDLINE
    options.update({name: value for name, value in flags.items()
                    if ctx.get_parameter_source(name) == source and value is not None})
    out = options.pop("out", None)
    resolved = TrainConfig.from_dict(options).to_dict()
    if not out:
        out = default_run_dir(resolved)
        if not print_config:
            click.echo(f"Run directory: {out} (the default; choose one with --out)")
    if print_config:
        click.echo(json.dumps({"out": out, **resolved}, indent=2))
        return
    verbose = 0 if quiet else (1 if sys.stdout.isatty() else 2)
    if stacked:
        from keras_gahb.training import train_stacked

        dirs, per_model = [out], [{}]
        for spec in stacked:
            folder, _, pairs = spec.partition(":")
            dirs.append(folder)
            per_model.append(parse_key_values([p for p in pairs.split(",") if p], "--stack"))
        for result in train_stacked(dirs, per_model=per_model, verbose=verbose, wait=wait,
                                    restart=restart, **options):
            click.echo(result.summary())
        click.echo(f"Wrote {', '.join(dirs)} (one train run directory each)")
        return
    result = train(out, verbose=verbose, wait=wait, restart=restart, **options)
    click.echo(result.summary())
    click.echo(f"Wrote {os.path.join(out, '')} (model.keras, model_best.keras, history.csv, "
               "psnr_curves.png)")


def default_run_dir(config):
    """gahb_runs/<dataset>_n<N>_<preset>[_<split>] for a resolved training config."""
    split = "" if config["split"] == "s1" else f"_{config['split']}"
    return f"gahb_runs/{config['dataset']}_n{config['n']}_{config['preset']}{split}"
