"""The backbone registry and interface, and every task on a second backbone (MobileNetV1)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.testing import randomize_weights, run_serialization_test
from tfvision.models import ImageClassifier, MobileNetV1, MobileNetV2, MoCo
from tfvision.models.backbones import (
    backbone_names,
    backbone_normalization,
    build_backbone,
    get_backbone,
)
from tfvision.models.ssd import ssdlite
from tfvision.recipes.moco.recipe import build_encoder_backbone

CLASSES = ["circle", "square", "star"]
SIZE = 64


def images(batch=4, size=SIZE, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (batch, size, size, 3)).astype("float32")


def test_the_registry_lists_every_backbone_by_name():
    names = backbone_names()
    assert names == sorted(names)
    assert {"mobilenet_v2", "mobilenet_v1", "small_cnn"} <= set(names)
    # The keras.applications entries of the classifier's former list stay.
    assert {"vgg16", "resnet50", "efficientnetb0", "mobilenet_v3_small", "convnext_tiny"} <= set(
        names
    )


def test_an_unknown_name_is_refused_with_the_list():
    with pytest.raises(ValueError, match=r"Expected one of \[.*'mobilenet_v2'.*\]\. "
                                         r"Received: arch='alexnet'"):
        build_backbone("alexnet", SIZE)
    with pytest.raises(ValueError, match="Received: arch='resnet50', alpha=0.5"):
        build_backbone("resnet50", SIZE, alpha=0.5)  # no width multiplier


def test_mobilenet_v2_through_the_registry_gives_the_same_pyramid_outputs():
    direct = randomize_weights(MobileNetV2(0.35, (SIZE, SIZE, 3), include_top=False))
    registered = build_backbone("mobilenet_v2", SIZE, alpha=0.35, pooling=None)
    assert isinstance(registered, MobileNetV2) and registered.get_config() == direct.get_config()
    registered.set_weights(direct.get_weights())
    x = MobileNetV2.preprocess(images(2))
    expected, actual = direct.feature_extractor()(x), registered.feature_extractor()(x)
    assert list(actual) == ["stride_8", "stride_16", "stride_16_expanded", "stride_32", "final"]
    for name, channels, grid in [("stride_8", 16, 8), ("stride_16_expanded", 192, 4),
                                 ("final", 1280, 2)]:
        assert actual[name].shape == (2, grid, grid, channels)
    for name in expected:
        np.testing.assert_allclose(actual[name], expected[name], atol=1e-6)


def test_a_task_backbone_is_a_name_a_model_or_a_config():
    model = build_backbone("small_cnn", 32)
    assert get_backbone(model) is model
    assert get_backbone("small_cnn", 32).output_shape == (None, 128)
    revived = get_backbone(keras.saving.serialize_keras_object(model))
    assert revived.get_config() == model.get_config()
    with pytest.raises(ValueError, match="needs an image size"):
        get_backbone("small_cnn")
    assert backbone_normalization("resnet50") == "caffe"
    assert backbone_normalization(build_backbone("mobilenet_v3_small", 32)) == "none"
    assert backbone_normalization(model) == "tf"
    moco = MoCo("small_cnn", image_size=32, queue_size=8, hidden_dims=())
    assert moco.backbone.name == "small_cnn" and moco.normalization_mode == "tf"


def test_mobilenet_v1_gives_named_feature_maps_at_strides_8_16_32():
    backbone = build_backbone("mobilenet_v1", SIZE, alpha=0.25, pooling=None)
    assert isinstance(backbone, MobileNetV1) and backbone.normalization == "tf"
    maps = backbone.feature_extractor()(images(1) / 127.5 - 1.0)
    shapes = {name: tuple(value.shape) for name, value in maps.items()}
    assert shapes == {"stride_8": (1, 8, 8, 64), "stride_16": (1, 4, 4, 128),
                      "stride_32": (1, 2, 2, 256), "final": (1, 2, 2, 256)}
    # The layers are keras.applications.MobileNet's: its weights load as they are.
    reference = keras.applications.MobileNet((SIZE, SIZE, 3), alpha=0.25, include_top=False,
                                             weights=None)
    randomize_weights(reference)
    backbone.set_weights(reference.get_weights())
    x = images(1) / 127.5 - 1.0
    np.testing.assert_allclose(backbone(x), reference(x), atol=1e-5)
    revived = run_serialization_test(backbone)  # what a task's config holds
    assert list(revived.pyramid_outputs) == list(backbone.pyramid_outputs)


def _changed(before, weights):
    return any(not np.allclose(b, w.numpy()) for b, w in zip(before, weights))


def test_the_classifier_trains_on_the_second_backbone():
    model = ImageClassifier(CLASSES, backbone="mobilenet_v1", image_size=SIZE, alpha=0.25,
                            backbone_weights=None, freeze_backbone=False, hidden_units=(8,))
    assert isinstance(model.backbone, MobileNetV1) and model.normalization.mode == "tf"
    # Eagerly: the task's own train step on this backbone, untraced. A functional
    # model runs the same layers in a graph (the classifier's traced and XLA steps
    # are tested on MobileNetV2: tests/models/classifier, tests/cli).
    model.compile(run_eagerly=True)
    before = [w.numpy() for w in model.backbone.trainable_weights]
    history = model.fit(images(), np.array([0, 1, 2, 0]), batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert _changed(before, model.backbone.trainable_weights)
    assert model.predict(images(2), verbose=0).shape == (2, 3)
    # A backbone model works the same way as its name.
    backbone = build_backbone("mobilenet_v1", SIZE, alpha=0.25)
    other = ImageClassifier(CLASSES, backbone=backbone, image_size=SIZE, backbone_weights=None,
                            freeze_backbone=False, hidden_units=())
    assert other.backbone is backbone and other(images(2)).shape == (2, 3)


def test_moco_trains_on_the_second_backbone_from_the_recipe_encoder():
    encoder = build_encoder_backbone("mobilenet_v1", SIZE, alpha=0.25)
    assert isinstance(encoder, MobileNetV1) and encoder.output_shape == (None, 256)
    model = MoCo(encoder, projection_dim=16, hidden_dims=(32,), queue_size=16)
    assert model.key_backbone.name == "key_mobilenet_v1"
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), run_eagerly=True)  # as above
    before = [w.numpy() for w in model.backbone.trainable_weights]
    pairs = tf.data.Dataset.from_tensor_slices((images(4), images(4, seed=1))).batch(4)
    history = model.fit(pairs, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0]) and int(model.queue_pointer.numpy()) == 4
    assert _changed(before, model.backbone.trainable_weights)
    assert model(images(2)).shape == (2, 256)  # backbone features
    assert model.queries(images(2), training=False).shape == (2, 16)  # projection head


def test_the_ssdlite_detector_trains_and_predicts_on_the_second_backbone():
    model = ssdlite(CLASSES, "mobilenet_v1", alpha=0.25, image_size=SIZE, backbone_weights=None,
                    extra_channels=(16, 16, 16, 16), max_detections=10)
    assert model.name == "ssdlite_mobilenet_v1" and model.feature_names == ["stride_16", "final"]
    assert model.grid_sizes == [(4, 4), (2, 2), (1, 1), (1, 1), (1, 1), (1, 1)]
    assert model.num_anchors == (16 + 4 + 4 * 1) * 6
    boxes = np.tile(np.array([[[0.1, 0.1, 0.6, 0.5], [0.0, 0.0, 0.0, 0.0]]], "float32"), (4, 1, 1))
    labels = np.tile(np.array([[1, -1]], "int32"), (4, 1))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), run_eagerly=True)  # as above
    before = [w.numpy() for w in model.backbone.trainable_weights]
    history = model.fit(images(), {"boxes": boxes, "labels": labels}, batch_size=4, epochs=1,
                        verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert _changed(before, model.backbone.trainable_weights)
    detections = model.predict(images(2), verbose=0)
    assert detections["boxes"].shape == (2, 10, 4) and detections["scores"].shape == (2, 10)
    assert detections["classes"].shape == (2, 10) and detections["num_detections"].shape == (2,)


def test_detector_presets_refuse_backbones_without_feature_maps():
    with pytest.raises(ValueError, match="named feature maps"):
        ssdlite(CLASSES, build_backbone("mobilenet_v3_small", SIZE, pooling=None))
    with pytest.raises(ValueError, match="pooled features only"):
        ssdlite(CLASSES, "small_cnn", image_size=SIZE, backbone_weights=None)
