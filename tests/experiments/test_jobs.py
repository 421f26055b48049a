"""`gahb jobs`: one job per model of a scale, and the check that refuses foreign model folders."""

import os

import pytest
from click.testing import CliRunner

from cli.main import gahb
from keras_gahb.experiments import check_jobs, config_for_scale, list_jobs, plan
from keras_gahb.utils import atomic_write_json


def test_one_job_per_model_with_the_reproduce_command(tmp_path):
    out = str(tmp_path / "run")
    config = config_for_scale("tiny")
    jobs = list_jobs(out, scale="tiny", epochs=2)
    # S1, S2 and the S1' control per N, with the seeds and folders reproduce trains them with
    assert [(j["n"], j["split"], j["replicate"]) for j in jobs] == [
        (n, s, r) for n in config.n_values for s, r in (("s1", 0), ("s2", 0), ("s1", 1))]
    assert [j["index"] for j in jobs] == list(range(3 * len(config.n_values)))
    transition = [m for m in plan(config_for_scale("tiny", epochs=2), out)
                  if m.part == "transition"]
    assert [(j["seed"], j["model_dir"]) for j in jobs] == [(m.seed, m.run_dir)
                                                           for m in transition]
    assert len({j["seed"] for j in jobs}) == len(jobs)  # independent models
    assert jobs[1]["command"] == (f"gahb reproduce transition --scale tiny --out {out} "
                                  "--only 2:s2 --set epochs=2")
    assert jobs[2]["command"].endswith("--only 2:s1:1 --set epochs=2")
    assert jobs[1]["model_dir"] == os.path.join(out, "models", "transition_n2_s2")


def test_cli_prints_the_list_and_one_command_by_index(tmp_path):
    out = str(tmp_path / "run")
    result = CliRunner().invoke(gahb, ["jobs", "--scale", "tiny", "--out", out])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    jobs = list_jobs(out, scale="tiny")
    assert len(lines) == 6 and lines[3].startswith(
        f"3\ttransition_n16_s1\tseed={jobs[3]['seed']}\tgahb reproduce")
    result = CliRunner().invoke(gahb, ["jobs", "--scale", "tiny", "--out", out, "--index", "3"])
    assert result.output.strip() == jobs[3]["command"]
    result = CliRunner().invoke(gahb, ["jobs", "--scale", "tiny", "--index", "6"])
    assert result.exit_code != 0 and "jobs 0 to 5" in result.output


def _record(job, config, **changes):
    options = {"image_size": config.image_size, "preset": config.preset,
               "model_overrides": dict(config.model_overrides), "epochs": config.epochs,
               "batch_size": config.batch_size, **config.training_recipe(),
               "lr": config.learning_rate, "schedule": config.schedule,
               "precision": config.precision, "seed": job["seed"], **changes}
    os.makedirs(job["model_dir"], exist_ok=True)
    atomic_write_json(os.path.join(job["model_dir"], "config.json"), {"config": options})


def test_check_reports_states_and_refuses_models_trained_otherwise(tmp_path):
    out = str(tmp_path / "run")
    config = config_for_scale("tiny")
    jobs = list_jobs(out, scale="tiny")
    _record(jobs[0], config)
    atomic_write_json(os.path.join(jobs[0]["model_dir"], "state.json"),
                      {"status": "finished", "epoch": config.epochs})
    _record(jobs[1], config)
    statuses = [status for _, status in check_jobs(out, scale="tiny")]
    assert statuses == ["finished", f"running (epoch 0/{config.epochs})"] + ["missing"] * 4
    _record(jobs[3], config, seed=jobs[3]["seed"] + 1, lr=0.5)
    with pytest.raises(ValueError, match=rf"transition_n16_s1 \(lr: 0.5 there.*"
                                         rf"seed: {jobs[3]['seed'] + 1} there"):
        check_jobs(out, scale="tiny")
    result = CliRunner().invoke(gahb, ["jobs", "--scale", "tiny", "--out", out, "--check"])
    assert result.exit_code != 0 and "other settings" in result.output
    assert len(result.output.strip().splitlines()) == 1  # one line, no traceback
