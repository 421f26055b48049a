"""`gahb models`: list the denoiser presets."""

import json

import click


@click.command("models")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--channels", default=1, show_default=True, type=click.IntRange(min=1),
              help="Image channels to count parameters for.")
def command(as_json, channels):
    """List presets with parameter counts and receptive fields."""
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
        click.echo(f"  {name:<30} {manifest['architecture']['preset']}, {data['dataset']} "
                   f"{data['image_size']}x{data['image_size']}: {manifest['description']}")
        click.echo(f"  {'':<30} test PSNR (dB) at sigma {psnr}")
