"""Bias-free Keras layers."""

from keras_gahb.layers.bias_free_batch_normalization import BiasFreeBatchNormalization

__all__ = ["BiasFreeBatchNormalization"]
