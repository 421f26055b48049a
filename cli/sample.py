"""`gahb sample`: draw images from the prior implicit in a trained denoiser."""

import os

import click


@click.command("sample")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for samples.npz, grid.png, sigmas.json, sigmas.png.")
@click.option("--num", default=16, show_default=True, type=click.IntRange(min=1),
              help="Number of samples.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0),
              help="Seed of x_0 and every z_t (same seed = same noise for any model).")
@click.option("--size", default=None, type=click.IntRange(min=1),
              help="Image side (default: the model's fixed input size, else the image_size "
                   "in the config.json of the run folder that holds the model).")
@click.option("--compare", type=click.Path(dir_okay=False), default=None,
              help="A second .keras model sampled from the same seed (Fig 1/2 comparison).")
@click.option("--task", type=click.Choice(["inpaint", "superres", "missing", "compressive"]),
              default=None, help="Solve a linear inverse problem on --image.")
@click.option("--image", type=click.Path(dir_okay=False), default=None,
              help="Image (.png or .npy, values in [0, 1]) to measure for --task.")
@click.option("--factor", default=4, show_default=True, type=click.IntRange(min=2),
              help="Super-resolution block size.")
@click.option("--fraction", default=0.1, show_default=True, type=float,
              help="Known pixels (missing) or measurements per pixel (compressive).")
@click.option("--h0", default=0.01, show_default=True, type=float, help="First step size h_0.")
@click.option("--beta", default=0.1, show_default=True, type=float,
              help="Noise removed per step, in (0, 1]; 1 = deterministic.")
@click.option("--sigma0", default=1.0, show_default=True, type=float, help="Std of x_0.")
@click.option("--sigma-final", default=0.01, show_default=True, type=float,
              help="Stop when sigma_t <= this (the paper's figures use 0.05).")
@click.option("--mean", default=0.5, show_default=True, type=float, help="Mean of x_0.")
@click.option("--max-steps", default=1000, show_default=True, type=click.IntRange(min=1),
              help="Most iterations per image.")
@click.option("--floor-factor", default=2.0, show_default=True, type=float,
              help="Stop an image at the denoiser's noise floor when sigma_t sets no new minimum "
                   "while the schedule should have divided it by this factor.")
@click.option("--no-floor-stop", is_flag=True,
              help="Never stop at a noise floor (the paper's loop verbatim).")
@click.option("--batch-size", default=None, type=click.IntRange(min=1),
              help="Images per batch (default: all at once).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def command(model, out_dir, num, seed, size, compare, task, image, factor, fraction, h0, beta,
            sigma0, sigma_final, mean, max_steps, floor_factor, no_floor_stop, batch_size, quiet):
    """Sample MODEL.keras with stochastic coarse-to-fine gradient ascent (Kadkhodaie & Simoncelli).

    Example: gahb sample model.keras --num 16 --seed 0 --out samples/
    """
    from keras_gahb.sampling import run_sampling

    summary = run_sampling(
        out_dir, model, num=num, seed=seed, size=size, compare=compare, task=task, image=image,
        factor=factor, fraction=fraction, h0=h0, beta=beta, sigma0=sigma0,
        sigma_final=sigma_final, mean=mean, max_steps=max_steps,
        floor_factor=None if no_floor_stop else floor_factor, batch_size=batch_size,
        verbose=0 if quiet else 1,
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
            f"{c['mean_cosine_similarity_mean_removed']:.4f} "
            f"(plain cosine {c['mean_cosine_similarity']:.4f})"
        )
    if summary["num_diverged"]:
        click.echo(f"Warning: {summary['num_diverged']} samples diverged (see sigmas.json).", err=True)
    click.echo(f"Wrote {os.path.join(out_dir, '')}")
