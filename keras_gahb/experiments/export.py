"""A finished model folder of `gahb train` or of a reproduction as a preset with weights.

`keras_gahb.models.export_pretrained` writes the preset; this reads what it needs from the run
folder (split.json, config.json, state.json) and, for a reproduction's model, its part's
verdicts and own margins and the report's sampler settings (`gahb models export`).
"""

import os

from keras_gahb.experiments.report_settings import report_sampling
from keras_gahb.models.pretrained import export_pretrained
from keras_gahb.utils import read_json


def export_from_run(model_dir, name, description="", command="", root=None):
    """`export_pretrained` for a model folder of `gahb train` or of a reproduction.

    The data source, architecture and recipe come from the folder's split.json and
    config.json; for a reproduction's model, also the report's verdicts of its part
    (from the run's parts/<part>.json, written when the part ends) and the report's sampler
    settings.
    """
    split_path = os.path.join(model_dir, "split.json")
    config_path = os.path.join(model_dir, "config.json")
    for path in (split_path, config_path):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path} not found: export a finished run folder of "
                                    "`gahb train` or of a reproduction's model.")
    source = read_json(split_path).get("source")
    if not isinstance(source, dict) or "dataset" not in source:
        raise ValueError(f"{split_path} names no dataset source (a model trained on arrays "
                         "given in memory): its test images cannot be regenerated.")
    train = read_json(config_path)["config"]
    state = read_json(os.path.join(model_dir, "state.json"))
    trained = {key: train.get(key) for key in ("n", "split", "recipe", "sigma_distribution",
                                               "sigma_min", "loss_weight", "lr", "batch_size",
                                               "epochs", "seed", "precision")}
    trained["images_seen"] = int(train["epochs"]) * int(train["images_per_epoch"])
    trained["status"] = state.get("status")
    trained["source_run"] = os.path.abspath(model_dir)
    checks, sampler = [], {}
    report = report_sampling(model_dir)  # None outside a reproduction
    if report is not None:
        run_dir, sampler = report["run_dir"], report["sampler"]
        part = os.path.basename(os.path.normpath(model_dir)).split("_")[0]
        section_path = os.path.join(run_dir, "parts", f"{part}.json")  # written when it ends
        if os.path.isfile(section_path):
            section = read_json(section_path)
            checks = [{"claim": c["claim"], "passed": c["passed"], "applicable": c["applicable"],
                       "value": c["value"]} for c in section.get("checks", [])]
            window = read_json(os.path.join(run_dir, "config.json")).get("slope_sigmas")
            trained["margins_db"] = _own_margins(section, part, train, source, window)
    trained = {k: v for k, v in trained.items() if v is not None}
    return export_pretrained(
        model_dir, name, source["dataset"], source["image_size"],
        options=source.get("options", {}), preset=train["preset"],
        overrides=train.get("model_overrides", {}), description=description, command=command,
        trained=trained, checks=checks, sampler=sampler, root=root)


def _own_margins(section, part, train, source, window):
    """This model's own margins in the report's numbers (dB, > 0 where it beats the reference),
    per sigma: C^alpha against the identity and the oracle DCT / Haar risks; a largest-N
    transition model against the identity. None where the report has none for it."""
    numbers = section.get("numbers", {})
    if part == "calpha":
        alpha = f"{float(source.get('options', {}).get('alpha', 'nan')):g}"
        fit = numbers.get("fits", {}).get(alpha)
        if fit is None:
            return None
        return {"sigmas": window, "identity": fit["identity"]["margin_db"],
                **{f"oracle_{b}": fit["oracle"][b]["margin"]["margin_db"] for b in fit["oracle"]}}
    if part == "transition":
        entry = numbers.get(str(train.get("n")), {}).get("identity_margin")
        split = train.get("split")
        if entry and split in entry:
            return {"sigmas": entry["sigmas"], "identity": entry[split]["margin_db"]}
    return None
