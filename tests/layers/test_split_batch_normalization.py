import keras
import numpy as np
import pytest

from tests.testing import run_serialization_test
from tfvision.layers import SplitBatchNormalization


def _randomized(layer, shape, seed):
    layer.build(shape)
    rng = np.random.default_rng(seed)
    channels = shape[-1]
    layer.set_weights([
        rng.uniform(0.5, 1.5, channels), rng.normal(0, 0.1, channels),
        rng.normal(0, 0.1, channels), rng.uniform(0.5, 1.5, channels),
    ])
    return layer


def test_one_split_is_exactly_batch_norm():
    x = np.random.default_rng(0).normal(2.0, 3.0, (8, 5, 5, 4)).astype("float32")
    split = _randomized(SplitBatchNormalization(1, momentum=0.9), x.shape, 0)
    plain = _randomized(keras.layers.BatchNormalization(momentum=0.9), x.shape, 0)
    for training in (True, False):
        np.testing.assert_allclose(
            np.asarray(split(x, training=training)), np.asarray(plain(x, training=training)),
            atol=1e-5,
        )
    for a, b in zip(split.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("num_splits", [2, 4])
def test_n_splits_equal_batch_norm_per_split(num_splits):
    x = np.random.default_rng(1).normal(1.0, 2.0, (8, 3, 3, 6)).astype("float32")
    x[4:] *= 5.0  # splits with different statistics
    split = _randomized(SplitBatchNormalization(num_splits, momentum=0.9), x.shape, 2)
    outputs = np.asarray(split(x, training=True))
    size = len(x) // num_splits
    moving = []
    for i in range(num_splits):
        plain = _randomized(keras.layers.BatchNormalization(momentum=0.9), x.shape, 2)
        part = x[i * size : (i + 1) * size]
        np.testing.assert_allclose(
            outputs[i * size : (i + 1) * size], np.asarray(plain(part, training=True)), atol=1e-4
        )
        moving.append(plain.get_weights()[2:])
    # Moving statistics: the average over splits, as the demo takes.
    np.testing.assert_allclose(split.get_weights()[2], np.mean([m[0] for m in moving], 0), atol=1e-5)
    np.testing.assert_allclose(split.get_weights()[3], np.mean([m[1] for m in moving], 0), atol=1e-5)
    # Inference uses the moving statistics like batch norm.
    plain = keras.layers.BatchNormalization(momentum=0.9)
    plain.build(x.shape)
    plain.set_weights(split.get_weights())
    np.testing.assert_allclose(np.asarray(split(x)), np.asarray(plain(x)), atol=1e-5)


def test_split_batch_norm_checks_arguments_and_serializes():
    with pytest.raises(ValueError, match="num_splits=0"):
        SplitBatchNormalization(0)
    with pytest.raises(ValueError, match="multiple of num_splits=3"):
        SplitBatchNormalization(3)(np.ones((4, 2), "float32"), training=True)
    revived = run_serialization_test(SplitBatchNormalization(4, momentum=0.8))
    assert revived.num_splits == 4 and revived.momentum == 0.8
    # tfvision's batch-norm momentum (PyTorch's 0.1), not Keras' 0.99.
    assert SplitBatchNormalization(4).momentum == 0.9
