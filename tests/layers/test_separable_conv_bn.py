import keras
import numpy as np
import pytest

from tests.testing import randomize_weights, run_serialization_test
from tfvision.layers import SeparableConvBN

X = np.random.default_rng(0).normal(size=(2, 11, 11, 8)).astype("float32")


def reference_model(filters, strides, activation):
    bn = dict(momentum=0.9, epsilon=1e-3)
    layers = [
        keras.Input(X.shape[1:]),
        keras.layers.DepthwiseConv2D(3, strides, padding="same", use_bias=False),
        keras.layers.BatchNormalization(**bn),
        keras.layers.ReLU(6.0),
        keras.layers.Conv2D(filters, 1, use_bias=False),
        keras.layers.BatchNormalization(**bn),
    ]
    if activation == "relu6":
        layers.append(keras.layers.ReLU(6.0))
    return keras.Sequential(layers)


@pytest.mark.parametrize("strides", [1, 2])
@pytest.mark.parametrize("activation", ["relu6", None])
def test_equals_depthwise_bn_relu6_pointwise_bn(strides, activation):
    reference = randomize_weights(reference_model(16, strides, activation))
    layer = SeparableConvBN(16, strides=strides, activation=activation)
    layer.build(X.shape)
    layer.set_weights(reference.get_weights())
    outputs = layer(X)
    np.testing.assert_allclose(outputs, reference(X), atol=1e-5)
    size = 11 if strides == 1 else 6
    assert outputs.shape == (2, size, size, 16)
    assert (np.min(outputs) < 0) == (activation is None)


def test_weight_layout():
    layer = SeparableConvBN(16, kernel_size=5)
    layer.build((None, 11, 11, 8))
    kernels = [w.shape for w in layer.weights if w.path.endswith("kernel")]
    assert kernels == [(5, 5, 8, 1), (1, 1, 8, 16)]
    assert len(layer.weights) == 10


@pytest.mark.parametrize(
    "kwargs, received",
    [
        ({"filters": 0}, "Received: filters=0"),
        ({"filters": 8, "strides": -1}, "Received: strides=-1"),
        ({"filters": 8, "kernel_size": 0}, "Received: kernel_size=0"),
    ],
)
def test_invalid_arguments(kwargs, received):
    with pytest.raises(ValueError, match=received):
        SeparableConvBN(**kwargs)


def test_serialization():
    layer = SeparableConvBN(16, kernel_size=5, strides=2, activation=None)
    revived = run_serialization_test(layer)
    layer.build(X.shape)
    revived.build(X.shape)
    revived.set_weights(layer.get_weights())
    np.testing.assert_allclose(revived(X), layer(X), atol=1e-6)
