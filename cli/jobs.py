"""`gahb jobs`: the training jobs of a reproduction, one line per model, for a scheduler."""

import json

import click

from cli.common import parse_key_values
from cli.reproduce import SCALE_NAMES


@click.command("jobs")
@click.option("--scale", type=click.Choice(SCALE_NAMES), default="quick", show_default=True,
              help="The reproduction's scale (as gahb reproduce).")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Shared run folder (default gahb_runs/reproduce_<scale>).")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Override a ReproductionConfig field (JSON value), as gahb reproduce.")
@click.option("--index", type=click.IntRange(min=0), default=None,
              help="Print only the command of job INDEX (e.g. $SLURM_ARRAY_TASK_ID).")
@click.option("--check", is_flag=True,
              help="Show each job's state (missing, running, finished); exit 1 if a model "
                   "folder holds other settings than this run.")
@click.option("--json", "as_json", is_flag=True, help="Print the jobs as JSON.")
def command(scale, out, settings, index, check, as_json):
    """List the jobs that train a reproduction's models (one per model, with its seed).

    Each line: INDEX NAME seed=SEED COMMAND. Run the commands anywhere that sees OUT
    (a Slurm job array, one pod per job), then `gahb reproduce --scale SCALE --out OUT`
    gathers the report.
    """
    from keras_gahb.experiments import check_jobs, format_jobs, list_jobs

    overrides = parse_key_values(settings, "--set")
    jobs = list_jobs(out, scale=scale, **overrides)
    if index is not None:
        if index >= len(jobs):
            raise click.BadParameter(f"the {scale} scale has jobs 0 to {len(jobs) - 1}, "
                                     f"got {index}", param_hint="--index")
        click.echo(jobs[index]["command"])
        return
    if check:
        for job, status in check_jobs(out, scale=scale, **overrides):
            click.echo(f"{job['index']}\t{job['name']}\t{status}")
        return
    click.echo(json.dumps(jobs, indent=2) if as_json else format_jobs(jobs))
