"""`gahb models`: list the denoiser presets (and those with shipped weights); export one."""

import json

import click


@click.group("models", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--channels", default=1, show_default=True, type=click.IntRange(min=1),
              help="Image channels to count parameters for.")
@click.pass_context
def command(ctx, as_json, channels):
    """List presets with parameter counts and receptive fields, and those with weights.

    Example: gahb models

    Example: gahb models export runs/medium/models/calpha_2 calpha2_medium --description "..."
    """
    if ctx.invoked_subcommand is not None:
        return
    from keras_gahb.models import describe_presets, pretrained_presets

    rows = describe_presets(image_channels=channels)
    shipped = pretrained_presets()
    if as_json:
        rows = [{**row, "weights": False} for row in rows] + [
            {"name": name, "weights": True, "manifest": manifest}
            for name, manifest in shipped.items()]
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'preset':<12} {'class':<13} {'params':>12} {'paper':>12} {'RF':>4}  description")
    for row in rows:
        paper = f"{row['paper_params']:,}" if row["paper_params"] else "-"
        click.echo(
            f"{row['name']:<12} {row['class']:<13} {row['params']:>12,} {paper:>12} "
            f"{row['receptive_field']:>4}  {row['description']}"
        )
    if not shipped:
        return
    click.echo("")
    click.echo("With shipped weights (keras_gahb.models.from_preset(NAME, weights=True); "
               "gahb sample --preset NAME):")
    for name, manifest in shipped.items():
        data, test = manifest["data"], manifest["test"]
        psnr = ", ".join(f"{s:g}: {p:.1f}" for s, p in zip(test["sigmas"], test["psnr"]))
        arch = manifest["architecture"]
        width = arch.get("overrides", {}).get("base_channels")
        click.echo(f"  {name:<28} {arch['preset']}"
                   + (f" ({width} base channels)" if width else "") + f", {data['dataset']} "
                   f"{data['image_size']}x{data['image_size']}: {manifest['description']}")
        click.echo(f"  {'':<28} test PSNR (dB) at sigma {psnr}")


@command.command("export")
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("name")
@click.option("--description", default="", help="One line shown by `gahb models`.")
@click.option("--retrain", "retrain_command", default="",
              help="The exact command that retrains it (stored in the manifest).")
@click.option("--out", "root", type=click.Path(file_okay=False), default=None,
              help="Folder of the presets (default: the package's, which ships them).")
def export(model_dir, name, description, retrain_command, root):
    """Write MODEL_DIR (a finished run folder) as the preset NAME with its weights.

    The manifest records the data (from split.json), the architecture and recipe (from
    config.json), the test PSNRs measured now on images regenerated from a seed, and, for a
    reproduction's model, its part's verdicts and the report's sampler settings.
    """
    from keras_gahb.experiments.export import export_from_run

    try:
        manifest = export_from_run(model_dir, name, description=description,
                                   command=retrain_command, root=root)
    except (FileNotFoundError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    test = manifest["test"]
    click.echo(f"Wrote preset {name}: test PSNR (dB) "
               + ", ".join(f"{s:g}: {p:.2f}" for s, p in zip(test["sigmas"], test["psnr"])))
