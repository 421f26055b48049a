"""`gahb data`: list, prepare and show datasets."""

import json
import os

import click

from cli.common import parse_key_values


def _parse_options(pairs):
    return parse_key_values(pairs, "--option")


_option = click.option(
    "--option", "-o", "options", multiple=True, metavar="KEY=VALUE",
    help="Dataset option, repeatable (e.g. -o alpha=3, -o path=DIR, -o data_dir=DIR).")


@click.group("data")
def command():
    """List, prepare and show datasets (synthetic, offline and tfds)."""


@command.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(as_json):
    """Name every dataset with its kind and options."""
    from keras_gahb.data import list_datasets

    rows = list_datasets()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        options = ", ".join(row["options"]) or "-"
        click.echo(f"{row['name']:<13} {row['kind']:<9} {row['description']}  [options: {options}]")


@command.command("prepare")
@click.argument("name")
@click.option("--size", required=True, type=click.IntRange(min=2), help="Image side.")
@click.option("--n", "n", required=True, type=click.IntRange(min=1), help="Number of images.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--channels", default=1, show_default=True, type=click.Choice(["1", "3"]))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--shard-size", default=10_000, show_default=True, type=click.IntRange(min=1))
@click.option("--dedup", default=None, type=click.FloatRange(-1, 1),
              help="Remove near duplicates above this correlation (paper: 0.95).")
@_option
@click.option("--quiet", is_flag=True, help="No progress bar.")
def prepare_command(name, size, n, seed, channels, out, shard_size, dedup, options, quiet):
    """Write NAME as .npz shards plus manifest.json (SHA-256 of every shard); resumable."""
    from keras_gahb.data import prepare_dataset

    complete = os.path.exists(os.path.join(out, "manifest.json"))
    manifest = prepare_dataset(out, name, n, size, seed=seed, channels=int(channels),
                               shard_size=shard_size, deduplicate=dedup, verbose=not quiet,
                               **_parse_options(options))
    counts = manifest["counts"]
    removed = f", {counts['removed_duplicates']} near duplicates removed" if dedup else ""
    done = ("already complete, nothing written" if complete else "manifest.json written")
    click.echo(f"{out}: {counts['written']} images {tuple(manifest['image_shape'])} in "
               f"{len(manifest['shards'])} shard(s){removed}; {done}.")


@command.command("show")
@click.argument("name")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="PNG file.")
@click.option("--n", "n", default=16, show_default=True, type=click.IntRange(min=1))
@click.option("--size", default=32, show_default=True, type=click.IntRange(min=2))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--channels", default=1, show_default=True, type=click.Choice(["1", "3"]))
@_option
def show_command(name, out, n, size, seed, channels, options):
    """Write a PNG grid of examples of NAME (a prepared folder: NAME=prepared -o path=DIR)."""
    from keras_gahb.data import save_examples

    images = save_examples(out, name, n=n, size=size, seed=seed, channels=int(channels),
                           **_parse_options(options))
    click.echo(f"Wrote {len(images)} {name} images ({size}x{size}) to {out}.")
