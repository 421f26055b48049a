"""`gahb reproduce`: the paper's experiments end to end (the README's main job)."""

import click

from cli.common import parse_key_values

# Kept in step with keras_gahb.experiments (tested), so `gahb --help` needs no Keras import.
PART_NAMES = ("transition", "calpha", "discs", "gahb")
SCALE_NAMES = ("tiny", "quick", "medium", "paper")


@click.command("reproduce")
@click.argument("part", required=False, type=click.Choice(PART_NAMES + ("all",)), default="all")
@click.option("--scale", type=click.Choice(SCALE_NAMES), default="quick", show_default=True,
              help="quick: 7-17 minutes on a 2-core CPU (docs/reproduce.md); medium: 50 minutes on a "
                   "2-core Zen 4, under 2 hours on a 2-core CPU; "
                   "paper: GPU/TPU; "
                   "tiny: about a minute, numbers meaningless (tests).")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Run folder (default gahb_runs/reproduce_<scale>). Rerun to resume.")
@click.option("--only", default=None, metavar="N:SPLIT[:REPLICATE]",
              help="Train only this transition model (e.g. 1000:s1, or 1000:s1:1 for the S1' "
                   "control), for cluster fan-out.")
@click.option("--seeds", default=None, metavar="S1,S2,...",
              help="Run once per master seed (in OUT/seed<S>) and write OUT/spread.md with the "
                   "spread of every number, e.g. --seeds 0,1,2.")
@click.option("--plan", "show_plan", is_flag=True,
              help="List every model of this scale (part, N, split, replicate, seed, folder) "
                   "and exit.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Override a ReproductionConfig field (JSON value), e.g. --set epochs=4 or "
                   "--set pairing=same_seed (an ablation).")
@click.option("--with", "with_", multiple=True, type=click.Choice(["extras"]),
              help="Also run an optional section: extras = beyond the paper (reference denoisers, "
                   "noise-level probes, Jacobian dimension) on the transition models.")
@click.option("--released", type=click.Path(), default=None, metavar="DIR",
              help="Analyze the authors' released 80x80 denoisers in DIR (their repository "
                   "clone with git lfs, or a folder with its denoisers/UNet layout) instead of "
                   "training: parts transition, calpha, gahb (docs/reproduce.md).")
@click.option("--parts", "parts_option", default=None, metavar="P1,P2",
              help="Parts to run, comma-separated (instead of PART), e.g. transition,gahb.")
@click.option("--n", "n_option", default=None, metavar="N1,N2",
              help="With --released: the face-model N to analyze, e.g. 1,99325 (default all).")
@click.option("--quiet", is_flag=True, help="No progress output.")
def command(part, scale, out, only, seeds, show_plan, settings, with_, released, parts_option,
            n_option, quiet):
    """Reproduce the paper's experiments and write report.html, figures and summary.json.

    PART is one of transition, calpha, discs, gahb, or all (default).
    """
    parts = None if part == "all" else [part]
    if parts_option:
        parts = [p.strip() for p in parts_option.split(",") if p.strip()]
    overrides = parse_key_values(settings, "--set")
    if released is not None:
        _released(released, out, parts, n_option, overrides, only or seeds or show_plan or with_,
                  quiet)
        return
    if n_option:
        raise click.UsageError("--n applies to --released only (use --set n_values=[...]).")
    from keras_gahb import experiments

    out = out or f"gahb_runs/reproduce_{scale}"
    if show_plan:
        config = experiments.config_for_scale(scale, **overrides)
        click.echo("part\tN\tsplit\treplicate\tseed\tfolder")
        for spec in experiments.plan(config, out):
            click.echo(f"{spec.part}\t{spec.n}\t{spec.split}\t{spec.replicate}\t{spec.seed}\t"
                       f"{spec.run_dir}")
        return
    if seeds:
        if only or with_:
            raise click.UsageError("--seeds cannot be combined with --only or --with.")
        try:
            seed_list = [int(s) for s in seeds.split(",") if s.strip()]
        except ValueError:
            raise click.UsageError(f"--seeds takes integers like 0,1,2, got {seeds!r}.") from None
        spread = experiments.reproduce_seeds(out, seeds=seed_list, scale=scale, parts=parts,
                                             verbose=0 if quiet else 1, **overrides)
        for claim, entry in spread["checks"].items():
            tally = (f"{entry['passed']}/{len(seed_list)} seeds pass" if entry["applicable"]
                     else "N/A")
            click.echo(f"[{tally}] {claim}: " + " / ".join(str(v) for v in entry["values"]))
        click.echo(f"Spread: {out}/spread.md  Reports: {out}/seed<S>/report.html")
        return
    summary = experiments.reproduce(out, scale=scale, parts=parts, only=only,
                                    verbose=0 if quiet else 1, extras="extras" in with_, **overrides)
    if only:
        click.echo(f"Trained {only} in {out}. Run without --only to gather the report.")
        return
    for name, section in summary["parts"].items():
        for check in section["checks"]:
            mark = "N/A" if check.get("applicable", True) is False else (
                "PASS" if check["passed"] else "FAIL")
            click.echo(f"[{mark}] {name}: {check['claim']} ({check['value']})")
    for check in summary.get("extras", {}).get("checks", []):
        click.echo(f"[{'PASS' if check['passed'] else 'FAIL'}] extras (beyond the paper): "
                   f"{check['claim']} ({check['value']})")
    click.echo(f"Report: {out}/report.html  Summary: {out}/summary.json "
               f"({summary['total_seconds']:.0f} s of work)")


def _released(released, out, parts, n_option, overrides, other_options, quiet):
    """`gahb reproduce --released DIR`: the paper's analysis of the authors' trained models."""
    if other_options:
        raise click.UsageError("--released cannot be combined with --only, --seeds, --plan or "
                               "--with.")
    n_values = None
    if n_option:
        try:
            n_values = [int(v.replace("_", "")) for v in n_option.split(",") if v.strip()]
        except ValueError:
            raise click.UsageError(f"--n takes integers like 1,99325, got {n_option!r}.") from None
    from keras_gahb import experiments

    out = out or "gahb_runs/reproduce_released"
    summary = experiments.reproduce(out, parts=parts, released=released, n=n_values,
                                    verbose=0 if quiet else 1, **overrides)
    for name, section in summary["parts"].items():
        for check in section["checks"]:
            mark = "N/A" if check.get("applicable", True) is False else (
                "PASS" if check["passed"] else "FAIL")
            click.echo(f"[{mark}] {name}: {check['claim']} ({check['value']})")
    click.echo(f"Report: {out}/report.html  Summary: {out}/summary.json "
               f"({summary['total_seconds']:.0f} s of work)")
