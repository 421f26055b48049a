"""`gahb reproduce`: the paper's experiments end to end (the README's main job)."""

import click

from cli.common import parse_key_values

# Kept in step with keras_gahb.experiments (tested), so `gahb --help` needs no Keras import.
PART_NAMES = ("transition", "calpha", "discs", "gahb")
SCALE_NAMES = ("tiny", "quick", "medium", "paper")


@click.command("reproduce")
@click.argument("part", required=False, type=click.Choice(PART_NAMES + ("all",)), default="all")
@click.option("--scale", type=click.Choice(SCALE_NAMES), default="quick", show_default=True,
              help="quick: ~45 min on a shared 2-core CPU; medium: hours on a CPU; paper: GPU/TPU; "
                   "tiny: about a minute, numbers meaningless (tests).")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Run folder (default gahb_runs/reproduce_<scale>). Rerun to resume.")
@click.option("--only", default=None, metavar="N:SPLIT",
              help="Train only this transition model (e.g. 1000:s1), for cluster fan-out.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Override a ReproductionConfig field (JSON value), e.g. --set epochs=4.")
@click.option("--quiet", is_flag=True, help="No progress output.")
def command(part, scale, out, only, settings, quiet):
    """Reproduce the paper's experiments and write report.html, figures and summary.json.

    PART is one of transition, calpha, discs, gahb, or all (default).
    """
    from keras_gahb.experiments import reproduce

    out = out or f"gahb_runs/reproduce_{scale}"
    parts = None if part == "all" else [part]
    summary = reproduce(out, scale=scale, parts=parts, only=only, verbose=0 if quiet else 1,
                        **parse_key_values(settings, "--set"))
    if only:
        click.echo(f"Trained {only} in {out}. Run without --only to gather the report.")
        return
    for name, section in summary["parts"].items():
        for check in section["checks"]:
            mark = "PASS" if check["passed"] else "FAIL"
            click.echo(f"[{mark}] {name}: {check['claim']} ({check['value']})")
    click.echo(f"Report: {out}/report.html  Summary: {out}/summary.json "
               f"({summary['total_seconds']:.0f} s of work)")
