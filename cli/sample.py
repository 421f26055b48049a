"""`gahb sample`: draw images from the prior implicit in a trained denoiser."""

import os

import click

#: Defaults of the options that a reproduction's report may set otherwise (those of
#: `keras_gahb.sampling.sample`, and 16 samples from seed 0).
DEFAULTS = {"num": 16, "seed": 0, "h0": 0.01, "beta": 0.1, "sigma0": 1.0, "sigma_final": 0.01,
            "mean": 0.5, "max_steps": 1000, "floor_factor": 2.0}
_REPORT = ("default: the report's for a model of a `gahb reproduce` run, else {}")


@click.command("sample")
@click.argument("model", type=click.Path(), required=False)
@click.option("--preset", default=None, metavar="NAME",
              help="Sample a denoiser that ships with keras_gahb (`gahb models` lists those "
                   "with weights) instead of MODEL, with the sampler settings it ships with.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for samples.npz, grid.png, sigmas.json, sigmas.png.")
@click.option("--num", default=None, type=click.IntRange(min=1),
              help="Number of samples (" + _REPORT.format(16) + ").")
@click.option("--seed", default=None, type=click.IntRange(min=0),
              help="Seed of x_0 and every z_t (same seed = same noise for any model; "
                   + _REPORT.format(0) + ").")
@click.option("--size", default=None, type=click.IntRange(min=1),
              help="Image side (default: the model's fixed input size, else the image_size "
                   "in the config.json of the run folder that holds the model).")
@click.option("--compare", type=click.Path(), default=None,
              help="A second model (.keras file or run folder) sampled from the same seed "
                   "(Fig 1/2 comparison).")
@click.option("--task", type=click.Choice(["inpaint", "superres", "missing", "compressive"]),
              default=None, help="Solve a linear inverse problem on --image.")
@click.option("--image", type=click.Path(dir_okay=False), default=None,
              help="Image (.png or .npy, values in [0, 1]) to measure for --task.")
@click.option("--factor", default=4, show_default=True, type=click.IntRange(min=2),
              help="Super-resolution block size.")
@click.option("--fraction", default=0.1, show_default=True, type=float,
              help="Known pixels (missing) or measurements per pixel (compressive).")
@click.option("--h0", default=None, type=float,
              help="First step size h_0 (" + _REPORT.format(0.01) + ").")
@click.option("--beta", default=None, type=float,
              help="Noise removed per step, in (0, 1]; 1 = deterministic (" + _REPORT.format(0.1)
                   + ").")
@click.option("--sigma0", default=None, type=float, help="Std of x_0 (" + _REPORT.format(1.0) + ").")
@click.option("--sigma-final", default=None, type=float,
              help="Stop when sigma_t <= this (" + _REPORT.format(0.01) + "; the paper's figures "
                   "and the quick reproduction use 0.05).")
@click.option("--mean", default=None, type=float, help="Mean of x_0 (" + _REPORT.format(0.5) + ").")
@click.option("--max-steps", default=None, type=click.IntRange(min=1),
              help="Most iterations per image (" + _REPORT.format(1000) + ").")
@click.option("--floor-factor", default=None, type=float,
              help="Stop an image at the denoiser's noise floor when sigma_t sets no new minimum "
                   "while the schedule should have divided it by this factor ("
                   + _REPORT.format(2.0) + ").")
@click.option("--no-floor-stop", is_flag=True,
              help="Never stop at a noise floor (the paper's loop verbatim).")
@click.option("--batch-size", default=None, type=click.IntRange(min=1),
              help="Images per batch (default: all at once).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def command(model, preset, out_dir, num, seed, size, compare, task, image, factor, fraction, h0, beta,
            sigma0, sigma_final, mean, max_steps, floor_factor, no_floor_stop, batch_size, quiet):
    """Sample MODEL (a .keras file or a run folder) with stochastic coarse-to-fine gradient ascent.

    A model of a `gahb reproduce` run samples with the settings of its report (seed, count,
    sampler), so that the numbers match it; options given override them, and are listed.

    A shipped denoiser (--preset NAME) samples at its training image size with the settings
    of its manifest.

    Example: gahb sample gahb_runs/reproduce_quick/models/transition_n10000_s1 --out samples/

    Example: gahb sample --preset transition_n10000_s1_medium --out samples/
    """
    from keras_gahb.experiments import report_sampling
    from keras_gahb.experiments.report_settings import differences_from_report
    from keras_gahb.sampling import run_sampling

    given = {k: v for k, v in dict(num=num, seed=seed, h0=h0, beta=beta, sigma0=sigma0,
                                   sigma_final=sigma_final, mean=mean, max_steps=max_steps,
                                   floor_factor=floor_factor).items() if v is not None}
    if (model is None) == (preset is None):
        raise click.UsageError("Give a MODEL (a .keras file or a run folder) or --preset NAME "
                               "(not both).")
    report = report_sampling(model) if model is not None else None
    settings = dict(DEFAULTS)
    if preset is not None:
        from keras_gahb.models import get_pretrained, load_pretrained

        try:
            manifest = get_pretrained(preset)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--preset") from None
        settings.update(manifest.get("sampler", {}))
        size = size or manifest["data"]["image_size"]
        model = load_pretrained(preset)
        click.echo(f"Preset {preset} ({manifest['description']}); sampler settings of the "
                   "run that trained it: " + ", ".join(
                       f"{k} {v:g}" for k, v in manifest.get("sampler", {}).items()))
    if report is not None:
        settings.update(num=report["num"], seed=report["seed"], **report["sampler"])
        click.echo("Settings of the report (" + report["config"] + "): "
                   + ", ".join(f"{k} {v:g}" for k, v in settings.items()))
        note = differences_from_report(
            {**given, **({"floor_factor": float("nan")} if no_floor_stop else {})},
            {**settings, "config": report["config"]})
        if note:
            click.echo(note.replace("floor_factor nan", "--no-floor-stop"))
    settings.update(given)
    if no_floor_stop:
        settings["floor_factor"] = None
    num, seed = settings.pop("num"), settings.pop("seed")
    summary = run_sampling(
        out_dir, model, num=num, seed=seed, size=size, compare=compare, task=task, image=image,
        factor=factor, fraction=fraction, batch_size=batch_size, verbose=0 if quiet else 1,
        **settings,
    )
    click.echo(f"{summary['model']}: {summary['summary']}")
    if "compare_summary" in summary:
        click.echo(f"{summary['compare_model']}: {summary['compare_summary']}")
    if "mean_psnr" in summary:
        click.echo(f"{task}: mean PSNR of the samples vs the image {summary['mean_psnr']:.2f} dB")
    if "compare" in summary:
        c = summary["compare"]
        click.echo(
            f"compare: mean correlation (mean-removed cosine) "
            f"{c['mean_correlation_converged']:.4f} over the {c['num_both_converged']} of {num} "
            f"samples where both samplers converged (the report's measure; all {num}: "
            f"{c['mean_cosine_similarity_mean_removed']:.4f}, plain cosine "
            f"{c['mean_cosine_similarity']:.4f})"
        )
    if summary["num_diverged"]:
        click.echo(f"Warning: {summary['num_diverged']} samples diverged (see sigmas.json).", err=True)
    click.echo(f"Wrote {os.path.join(out_dir, '')}")
