"""`gahb reproduce`: the paper's experiments end to end, resumable, with an HTML report."""

import os
import time

from keras_gahb.experiments.calpha import run_calpha
from keras_gahb.experiments.discs import run_discs
from keras_gahb.experiments.extras import load_extras_section, run_and_record_extras
from keras_gahb.experiments.gahb_basis import run_gahb
from keras_gahb.experiments.plan import transition_members
from keras_gahb.experiments.released import reproduce_released
from keras_gahb.experiments.report import counted, write_report
from keras_gahb.experiments.reproduction_config import PARTS, check_capacity, config_for_scale
from keras_gahb.experiments.transition import run_transition, train_transition_models
from keras_gahb import runs
from keras_gahb.backend.threads import configure_stacked_threads
from keras_gahb.data import get_images, list_datasets
from keras_gahb.models import check_preset
from keras_gahb.training.precision import check_precision
from keras_gahb.utils import atomic_write_json, read_json

_RUNNERS = {
    "transition": run_transition,
    "calpha": run_calpha,
    "discs": run_discs,
    "gahb": run_gahb,
}


def reproduce(run_dir=None, scale="quick", parts=None, only=None,
              verbose=1, extras=False, released=None, n=None, **overrides):
    """Run the paper's experiments and write report.html, figures and summary.json.

    Each finished part is recorded in `run_dir/parts/<part>.json` and every
    model in `run_dir/models/<name>/` (resumable), so an interrupted call
    continues where it stopped when run again with the same arguments.

    Args:
        run_dir: output folder. Defaults to "gahb_runs/reproduce" (with `released`:
            "gahb_runs/reproduce_released").
        scale: "quick" (default: minutes on a laptop CPU), "medium" (50 minutes on a
            2-core Zen 4 CPU, under 2 hours on 2 cores), "paper" (GPU/TPU), or "tiny" (seconds, for tests).
        parts: None (all) or a list of "transition", "calpha", "discs", "gahb".
        only: None, or (n, "s1"|"s2"[, replicate]) or "N:SPLIT[:REPLICATE]":
            train only that transition model and return (to fan the N sweep
            out over a cluster; replicate 1 of s1 is the S1' control; a later
            call without `only` gathers everything into the report).
            `keras_gahb.experiments.plan(config)` lists every model.
        verbose: 0 silent, 1 progress lines.
        extras: also run the "beyond the paper" section (`keras_gahb.experiments.extras`:
            reference denoisers, noise-level probes, Jacobian dimension) on the
            transition models, after the parts. Default False (it adds minutes).
        released: None, or the authors' repository clone (or a folder with its
            denoisers/UNet layout): analyze their released 80x80 denoisers instead of training
            (`keras_gahb.experiments.released.reproduce_released`; `scale`, `only` and `extras`
            do not apply, `parts` is of "transition", "calpha", "gahb").
        n: with `released`, the face-model N to analyze (default all six).
        **overrides: fields of `ReproductionConfig` replacing the scale's (with `released`:
            of `ReleasedConfig`).

    Returns:
        The summary dict (also written to `run_dir/summary.json`).

    Example:

    >>> summary = keras_gahb.experiments.reproduce("runs/tiny", scale="tiny")
    >>> summary["parts"]["transition"]["checks"]
    """
    if released is not None:
        if only is not None or extras:
            raise ValueError("`only` and `extras` do not apply to the released models.")
        return reproduce_released(released, run_dir or "gahb_runs/reproduce_released",
                                  parts=parts, n_values=n, verbose=verbose, **overrides)
    run_dir = run_dir or "gahb_runs/reproduce"
    config = config_for_scale(scale, **overrides)
    if config.stack and only is None:
        # Before TensorFlow runs its first op: one thread per op, the stacked models at once.
        configure_stacked_threads(len(transition_members(config)))
    parts = list(PARTS) if not parts else list(parts)
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise ValueError(f"Unknown part(s) {', '.join(unknown)}. Valid parts: {', '.join(PARTS)}.")
    if "transition" in parts or "gahb" in parts or only is not None:
        check_capacity(config)
    # Checked before the run folder is written, so a typo never leaves a config behind.
    check_preset(config.preset, image_size=config.image_size, **dict(config.model_overrides))
    if config.dataset not in {row["name"] for row in list_datasets()}:
        get_images(config.dataset, 1, config.image_size)  # raises, listing the valid names
    check_precision(config.precision)  # before any folder is written or model trained
    if only is not None:  # cluster jobs share the folder: each model folder is locked on its own
        n, split, replicate = _parse_only(only, config)
        os.makedirs(os.path.join(run_dir, "parts"), exist_ok=True)
        check_or_write_config(run_dir, config)
        train_transition_models(config, run_dir, only=(n, split, replicate), verbose=verbose)
        return {"trained": {"n": n, "split": split, "replicate": replicate}, "run_dir": run_dir}
    with runs.RunLock(run_dir, verbose=verbose):
        os.makedirs(os.path.join(run_dir, "parts"), exist_ok=True)
        check_or_write_config(run_dir, config)
        return _run_parts(run_dir, config, parts, extras, verbose)


def _run_parts(run_dir, config, parts, extras, verbose):
    for part in parts:
        path = os.path.join(run_dir, "parts", f"{part}.json")
        if os.path.exists(path):
            if verbose:
                print(f"[reproduce] {part}: already done ({path})", flush=True)
            continue
        if verbose:
            print(f"[reproduce] {part}: running", flush=True)
        start = time.time()
        section = _RUNNERS[part](config, run_dir, verbose=verbose)
        section["seconds"] = round(time.time() - start, 1)
        section["figures"] = [
            {**fig, "path": os.path.relpath(fig["path"], run_dir)} for fig in section["figures"]
        ]
        atomic_write_json(path, section)
        if verbose:
            print(f"[reproduce] {part}: done in {section['seconds']:.0f} s", flush=True)
    if extras:
        run_and_record_extras(config, run_dir, verbose=verbose)
    return write_outputs(run_dir, config)


def write_outputs(run_dir, config):
    """Gather the finished parts into summary.json and report.html."""
    sections = []
    for part in PARTS:
        path = os.path.join(run_dir, "parts", f"{part}.json")
        if os.path.exists(path):
            section = read_json(path)
            section["figures"] = [
                {**fig, "path": os.path.join(run_dir, fig["path"])} for fig in section["figures"]
            ]
            sections.append(section)
    summary = {
        "scale": config.scale,
        "master_seed": config.seed,
        "pairing": config.pairing,
        "control": config.control,
        "run_dir": os.path.abspath(run_dir),
        "parts": {
            s["id"]: {
                "seconds": s.get("seconds"),
                "checks": s.get("checks", []),
                "numbers": s.get("numbers", {}),
            }
            for s in sections
        },
        # Checks marked "applicable": False are information (N/A), not part of the verdict.
        "all_checks_passed": all(c["passed"] for s in sections for c in s.get("checks", [])
                                 if counted(c)),
        "total_seconds": round(sum(s.get("seconds") or 0 for s in sections), 1),
        "recipes": model_recipes(run_dir),
    }
    extras = load_extras_section(run_dir)  # beyond the paper: not in all_checks_passed
    if extras is not None:
        summary["extras"] = {"seconds": extras.get("seconds"), "checks": extras["checks"],
                             "numbers": extras["numbers"]}
    atomic_write_json(os.path.join(run_dir, "summary.json"), summary)
    intro = {
        "id": "about",
        "title": "About this run",
        "paragraphs": _scaled_down_notes(config) + [_recipe_note(config, summary["recipes"])],
        "figures": [],
    }
    write_report(
        os.path.join(run_dir, "report.html"),
        "Generalization in diffusion models arises from geometry-adaptive harmonic "
        f"representations: reproduction ({config.scale} scale)",
        [intro] + sections + ([{**extras, "in_verdict": False}] if extras is not None else []),
        summary,
        config=config.to_dict(),
    )
    return summary


def model_recipes(run_dir):
    """{recipe label: [model folder names]} read from each model's config.json."""
    from keras_gahb.training.train_config import TrainConfig

    models = os.path.join(run_dir, "models")
    found = {}
    for name in sorted(os.listdir(models)) if os.path.isdir(models) else []:
        record = runs.read_config(os.path.join(models, name))
        if record is None:
            continue
        options = {key: value for key, value in record.get("config", {}).items()
                   if key in TrainConfig.keys() or key == "noise"}
        base = TrainConfig.defaults()
        if "noise" in options:  # written before recipes: `noise` is its sigma_distribution
            base.pop("sigma_distribution")
        try:
            label = TrainConfig.from_dict({**base, **options}).recipe_label()
        except ValueError:
            label = "unreadable config.json"
        found.setdefault(label, []).append(name)
    return found


def _recipe_note(config, recipes):
    images = (f"training images seen per model: transition {config.images_per_model:,}, "
              f"C^alpha {config.calpha_images_per_model:,}, discs "
              f"{config.discs_images_per_model:,}")
    if not recipes:
        return (f"Training recipes: transition {config.recipe_label('transition')}, C^alpha and "
                f"discs {config.recipe_label()}; {images}.")
    if len(recipes) == 1:
        return (f"Every model was trained with the recipe {next(iter(recipes))} (read from each "
                f"model's config.json); {images}.")
    parts = "; ".join(f"{label}: {', '.join(names)}" for label, names in recipes.items())
    return f"Training recipes, per model (from each model's config.json): {parts}; {images}."


def _scaled_down_notes(config):
    notes = [
        "Reproduction of Kadkhodaie, Guth, Simoncelli, Mallat (ICLR 2024, "
        '<a href="https://arxiv.org/abs/2310.02557">arXiv 2310.02557</a>) with keras_gahb. '
        "Each section lists the paper's claim, the numbers measured here and a PASS/FAIL check "
        "(N/A: information, not a check, outside the verdict).",
    ]
    if config.scale != "paper":
        notes.append(
            f"Scaled down from the paper: {config.dataset} images at {config.image_size}x"
            f"{config.image_size} instead of CelebA faces at 80x80; preset <code>{config.preset}"
            f"</code> instead of <code>unet_rf90</code>; N in {list(config.n_values)} instead of "
            f"1 to 100,000; {config.images_per_model:,} training images seen per model instead "
            "of 250 million (1,000 epochs of 250,000); Adam with a learning rate decayed to 0 "
            "(cosine) and an average of the weights instead of halving every 100 epochs, "
            "because optimization noise must be driven down for the data to show on a small budget; "
            f"{config.num_samples} samples per model; sampler stopping at sigma = "
            f"{config.sampler.get('sigma_final')}."
        )
    notes.append(
        "Similarity between images is the correlation (mean-removed cosine): the plain cosine of "
        "two non-negative images is close to 1 for almost any pair and proves nothing. "
        + ("Every model has its own seed for its initial weights and its noise stream, derived "
           f"from the master seed {config.seed} and (part, N, split, replicate), as two separate "
           "training runs of the paper are; "
           if config.pairing == "independent" else
           f"ABLATION (pairing=same_seed): S1 and S2 share the master seed {config.seed} (same "
           "initial weights and noise stream), which understates the optimization noise; ")
        + ("a control S1' (S1 trained again with another seed) per N measures the "
           "optimization-noise floor of every S1-vs-S2 number." if config.control else
           "no S1' control was trained (control=false), so the S1-vs-S1' columns are empty.")
    )
    return notes


#: Settings that change how the models are computed, not what they are: a run may resume with
#: other values.
EXECUTION_OPTIONS = ("stack",)


def check_or_write_config(run_dir, config):
    """Check the reproduction's settings against `run_dir/config.json`, or write them there.

    `keras_gahb.runs.prepare` with the reproduction's rules: `EXECUTION_OPTIONS`
    may differ; other settings replace the old ones while the folder holds no
    finished part or model epoch, and are refused once it does.
    """
    runs.prepare(run_dir, config.to_dict(), ignore=EXECUTION_OPTIONS, holds_results=_holds_results,
                 what="a reproduction",
                 advice="Use another --out folder, or the same scale and options to resume.")


def _holds_results(run_dir):
    """Whether `run_dir` holds a finished part or a model with a finished epoch."""
    parts = os.path.join(run_dir, "parts")
    if os.path.isdir(parts) and any(name.endswith(".json") for name in os.listdir(parts)):
        return True
    models = os.path.join(run_dir, "models")
    return os.path.isdir(models) and any(
        runs.holds_training(os.path.join(models, name)) for name in os.listdir(models))


def _parse_only(only, config):
    if isinstance(only, str):
        try:
            fields = only.split(":")
            if len(fields) not in (2, 3):
                raise ValueError
            only = (int(fields[0]), fields[1].lower()) + tuple(int(f) for f in fields[2:])
        except ValueError:
            raise ValueError(
                f"--only takes N:SPLIT[:REPLICATE] such as 1000:s1 or 1000:s1:1 (the S1' "
                f"control), got {only!r}.") from None
    n, split, replicate = (tuple(only) + (0,))[:3]
    members = transition_members(config)
    if n not in config.n_values or (split, replicate) not in members:
        valid = ", ".join(f"{s}:{r}" if r else s for s, r in members)
        raise ValueError(
            f"--only {n}:{split}:{replicate} is not a model of this scale: N must be one of "
            f"{list(config.n_values)} and SPLIT[:REPLICATE] one of {valid}."
        )
    return n, split, replicate
