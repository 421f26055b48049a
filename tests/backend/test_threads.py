"""`configure_stacked_threads`: TensorFlow's pools set before the runtime starts, never after."""

import os
import subprocess
import sys

import keras
import pytest

from keras_gahb.backend import configure_stacked_threads

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                reason="thread pools are configured on TensorFlow only")

SCRIPT = """
import tensorflow as tf
from keras_gahb.backend import configure_stacked_threads
print(configure_stacked_threads(3), tf.config.threading.get_intra_op_parallelism_threads(),
      tf.config.threading.get_inter_op_parallelism_threads())
"""


def _run(extra_env):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_NUM_")}
    env.update(extra_env, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                         text=True, check=True).stdout
    return out.split()[-3:]


def test_a_fresh_process_gets_one_thread_per_op_and_one_op_per_model():
    assert _run({}) == ["True", "1", "3"]


def test_the_users_thread_variables_win():
    assert _run({"TF_NUM_INTEROP_THREADS": "2"})[0] == "False"


def test_a_running_runtime_is_left_alone():
    import tensorflow as tf

    tf.constant(1.0) + 1.0  # the runtime has started in this process
    before = (tf.config.threading.get_intra_op_parallelism_threads(),
              tf.config.threading.get_inter_op_parallelism_threads())
    assert configure_stacked_threads(3) is False
    assert (tf.config.threading.get_intra_op_parallelism_threads(),
            tf.config.threading.get_inter_op_parallelism_threads()) == before
