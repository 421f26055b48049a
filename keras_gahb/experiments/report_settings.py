"""How a reproduction's report sampled its models, so that `gahb sample` can do the same."""

import os

from keras_gahb.utils import read_json

#: The transition part samples every model from the seed `config.seed + SAMPLE_SEED_OFFSET`
#: (the same seed for S1, S2 and S1': same x_0 and z_t).
SAMPLE_SEED_OFFSET = 7


def reproduction_folder(model):
    """The reproduction run folder that holds `model` (a model.keras or a model folder), or None.

    A reproduction keeps its models in `<run>/models/<name>/model.keras` and its
    settings in `<run>/config.json` (the `ReproductionConfig`).
    """
    if not isinstance(model, (str, os.PathLike)):
        return None
    path = os.path.abspath(os.fspath(model))
    folder = path if os.path.isdir(path) else os.path.dirname(path)
    models = os.path.dirname(folder)
    if os.path.basename(models) != "models":
        return None
    run_dir = os.path.dirname(models)
    config = os.path.join(run_dir, "config.json")
    if not os.path.isfile(config):
        return None
    try:
        saved = read_json(config)
    except ValueError:
        return None
    return run_dir if isinstance(saved, dict) and isinstance(saved.get("sampler"), dict) else None


def report_sampling(model):
    """The sampling settings of the report of the reproduction that holds `model`, or None.

    Returns:
        None for a model outside a reproduction, else a dict: "run_dir", "config"
        (the path of its config.json), "seed" and "num" (the sample seed and count
        of the transition part) and "sampler" (the keyword arguments of
        `keras_gahb.sampling.sample` it used, e.g. {"sigma_final": 0.05, ...}).

    Example:

    >>> keras_gahb.experiments.report_sampling("gahb_runs/reproduce_quick/models/transition_n10000_s1")
    {'run_dir': ..., 'seed': 7, 'num': 16, 'sampler': {'h0': 0.01, ..., 'sigma_final': 0.05, ...}}
    """
    run_dir = reproduction_folder(model)
    if run_dir is None:
        return None
    config_path = os.path.join(run_dir, "config.json")
    config = read_json(config_path)
    return {"run_dir": run_dir, "config": config_path,
            "seed": int(config.get("seed", 0)) + SAMPLE_SEED_OFFSET,
            "num": int(config.get("num_samples", 16)), "sampler": dict(config["sampler"])}


def report_analysis(model):
    """The analysis settings of the report of the reproduction that holds `model`, or None.

    Returns:
        None for a model outside a reproduction, else a dict: "run_dir",
        "config", "jacobian_sigma" (the noise level of the report's Jacobian
        analysis of this model: gahb_sigma for a transition model, jacobian_sigma
        for the disc model, None for the others), "psnr_sigmas" (eval_sigmas of
        the PSNR curves) and "slope_sigmas" (of the MSE slope fits).
    """
    run_dir = reproduction_folder(model)
    if run_dir is None:
        return None
    config_path = os.path.join(run_dir, "config.json")
    config = read_json(config_path)
    path = os.path.abspath(os.fspath(model))
    name = os.path.basename(path if os.path.isdir(path) else os.path.dirname(path))
    jacobian = {"transition": config.get("gahb_sigma"), "discs": config.get("jacobian_sigma")}
    return {"run_dir": run_dir, "config": config_path,
            "jacobian_sigma": jacobian.get(name.split("_")[0]),
            "psnr_sigmas": list(config.get("eval_sigmas", [])),
            "slope_sigmas": list(config.get("slope_sigmas", []))}


def differences_from_report(settings, report):
    """One line listing the `settings` ({name: value}) that differ from `report`'s, or None.

    Values are compared as numbers or lists of numbers; `report` entries that are
    None are skipped.
    """
    differ = []
    for name, value in settings.items():
        expected = report.get(name)
        if expected is None:
            continue
        same = (list(map(float, value)) == list(map(float, expected))
                if isinstance(value, (list, tuple)) else float(value) == float(expected))
        if not same:
            differ.append(f"{name} {_fmt(value)} (report {_fmt(expected)})")
    if not differ:
        return None
    return (f"Differs from the report ({report['config']}), so its numbers will too: "
            + ", ".join(differ))


def _fmt(value):
    if isinstance(value, (list, tuple)):
        return ",".join(f"{float(v):g}" for v in value)
    return f"{float(value):g}"
