"""CPU thread pools for stacked training (TensorFlow): one thread per op, one op per model."""

import os

import keras

#: Environment variables that, when set, mean the user chose the thread pools.
THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def configure_stacked_threads(models):
    """Give TensorFlow one thread per op and `models` ops at once, if still possible.

    A step of K stacked small denoisers (`keras_gahb.training.train_stacked`)
    holds K independent branches of small convolutions. Run with one thread
    each, K at a time, they keep the cores busier than when every small op
    is split over all cores: on a 2-core AVX2 CPU, 3 stacked `unet_small`
    (16x16, batch 64) train 1,281 images/s with 1 intra-op and 3 inter-op
    threads against 749 with TensorFlow's defaults (docs/performance.md).
    One model alone loses little (500 against 536 images/s with XLA).

    TensorFlow fixes its pools when it runs its first op, so this acts only
    before that (e.g. at the start of `gahb reproduce`), only on TensorFlow,
    and never when the user set TF_NUM_INTRAOP_THREADS or
    TF_NUM_INTEROP_THREADS.

    Args:
        models: how many models train side by side (the inter-op pool size).

    Returns:
        True if the pools were set, False if left alone.
    """
    if keras.backend.backend() != "tensorflow" or any(v in os.environ for v in THREAD_VARIABLES):
        return False
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(max(2, int(models)))
    except RuntimeError:  # the runtime already started: its pools stay as they are
        return False
    return True
