"""The paper's experiments end to end (`gahb reproduce`), with a self-contained report."""

from keras_gahb.experiments.reproduce import reproduce, write_outputs
from keras_gahb.experiments.reproduction_config import (
    PARTS,
    SCALES,
    ReproductionConfig,
    config_for_scale,
)

__all__ = ["PARTS", "SCALES", "ReproductionConfig", "config_for_scale", "reproduce", "write_outputs"]
