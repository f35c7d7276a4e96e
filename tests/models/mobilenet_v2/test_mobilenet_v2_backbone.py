import os

import keras
import numpy as np
import pytest

from tests.testing import (
    randomize_weights,
    run_model_saving_test,
    run_serialization_test,
)
from tfvision.models.mobilenet_v2 import MobileNetV2
from tfvision.models.mobilenet_v2.mobilenet_v2_weights import WEIGHTS_URL


def images(size, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 1.0, (batch, size, size, 3)).astype("float32")


# Odd and even sizes: "same" padding must equal keras' ZeroPadding2D + "valid".
@pytest.mark.parametrize(
    "alpha, size", [(0.35, 63), (0.5, 64), (0.75, 65), (1.0, 72), (1.3, 77), (1.4, 64)]
)
def test_weights_interchangeable_with_keras_applications(alpha, size):
    shape = (size, size, 3)
    reference = keras.applications.MobileNetV2(
        input_shape=shape,
        alpha=alpha,
        weights=None,
        classes=10,
        classifier_activation=None,
    )
    randomize_weights(reference, seed=1)
    model = MobileNetV2(alpha, shape, classes=10, classifier_activation=None)
    assert model.count_params() == reference.count_params()
    model.set_weights(reference.get_weights())
    x = images(size)
    np.testing.assert_allclose(model(x), reference(x), atol=1e-5, rtol=1e-5)


def test_parameter_count_of_the_paper_model():
    assert MobileNetV2().count_params() == 3_538_984


def test_layer_names_follow_keras_applications():
    model = MobileNetV2(alpha=0.35, input_shape=(32, 32, 3), classes=3)
    names = [layer.name for layer in model.layers]
    blocks = ["expanded_conv"] + [f"block_{i}" for i in range(1, 17)]
    assert names == ["images", "Conv1", *blocks, "Conv_1", "avg_pool", "predictions"]


def test_pyramid_outputs_shapes_and_strides():
    model = MobileNetV2(alpha=0.5, input_shape=(None, None, 3), include_top=False)
    channels = {
        "stride_8": 16,  # 32 * 0.5
        "stride_16": 48,  # 96 * 0.5
        "stride_16_expanded": 288,  # 6 * 48, block 13's expansion
        "stride_32": 160,  # 320 * 0.5
        "final": 1280,
    }
    assert {k: v.shape[-1] for k, v in model.pyramid_outputs.items()} == channels
    extractor = model.feature_extractor()
    features = extractor(images(96))
    strides = {"stride_8": 8, "stride_16": 16, "stride_16_expanded": 16}
    strides.update(stride_32=32, final=32)
    for name, stride in strides.items():
        assert features[name].shape == (2, 96 // stride, 96 // stride, channels[name])


def test_feature_extractor_shares_weights():
    model = MobileNetV2(alpha=0.35, input_shape=(64, 64, 3), include_top=False)
    randomize_weights(model)
    extractor = model.feature_extractor(["final"])
    assert {id(w) for w in extractor.weights} <= {id(w) for w in model.weights}
    x = images(64)
    np.testing.assert_allclose(extractor(x)["final"], model(x), atol=1e-6)
    with pytest.raises(ValueError, match="Received: names="):
        model.feature_extractor(["stride_4"])


def test_pooling_variants():
    shape = (64, 64, 3)
    features = MobileNetV2(0.35, shape, include_top=False)
    randomize_weights(features)
    x = images(64)
    maps = keras.ops.convert_to_numpy(features(x))
    assert maps.shape == (2, 2, 2, 1280)
    for pooling, reduce in (("avg", np.mean), ("max", np.max)):
        pooled = MobileNetV2(0.35, shape, include_top=False, pooling=pooling)
        pooled.set_weights(features.get_weights())
        np.testing.assert_allclose(pooled(x), reduce(maps, axis=(1, 2)), atol=1e-5)


def test_saving_round_trip(tmp_path):
    model = MobileNetV2(alpha=0.35, input_shape=(64, 64, 3), classes=5)
    randomize_weights(model)
    restored = run_model_saving_test(model, images(64), str(tmp_path / "model.keras"))
    assert isinstance(restored, MobileNetV2)
    assert restored.get_config() == model.get_config()
    assert set(restored.pyramid_outputs) == set(model.pyramid_outputs)


def test_a_saved_model_keeps_its_bn_momentum(tmp_path):
    # A `.keras` file saved when the default was 0.999 says so in its config,
    # and loads with it.
    model = MobileNetV2(alpha=0.35, input_shape=(32, 32, 3), classes=3, bn_momentum=0.999)
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    assert restored.get_config()["bn_momentum"] == 0.999
    momenta = {layer.momentum for layer in restored._flatten_layers()
               if isinstance(layer, keras.layers.BatchNormalization)}
    assert momenta == {0.999}


def test_config_round_trip():
    model = MobileNetV2(0.5, (None, None, 3), include_top=False, pooling="max")
    revived = run_serialization_test(model)
    assert revived.output.shape == (None, 1280)


def test_weights_from_a_file(tmp_path):
    path = str(tmp_path / "backbone.weights.h5")
    source = randomize_weights(MobileNetV2(0.35, (64, 64, 3), include_top=False))
    source.save_weights(path)
    loaded = MobileNetV2(0.35, (64, 64, 3), include_top=False, weights=path)
    x = images(64)
    np.testing.assert_allclose(loaded(x), source(x), atol=1e-6)


def test_training_step_matches_keras_applications():
    # Same loss and same updated weights (moving statistics included) after
    # one SGD step: ConvBN's hand-written batch-norm gradient is exact.
    shape, y = (48, 48, 3), np.array([0, 1, 2, 1])
    reference = keras.applications.MobileNetV2(
        shape, alpha=0.35, weights=None, classes=3
    )
    randomize_weights(reference)
    model = MobileNetV2(0.35, shape, classes=3, bn_momentum=0.999)  # the reference's
    model.set_weights(reference.get_weights())
    losses = []
    for m in (model, reference):
        m.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
        losses.append(m.train_on_batch(images(48, batch=4), y))
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)
    for ours, theirs in zip(model.weights, reference.weights):
        np.testing.assert_allclose(ours, theirs, atol=1e-5, err_msg=ours.path)


def test_one_xla_training_step():
    model = MobileNetV2(alpha=0.35, input_shape=(32, 32, 3), classes=3)
    model.compile(
        optimizer="sgd", loss="sparse_categorical_crossentropy", jit_compile=True
    )
    before = [keras.ops.convert_to_numpy(w) for w in model.weights]
    loss = model.train_on_batch(images(32, batch=4), np.array([0, 1, 2, 1]))
    assert np.isfinite(loss)
    changed = [not np.array_equal(b, w) for b, w in zip(before, model.weights)]
    assert all(changed)  # every kernel, BN weight and moving statistic moved


def test_preprocess_matches_keras_applications():
    pixels = np.array([[0.0, 127.5, 255.0]], "float32")
    np.testing.assert_allclose(MobileNetV2.preprocess(pixels), [[-1.0, 0.0, 1.0]])
    x = np.random.default_rng(0).uniform(0, 255, (1, 4, 4, 3)).astype("float32")
    expected = keras.applications.mobilenet_v2.preprocess_input(x.copy())
    np.testing.assert_allclose(MobileNetV2.preprocess(x), expected, atol=1e-6)


def test_imagenet_weights_are_copied_from_keras_applications(tmp_path, monkeypatch):
    # The network cannot exist here: keras.utils.get_file is mocked and hands
    # back a local file standing for the downloaded ImageNet weights.
    reference = keras.applications.MobileNetV2(
        (96, 96, 3), alpha=0.35, include_top=False, weights=None
    )
    randomize_weights(reference)
    path = str(tmp_path / "imagenet.weights.h5")
    reference.save_weights(path)
    requested = []

    def fake_get_file(fname, origin, **kwargs):
        requested.append((fname, origin))
        return path

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    model = MobileNetV2(0.35, (96, 96, 3), include_top=False, weights="imagenet")
    name = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"
    assert requested == [(name, WEIGHTS_URL + name)]
    assert WEIGHTS_URL.startswith("https://storage.googleapis.com/tensorflow/")
    x = images(96)
    np.testing.assert_allclose(model(x), reference(x), atol=1e-5)


def test_imagenet_weights_offline_error(monkeypatch):
    # The network cannot exist here: keras.utils.get_file is mocked to raise
    # what it raises offline (a bare Exception wrapping the URLError).
    def offline_get_file(fname, origin, **kwargs):
        raise Exception(
            f"URL fetch failure on {origin}: None -- "
            "[Errno -3] Temporary failure in name resolution"
        )

    monkeypatch.setattr(keras.utils, "get_file", offline_get_file)
    with pytest.raises(OSError) as error:
        MobileNetV2(1.0, (224, 224, 3), include_top=True, weights="imagenet")
    message = str(error.value)
    assert "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5" in message
    assert os.path.join(".keras", "models") in message
    assert "Temporary failure in name resolution" in message
    assert "weights=PATH" in message and "copy it" in message


@pytest.mark.parametrize(
    "kwargs, received",
    [
        ({"alpha": 0}, "Received: alpha=0"),
        ({"pooling": "mean", "include_top": False}, "Received: pooling=mean"),
        ({"classes": 0}, "Received: classes=0"),
        ({"weights": "imagenet", "classes": 10}, "Received: classes=10"),
        ({"weights": "imagenet", "alpha": 0.6}, "Received: alpha=0.6"),
        ({"weights": "no/such/file.weights.h5"}, "Received: weights=no/such"),
        ({"input_shape": (224, 224)}, "Received: input_shape="),
    ],
)
def test_invalid_arguments(kwargs, received):
    with pytest.raises(ValueError, match=received):
        MobileNetV2(**kwargs)
