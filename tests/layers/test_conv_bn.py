import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.testing import randomize_weights, run_serialization_test
from tfvision.layers import ConvBN

X = np.random.default_rng(0).normal(size=(2, 9, 9, 4)).astype("float32")


def conv_then_batch_norm(conv):
    """Keras' reference for a `ConvBN` without activation: `conv`, then batch norm."""
    return keras.Sequential([keras.Input(X.shape[1:]), conv,
                             keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3)])


def copy_and_compare(ours, reference, training=False):
    randomize_weights(reference)
    ours.set_weights(reference.get_weights())
    expected = reference(X, training=training)
    np.testing.assert_allclose(ours(X, training=training), expected, atol=1e-5)


@pytest.mark.parametrize("strides", [1, 2])
def test_equals_conv2d_then_batch_norm(strides):
    ours = ConvBN(8, 3, strides=strides, activation=None)
    ours.build(X.shape)
    reference = conv_then_batch_norm(
        keras.layers.Conv2D(8, 3, strides, padding="same", use_bias=False))
    copy_and_compare(ours, reference)
    copy_and_compare(ours, reference, training=True)
    size = {1: 9, 2: 5}[strides]  # "same": ceil(9 / strides)
    assert ours(X).shape == (2, size, size, 8)


def test_weight_order_is_kernel_then_batch_norm():
    layer = ConvBN(8, 3)
    layer.build((None, 9, 9, 4))
    names = [w.path.rsplit("/", 1)[-1] for w in layer.weights]
    assert names == ["kernel", "gamma", "beta", "moving_mean", "moving_variance"]


def test_relu6_activation_clips_the_batch_norm_output():
    linear = ConvBN(8, 3, activation=None)
    relu6 = ConvBN(8, 3)
    linear.build(X.shape)
    relu6.build(X.shape)
    relu6.set_weights(randomize_weights(linear).get_weights())
    np.testing.assert_allclose(relu6(X), np.clip(linear(X), 0, 6), atol=1e-6)


def test_other_activation_by_name():
    linear = ConvBN(8, activation=None)
    tanh = ConvBN(8, activation="tanh")
    linear.build(X.shape)
    tanh.build(X.shape)
    tanh.set_weights(linear.get_weights())
    np.testing.assert_allclose(tanh(X), np.tanh(linear(X)), atol=1e-6)


def test_depthwise_equals_depthwise_conv2d_then_batch_norm():
    ours = ConvBN(None, 3, strides=2, depthwise=True, activation=None)
    ours.build(X.shape)
    reference = conv_then_batch_norm(
        keras.layers.DepthwiseConv2D(3, 2, padding="same", use_bias=False))
    copy_and_compare(ours, reference)
    assert ours(X).shape == (2, 5, 5, 4)


def test_inference_folds_a_conv_bias_into_the_batch_norm_shift():
    ours = ConvBN(8, 3, use_bias=True, activation=None)
    ours.build(X.shape)
    reference = conv_then_batch_norm(keras.layers.Conv2D(8, 3, padding="same", use_bias=True))
    copy_and_compare(ours, reference)


def test_frozen_batch_norm_gradients_equal_keras_through_the_folded_kernel():
    ours = ConvBN(8, 3, activation=None)
    ours.build(X.shape)
    reference = conv_then_batch_norm(keras.layers.Conv2D(8, 3, padding="same", use_bias=False))
    randomize_weights(reference)
    ours.set_weights(reference.get_weights())
    ours.norm_layer.trainable = False
    reference.layers[-1].trainable = False
    gradients = []
    for layer, kernel in ((ours, ours.conv.kernel), (reference, reference.layers[0].kernel)):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.sin(layer(X, training=True)))
        gradients.append(tape.gradient(loss, kernel))
    np.testing.assert_allclose(gradients[0], gradients[1], rtol=1e-4, atol=1e-4)


def test_group_norm_equals_keras_group_normalization():
    ours = ConvBN(8, 1, norm="group", norm_groups=2, activation=None)
    ours.build(X.shape)
    reference = keras.Sequential(
        [
            keras.Input(X.shape[1:]),
            keras.layers.Conv2D(8, 1, use_bias=False),
            keras.layers.GroupNormalization(groups=2, epsilon=1e-3),
        ]
    )
    copy_and_compare(ours, reference)


def test_no_norm_with_bias():
    layer = ConvBN(8, 1, norm=None, use_bias=True, activation=None)
    layer.build(X.shape)
    assert [w.path.rsplit("/", 1)[-1] for w in layer.weights] == ["kernel", "bias"]


def keras_conv_bn(filters=8):
    return conv_then_batch_norm(keras.layers.Conv2D(filters, 3, padding="same", use_bias=False))


def test_training_gradients_equal_keras_batch_norm():
    # ConvBN's training-mode batch norm has a hand-written gradient.
    reference = randomize_weights(keras_conv_bn())
    ours = ConvBN(8, 3, activation=None)
    ours.build(X.shape)
    ours.set_weights(reference.get_weights())
    target = np.random.default_rng(1).normal(size=(2, 9, 9, 8)).astype("float32")
    x = tf.constant(X * 3.0 + 1.0)  # non-zero mean, non-unit variance

    def gradients(model):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(model(x, training=True) * target)
        return tape.gradient(loss, [x] + model.trainable_weights)

    for ours_grad, keras_grad in zip(gradients(ours), gradients(reference)):
        np.testing.assert_allclose(ours_grad, keras_grad, rtol=1e-5, atol=1e-5)
    for ours_w, keras_w in zip(ours.weights, reference.weights):  # moving stats
        np.testing.assert_allclose(ours_w, keras_w, atol=1e-6)


@pytest.mark.parametrize("kwargs, momentum", [({}, 0.9), ({"bn_momentum": 0.999}, 0.999)])
def test_training_updates_moving_statistics_with_momentum(kwargs, momentum):
    # The default is 0.9 (PyTorch's 0.1); an explicit momentum is kept.
    layer = ConvBN(8, 1, activation=None, **kwargs)
    layer.build(X.shape)
    conv_out = keras.ops.convert_to_numpy(layer.conv(X))
    layer(X, training=True)
    bn = layer.norm_layer
    assert bn.momentum == momentum
    mean, variance = conv_out.mean(axis=(0, 1, 2)), conv_out.var(axis=(0, 1, 2))
    np.testing.assert_allclose(bn.moving_mean, (1 - momentum) * mean, atol=1e-6)
    np.testing.assert_allclose(
        bn.moving_variance, momentum + (1 - momentum) * variance, atol=1e-6
    )


def test_frozen_batch_norm_runs_in_inference_mode():
    layer = ConvBN(8, 3, activation=None)
    layer.build(X.shape)
    randomize_weights(layer)
    before = [keras.ops.convert_to_numpy(w) for w in layer.weights]
    layer.trainable = False
    np.testing.assert_array_equal(layer(X, training=True), layer(X, training=False))
    for b, w in zip(before, layer.weights):
        np.testing.assert_array_equal(b, w)


def test_mixed_bfloat16_training_output():
    layer = ConvBN(8, 3, dtype="mixed_bfloat16")
    layer.build(X.shape)
    reference = ConvBN(8, 3)
    reference.build(X.shape)
    reference.set_weights(layer.get_weights())
    outputs = layer(X, training=True)
    assert keras.backend.standardize_dtype(outputs.dtype) == "bfloat16"
    expected = reference(X, training=True)
    np.testing.assert_allclose(np.float32(outputs), expected, atol=0.05)


@pytest.mark.parametrize(
    "kwargs, received",
    [
        ({"filters": 0}, "Received: filters=0"),
        ({"filters": 8, "norm": "layer"}, "Received: norm=layer"),
        ({"filters": 8, "norm": "group", "norm_groups": 0}, "Received: norm_groups=0"),
        ({"filters": 8, "strides": 0}, "Received: strides=0"),
        ({"filters": 8, "kernel_size": (3, 3, 3)}, "Received: kernel_size="),
        ({"filters": 8, "bn_momentum": 1.5}, "Received: bn_momentum=1.5"),
    ],
)
def test_invalid_arguments(kwargs, received):
    with pytest.raises(ValueError, match=received):
        ConvBN(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"filters": 8, "kernel_size": (3, 3), "strides": 2},
        {"filters": None, "depthwise": True, "activation": None},
        {"filters": 8, "norm": "group", "norm_groups": 4, "activation": "swish"},
        {"filters": 8, "activation": keras.activations.tanh, "use_bias": True},
        {"filters": 8, "kernel_regularizer": "l2", "kernel_initializer": "he_normal"},
        {"filters": 8, "bn_momentum": 0.999},  # a config saved before the 0.9 default
    ],
)
def test_serialization(kwargs):
    layer = ConvBN(**kwargs)
    revived = run_serialization_test(layer)
    if layer.norm == "batch":
        assert revived.norm_layer.momentum == layer.norm_layer.momentum == layer.bn_momentum
    layer.build(X.shape)
    revived.build(X.shape)
    revived.set_weights(layer.get_weights())
    np.testing.assert_allclose(revived(X), layer(X), atol=1e-6)
