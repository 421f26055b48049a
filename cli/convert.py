"""`gahb convert`: turn an authors' PyTorch checkpoint into a .keras model."""

import click


@click.command("convert")
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.argument("output", type=click.Path(dir_okay=False))
@click.option(
    "--first-layer-linear/--first-layer-relu",
    "first_layer_linear",
    default=None,
    help="BF-CNN only: no ReLU after the first conv (the authors' loader default) "
    "or a ReLU (their training script).",
)
def command(checkpoint, output, first_layer_linear):
    """Convert CHECKPOINT (.pt state dict of the authors' UNet or BF-CNN) to OUTPUT (.keras).

    The file is read with torch.load(weights_only=True), which never runs code
    from it. The saved model returns the denoised image y - net(y).
    """
    from keras_gahb.models.official_checkpoint import (
        inspect_official_checkpoint,
        load_official_checkpoint,
    )
    from keras_gahb.utils import save_model_atomic

    if not output.endswith(".keras"):
        raise click.BadParameter(f"must end in .keras, got {output}", param_hint="OUTPUT")
    relu = None if first_layer_linear is None else not first_layer_linear
    info = inspect_official_checkpoint(checkpoint)
    model = load_official_checkpoint(checkpoint, first_layer_relu=relu)
    save_model_atomic(model, output)
    config = ", ".join(f"{key}={value}" for key, value in info["config"].items())
    if info["class"] == "BFCNN":
        config += f", first_layer_relu={model.first_layer_relu}"
    click.echo(
        f"{info['class']}({config}): {info['num_tensors']} tensors, "
        f"{info['trainable_params']:,} trainable parameters"
        f"{', prefix ' + repr(info['prefix']) + ' removed' if info['prefix'] else ''}, "
        f"receptive field {model.receptive_field}."
    )
    click.echo(f"Saved {output} (returns the denoised image y - net(y)).")
