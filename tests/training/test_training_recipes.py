"""Training recipes: TrainConfig's recipe fields, and every training path honours the loss weight."""

import os

import keras
import numpy as np
import pytest

from keras_gahb.data import loss_weights
from keras_gahb.data import noise as data_noise
from keras_gahb.training import TrainConfig, train, train_stacked
from keras_gahb.training import train_config as config_module
from tests.training.test_train_stacked import OPTIONS, _images, _losses


def test_named_recipes_resolve_and_overrides_win():
    paper = TrainConfig()
    assert (paper.recipe, paper.sigma_distribution, paper.sigma_min, paper.loss_weight) == (
        "paper", "quadratic", 0.0, "none")
    cpu = TrainConfig(recipe="cpu")
    assert (cpu.sigma_distribution, cpu.sigma_min, cpu.loss_weight) == (
        "log_uniform", 0.005, "inverse_sigma")
    assert cpu.recipe_label() == "cpu (log_uniform sigma in [0.005, 1], loss weight inverse_sigma)"
    mixed = TrainConfig(recipe="cpu", loss_weight="edm", sigma_data=0.3)
    assert mixed.sigma_distribution == "log_uniform" and mixed.loss_weight == "edm"
    assert "loss_weight changed" in mixed.recipe_label() and "sigma_data 0.3" in mixed.recipe_label()
    # The resolved config round-trips; the older key `noise` means sigma_distribution.
    assert TrainConfig.from_dict(cpu.to_dict()) == cpu
    assert TrainConfig.from_dict({"noise": "mixture"}).sigma_distribution == "mixture"
    assert TrainConfig.from_dict({"noise": 0.1}).sigma_distribution == 0.1
    # The CLI's stdlib copy of the names agrees with the data module's.
    assert config_module.LOSS_WEIGHTS == data_noise.LOSS_WEIGHTS
    assert config_module.NOISES == data_noise.SIGMA_DISTRIBUTIONS
    assert TrainConfig(recipe="cpu", warmup_steps=5).warmup_steps == 5


@pytest.mark.parametrize("options, match", [
    ({"recipe": "gpu"}, "recipe must be one of"),
    ({"loss_weight": "inverse_cube"}, "loss_weight must be one of"),
    ({"sigma_distribution": "cubic"}, "sigma_distribution must be one of"),
    ({"sigma_distribution": "log_uniform", "sigma_min": 0.0}, "needs sigma_min > 0"),
    ({"sigma_distribution": "log_uniform", "sigma_min": 2.0}, "must be below sigma_max"),
    ({"sigma_data": 0}, "sigma_data must be >"),
    ({"warmup_steps": 3, "schedule": "paper"}, "warmup_steps needs"),
    ({"noise": "quadratic", "sigma_distribution": "quadratic"}, "not both"),
])
def test_bad_recipe_options(options, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig.from_dict(options)


@pytest.mark.slow
def test_stacked_training_with_a_loss_weight_equals_separate_training(tmp_path):
    s1, s2, test = _images()
    options = dict(OPTIONS, recipe="cpu")
    per_model = [{"seed": 0}, {"seed": 3}]
    alone = [train(str(tmp_path / f"alone{i}"), train_images=x, test_images=test, verbose=0,
                   **options, **extra) for i, (x, extra) in enumerate(zip((s1, s2), per_model))]
    stacked = train_stacked([str(tmp_path / "st0"), str(tmp_path / "st1")], [s1, s2], test,
                            per_model=per_model, verbose=0, **options)
    probe = np.random.default_rng(2).uniform(0, 1, (3, 8, 8, 1)).astype("float32")
    for one, many in zip(alone, stacked):
        np.testing.assert_allclose(_losses(many.run_dir), _losses(one.run_dir), rtol=1e-4)
        a = keras.saving.load_model(one.model_path).predict(probe, verbose=0)
        b = keras.saving.load_model(many.model_path).predict(probe, verbose=0)
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
    # The weight is really applied: the same stacked run without it trains otherwise, and its
    # loss is the plain MSE (smaller than the 1/sigma-weighted one, weights >= 1).
    plain = train_stacked([str(tmp_path / "p0"), str(tmp_path / "p1")], [s1, s2], test,
                          per_model=per_model, verbose=0, **dict(options, loss_weight="none"))
    for weighted, unweighted in zip(stacked, plain):
        assert (_losses(weighted.run_dir) > 1.5 * _losses(unweighted.run_dir)).all()
    config = TrainConfig.from_dict(options)
    assert loss_weights([config.sigma_max], config.loss_weight)[0] == pytest.approx(1.0)


def test_train_records_the_recipe_and_an_old_config_resumes(tmp_path):
    import json

    s1, _, test = _images()
    options = dict(OPTIONS, epochs=1)
    result = train(str(tmp_path / "run"), train_images=s1, test_images=test, verbose=0,
                   recipe="cpu", **options)
    saved = json.load(open(os.path.join(result.run_dir, "config.json")))["config"]
    assert (saved["recipe"], saved["sigma_distribution"], saved["loss_weight"]) == (
        "cpu", "log_uniform", "inverse_sigma")
    # A config.json written before recipes existed (key `noise`, no recipe keys) is the paper's
    # recipe: the same options find the run finished, another recipe is refused.
    old = train(str(tmp_path / "old"), train_images=s1, test_images=test, verbose=0, **options)
    path = os.path.join(old.run_dir, "config.json")
    record = json.load(open(path))
    for key in ("recipe", "sigma_distribution", "sigma_min", "loss_weight", "sigma_data",
                "warmup_steps"):
        record["config"].pop(key)
    record["config"]["noise"] = "quadratic"
    json.dump(record, open(path, "w"))
    again = train(old.run_dir, train_images=s1, test_images=test, verbose=0, **options)
    assert again.already_finished
    with pytest.raises(ValueError, match="loss_weight"):
        train(old.run_dir, train_images=s1, test_images=test, verbose=0, recipe="cpu", **options)


def _cli(args):
    from click.testing import CliRunner

    from cli.main import gahb

    return CliRunner().invoke(gahb, ["train", *args])


def test_cli_recipe_flags_resolve(tmp_path):
    import json

    out = _cli(["--recipe", "cpu", "--print-config", "--out", str(tmp_path / "o")])
    assert out.exit_code == 0, out.output
    config = json.loads(out.output)
    assert (config["recipe"], config["sigma_distribution"], config["loss_weight"]) == (
        "cpu", "log_uniform", "inverse_sigma")
    out = _cli(["--recipe", "cpu", "--loss-weight", "edm", "--sigma-distribution", "mixture",
                "--sigma-min", "0.01", "--warmup-steps", "10", "--print-config"])
    config = json.loads(out.output)
    assert (config["sigma_distribution"], config["sigma_min"], config["loss_weight"],
            config["warmup_steps"]) == ("mixture", 0.01, "edm", 10)
    assert json.loads(_cli(["--noise", "0.2", "--print-config"]).output)[
        "sigma_distribution"] == 0.2


@pytest.mark.parametrize("args, fragment", [
    (["--recipe", "gpu"], "--recipe"),
    (["--loss-weight", "cube"], "--loss-weight"),
    (["--sigma-distribution", "cubic"], "--sigma-distribution"),
    (["--sigma-distribution", "log_uniform", "--sigma-min", "0"], "needs sigma_min > 0"),
    (["--warmup-steps", "5", "--schedule", "paper"], "warmup_steps needs"),
])
def test_cli_bad_recipe_values_are_one_error_line(tmp_path, args, fragment):
    result = _cli([*args, "--out", str(tmp_path / "o"), "--print-config"])
    assert result.exit_code in (1, 2) and isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and fragment in result.output, result.output
    assert sum(line.startswith("Error") for line in result.output.splitlines()) == 1
    assert not os.path.exists(tmp_path / "o")
