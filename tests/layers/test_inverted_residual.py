import keras
import numpy as np
import pytest
from keras.src.applications.mobilenet_v2 import _inverted_res_block

from tests.testing import (
    randomize_weights,
    run_model_saving_test,
    run_serialization_test,
)
from tfvision.layers import InvertedResidual


def inputs(size, channels, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(2, size, size, channels)).astype("float32")


def keras_applications_block(x, filters, expansion, strides):
    """The block of keras.applications.MobileNetV2 as a model."""
    image = keras.Input(x.shape[1:])
    # block_id 0 is keras' block without the expansion conv.
    block_id = 0 if expansion == 1 else 1
    outputs = _inverted_res_block(image, expansion, strides, 1.0, filters, block_id)
    return keras.Model(image, outputs)


@pytest.mark.parametrize(
    "size, channels, filters, expansion, strides, residual",
    [
        (9, 16, 16, 6, 1, True),
        (9, 16, 24, 6, 1, False),  # channels change
        (9, 16, 16, 6, 2, False),  # odd size, stride 2
        (8, 16, 24, 6, 2, False),  # even size, stride 2
        (8, 32, 16, 1, 1, False),  # t = 1: no expansion conv
        (8, 16, 16, 1, 1, True),
    ],
)
def test_equals_keras_applications_block(
    size, channels, filters, expansion, strides, residual
):
    x = inputs(size, channels)
    reference = keras_applications_block(x, filters, expansion, strides)
    randomize_weights(reference)
    block = InvertedResidual(filters, expansion, strides)
    block.build(x.shape)
    block.set_weights(reference.get_weights())
    np.testing.assert_allclose(block(x), reference(x), atol=1e-5)
    has_add = any(isinstance(layer, keras.layers.Add) for layer in reference.layers)
    assert block.use_residual == residual == has_add
    expected_size = size if strides == 1 else (size + 1) // 2
    assert block(x).shape == (2, expected_size, expected_size, filters)


@pytest.mark.parametrize("filters, residual", [(16, True), (24, False)])
def test_residual_adds_the_input(filters, residual):
    x = inputs(8, 16)
    block = InvertedResidual(filters)
    block.build(x.shape)
    # Zero the projection's BN: the bottleneck branch outputs exactly 0.
    bn = block.project.norm_layer
    bn.gamma.assign(np.zeros(filters))
    bn.beta.assign(np.zeros(filters))
    expected = x if residual else np.zeros((2, 8, 8, filters))
    np.testing.assert_array_equal(block(x), expected)


def test_no_expansion_layer_when_t_is_one():
    block = InvertedResidual(16, expansion=1)
    block.build((None, 8, 8, 32))
    assert block.expand is None
    assert not any("expand" in w.path for w in block.weights)
    # depthwise kernel + 4 BN, projection kernel + 4 BN
    assert len(block.weights) == 10
    assert block.depthwise.conv.kernel.shape == (3, 3, 32, 1)


def test_layers_and_weight_order():
    block = InvertedResidual(24, expansion=6, strides=2)
    block.build((None, 8, 8, 16))
    kernels = [w.shape for w in block.weights if w.path.endswith("kernel")]
    assert kernels == [(1, 1, 16, 96), (3, 3, 96, 1), (1, 1, 96, 24)]
    assert len(block.weights) == 15
    assert block.project.activation is None


@pytest.mark.parametrize("expansion, strides", [(6, 1), (6, 2), (1, 2)])
def test_return_expanded(expansion, strides):
    x = inputs(8, 16)
    block = InvertedResidual(24, expansion, strides)
    outputs, expanded = block(x, return_expanded=True)
    size = 8 // strides
    assert outputs.shape == (2, size, size, 24)
    assert expanded.shape == (2, 8, 8, 16 * expansion)
    np.testing.assert_array_equal(outputs, block(x))
    if expansion == 1:
        np.testing.assert_array_equal(expanded, x)
    else:
        np.testing.assert_array_equal(expanded, block.expand(x))
        assert np.min(expanded) >= 0 and np.max(expanded) <= 6
    symbolic_input = keras.Input((None, None, 16))
    symbolic, symbolic_expanded = block(symbolic_input, return_expanded=True)
    assert symbolic.shape == (None, None, None, 24)
    assert symbolic_expanded.shape == (None, None, None, 16 * expansion)


@pytest.mark.parametrize(
    "kwargs, received",
    [
        ({"filters": 0}, "Received: filters=0"),
        ({"filters": 16, "expansion": 0}, "Received: expansion=0"),
        ({"filters": 16, "strides": 3}, "Received: strides=3"),
    ],
)
def test_invalid_arguments(kwargs, received):
    with pytest.raises(ValueError, match=received):
        InvertedResidual(**kwargs)


def test_serialization():
    x = inputs(8, 16)
    block = InvertedResidual(24, expansion=4, strides=2, bn_epsilon=1e-5)
    revived = run_serialization_test(block)
    block.build(x.shape)
    revived.build(x.shape)
    revived.set_weights(block.get_weights())
    np.testing.assert_allclose(revived(x), block(x), atol=1e-6)


def test_saving_round_trip_inside_a_model(tmp_path):
    # Sub-layers are created in build(): loading must rebuild them first.
    x = inputs(8, 16)
    model = keras.Sequential(
        [keras.Input(x.shape[1:]), InvertedResidual(16), InvertedResidual(24, 1, 2)]
    )
    randomize_weights(model)
    run_model_saving_test(model, x, str(tmp_path / "blocks.keras"))
