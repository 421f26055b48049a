"""The paper's experiments end to end (`gahb reproduce`), with a self-contained report."""

from keras_gahb.experiments.jobs import check_jobs, format_jobs, list_jobs
from keras_gahb.experiments.reproduce import reproduce, write_outputs
from keras_gahb.experiments.reproduction_config import (
    PARTS,
    SCALES,
    ReproductionConfig,
    config_for_scale,
)

__all__ = [
    "PARTS",
    "SCALES",
    "ReproductionConfig",
    "check_jobs",
    "config_for_scale",
    "format_jobs",
    "list_jobs",
    "reproduce",
    "write_outputs",
]
