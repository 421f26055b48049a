"""Bias-free Keras layers."""

from keras_gahb.layers.bias_free_batch_normalization import BiasFreeBatchNormalization
from keras_gahb.layers.clipped_normal import ClippedNormal

__all__ = ["BiasFreeBatchNormalization", "ClippedNormal"]
