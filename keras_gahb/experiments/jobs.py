"""The training jobs of a reproduction, one per model, for a scheduler to fan out.

`gahb reproduce --only N:SPLIT[:REPLICATE]` trains one model of the transition sweep; a
sweep on a cluster runs one such job per model (a Slurm job array, one pod
per job) into a shared run folder, then one `gahb reproduce` without `--only`
gathers the report. This module lists those jobs and checks, before
gathering, that every model folder was trained with the run's settings.
"""

import os
import shlex

from keras_gahb import runs
from keras_gahb.experiments.plan import plan
from keras_gahb.experiments.reproduction_config import config_for_scale

# The options of each model's training run that come from the reproduction's
# configuration (keras_gahb.experiments.trained_models.train_model).
_MODEL_OPTIONS = {
    "image_size": "image_size",
    "preset": "preset",
    "model_overrides": "model_overrides",
    "epochs": "epochs",
    "batch_size": "batch_size",
    "lr": "learning_rate",
    "schedule": "schedule",
    "precision": "precision",
}


def list_jobs(run_dir=None, scale="quick", **overrides):
    """One job per model of the transition sweep of `scale`: its name, N, split, seed, command.

    The models and seeds are those of `keras_gahb.experiments.plan` (S1, S2
    and the S1' control per N, each with its own seed), so a job trains
    exactly the model that `gahb reproduce` would.

    Args:
        run_dir: the shared run folder. Defaults to gahb_runs/reproduce_<scale>
            (as `gahb reproduce`).
        scale: "tiny", "quick", "medium" or "paper". Defaults to "quick".
        **overrides: `ReproductionConfig` fields, passed on as `--set KEY=VALUE`.

    Returns:
        A list of dicts with keys index, name, n, split, replicate, seed,
        model_dir and command (the `gahb reproduce transition --only
        N:SPLIT[:REPLICATE]` line that trains the model; the same `--scale`,
        `--out` and `--set` for every job).

    Example:

    >>> jobs = keras_gahb.experiments.list_jobs("runs/tiny", scale="tiny")
    >>> jobs[0]["command"]
    'gahb reproduce transition --scale tiny --out runs/tiny --only 2:s1'
    """
    config = config_for_scale(scale, **overrides)
    run_dir = os.fspath(run_dir or f"gahb_runs/reproduce_{scale}")
    settings = "".join(f" --set {shlex.quote(f'{key}={_json(value)}')}"
                       for key, value in sorted(overrides.items()))
    jobs = []
    for spec in plan(config, run_dir):
        if spec.part != "transition":
            continue
        only = f"{spec.n}:{spec.split}" + (f":{spec.replicate}" if spec.replicate else "")
        jobs.append({
            "index": len(jobs),
            "name": os.path.basename(spec.run_dir),
            "n": spec.n,
            "split": spec.split,
            "replicate": spec.replicate,
            "seed": spec.seed,
            "model_dir": spec.run_dir,
            "command": (f"gahb reproduce transition --scale {scale} "
                        f"--out {shlex.quote(run_dir)} --only {only}{settings}"),
        })
    return jobs


def format_jobs(jobs):
    """The job list as text: one line per job (index, name, seed, command)."""
    return "\n".join(
        f"{job['index']}\t{job['name']}\tseed={job['seed']}\t{job['command']}" for job in jobs
    )


def check_jobs(run_dir=None, scale="quick", **overrides):
    """The state of every job's model folder; a ValueError if one was trained otherwise.

    Reads each model's config.json and state.json. A model whose recorded
    options (preset, epochs, batch size, learning rate, seed, ...) differ
    from what this run would train raises a ValueError naming the models and
    the differences: gathering must not mix models of different runs.

    Returns:
        A list of (job, status) with status "missing", "running (epoch k/E)"
        or "finished".

    Example:

    >>> keras_gahb.experiments.check_jobs("runs/tiny", scale="tiny")
    """
    config = config_for_scale(scale, **overrides)
    jobs = list_jobs(run_dir, scale, **overrides)
    statuses, wrong = [], []
    for job in jobs:
        record = runs.read_config(job["model_dir"])
        if record is None:
            statuses.append((job, "missing"))
            continue
        saved = record.get("config", {})
        expected = {option: getattr(config, field) for option, field in _MODEL_OPTIONS.items()}
        expected.update(config.training_recipe())
        expected["seed"] = job["seed"]
        differences = [
            f"{key}: {saved.get(key)!r} there, {_plain(value)!r} in this run"
            for key, value in expected.items() if saved.get(key) != _plain(value)
        ]
        if differences:
            wrong.append(f"{job['name']} ({'; '.join(differences)})")
            continue
        state = runs.read_state(job["model_dir"]) or {}
        if state.get("status") == "finished":
            statuses.append((job, "finished"))
            continue
        holder = runs.lock_holder(job["model_dir"])
        by = f", process {holder.get('pid')} on {holder.get('host', '?')}" if holder else ""
        statuses.append((job, f"running (epoch {state.get('epoch', 0)}/{config.epochs}{by})"))
    if wrong:
        raise ValueError(
            f"Model folders in {os.path.dirname(jobs[0]['model_dir'])} were trained with other "
            f"settings than this run: {', '.join(wrong)}. Train them again with this run's "
            "commands (gahb jobs) into a new --out folder, or gather with the settings they used."
        )
    return statuses


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def _json(value):
    import json

    return json.dumps(_plain(value))
