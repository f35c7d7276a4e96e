"""The built-in `shapes` weights load, and carry features a linear layer can use."""

import keras
import numpy as np
import pytest

from tfvision.data import generate_shapes
from tfvision.models.mobilenet_v2 import MobileNetV2


def test_shapes_weights_load_into_alpha_035_and_differ_from_random():
    pretrained = MobileNetV2(alpha=0.35, input_shape=(64, 64, 3), include_top=False,
                             pooling="avg", weights="shapes")
    random = MobileNetV2(alpha=0.35, input_shape=(64, 64, 3), include_top=False, pooling="avg")
    moving_variances = [w for w in pretrained.weights if "moving_variance" in w.path]
    assert moving_variances and not np.allclose(keras.ops.convert_to_numpy(moving_variances[0]), 1.0)
    assert any(
        not np.allclose(a, b) for a, b in zip(pretrained.get_weights(), random.get_weights())
    )


def test_shapes_features_separate_the_classes():
    """Class means of the pooled features are far apart relative to their spread."""
    data = generate_shapes(240, image_size=64, seed=7)
    model = MobileNetV2(alpha=0.35, input_shape=(64, 64, 3), include_top=False,
                        pooling="avg", weights="shapes")
    features = model.predict(MobileNetV2.preprocess(data["images"]), verbose=0)
    labels = data["class_label"]
    means = np.stack([features[labels == c].mean(0) for c in range(6)])
    # Nearest class mean classifies the dominant shape far above chance (1/6).
    distances = ((features[:, None, :] - means[None]) ** 2).sum(-1)
    assert (distances.argmin(1) == labels).mean() > 0.8


@pytest.mark.parametrize("kwargs", [dict(alpha=1.0), dict(alpha=0.35, include_top=True)])
def test_shapes_weights_refuse_other_architectures(kwargs):
    with pytest.raises(ValueError, match="Received:"):
        MobileNetV2(input_shape=(64, 64, 3), weights="shapes", **kwargs)


@pytest.mark.parametrize("kwargs, momentum", [({}, 0.9), ({"bn_momentum": 0.99}, 0.99)])
def test_bn_momentum_reaches_every_block_and_the_config(kwargs, momentum):
    # The default is 0.9 (PyTorch's 0.1): at keras.applications' 0.999 the
    # moving statistics of a model trained from scratch lag behind its weights.
    model = MobileNetV2(alpha=0.35, input_shape=(32, 32, 3), include_top=False, **kwargs)
    momenta = {layer.momentum for layer in model._flatten_layers()
               if isinstance(layer, keras.layers.BatchNormalization)}
    assert momenta == {momentum}
    assert model.get_config()["bn_momentum"] == momentum
