import keras
import numpy as np
import tensorflow as tf

from tests.testing import run_serialization_test
from tfvision.layers import ReLU6


def test_values_match_numpy_clip():
    x = np.array([-100.0, -1.0, 0.0, 0.5, 5.999, 6.0, 6.5, 1e4], "float32")
    np.testing.assert_array_equal(ReLU6()(x), np.clip(x, 0.0, 6.0))


def test_gradient_is_one_only_between_zero_and_six():
    x = tf.constant([-1.0, 3.0, 7.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = ReLU6()(x)
    np.testing.assert_array_equal(tape.gradient(y, x), [0.0, 1.0, 0.0])


def test_is_a_single_fused_op():
    layer = ReLU6()
    graph = tf.function(layer).get_concrete_function(tf.TensorSpec([2, 4])).graph
    op_types = {op.type for op in graph.get_operations()}
    assert "Relu6" in op_types
    assert not op_types & {"Relu", "Minimum", "Maximum", "ClipByValue"}


def test_keeps_shape_and_dtype():
    outputs = ReLU6()(keras.Input((None, 7, 3)))
    assert outputs.shape == (None, None, 7, 3)
    bf16 = ReLU6(dtype="bfloat16")(np.ones((2, 3), "float32"))
    assert keras.backend.standardize_dtype(bf16.dtype) == "bfloat16"


def test_serialization():
    revived = run_serialization_test(ReLU6(name="act"))
    assert revived.name == "act"
