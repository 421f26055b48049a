"""The paper's experiments end to end (`gahb reproduce`), with a self-contained report.

Also the instruments that train models to measure them (`analyze_dynamics`: memorization over
training time), so that `keras_gahb.analysis` measures denoisers without training any.
"""

from keras_gahb.experiments.dynamics import analyze_dynamics
from keras_gahb.experiments.export import export_from_run
from keras_gahb.experiments.extras import run_extras
from keras_gahb.experiments.jobs import check_jobs, format_jobs, list_jobs
from keras_gahb.experiments.plan import PAIRINGS, ModelSpec, model_seed, plan
from keras_gahb.experiments.released import ReleasedConfig, reproduce_released
from keras_gahb.experiments.released_data import ReleasedModels, find_released
from keras_gahb.experiments.report_settings import report_analysis, report_sampling
from keras_gahb.experiments.reproduce import reproduce, write_outputs
from keras_gahb.experiments.seed_spread import reproduce_seeds
from keras_gahb.experiments.reproduction_config import (
    PARTS,
    SCALES,
    ReproductionConfig,
    config_for_scale,
)

__all__ = ["PAIRINGS", "PARTS", "SCALES", "ModelSpec", "ReleasedConfig", "ReleasedModels",
           "ReproductionConfig", "analyze_dynamics", "check_jobs", "config_for_scale", "export_from_run",
           "find_released", "format_jobs", "list_jobs", "model_seed", "plan", "report_analysis",
           "report_sampling", "reproduce", "reproduce_released", "reproduce_seeds", "run_extras",
           "write_outputs"]
