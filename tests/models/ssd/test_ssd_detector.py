"""SSDDetector and its presets: anchors vs heads, loss, post-processing, saving, XLA."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.testing import randomize_weights, run_model_saving_test, run_serialization_test
from tfvision.losses import multibox_loss
from tfvision.models.ssd import SSDDetector, ssd_anchor_scales, ssd_multihead, ssdlite_mobilenet_v2
from tfvision.ops import assign_targets, encode_bounded, encode_ssd

CLASSES = ["circle", "square", "star"]


def small_ssdlite(**kwargs):
    kwargs.setdefault("extra_channels", (32, 32, 16, 16))
    return ssdlite_mobilenet_v2(
        CLASSES, alpha=0.35, image_size=kwargs.pop("image_size", 96), backbone_weights=None,
        **kwargs,
    )


def random_batch(batch=2, size=96, boxes_per_image=3, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 255, (batch, size, size, 3)).astype("float32")
    corners = rng.uniform(0.0, 1.0, (batch, boxes_per_image, 2, 2))
    boxes = np.concatenate([corners.min(2), corners.max(2) + 0.05], -1).clip(0, 1)
    labels = rng.integers(0, len(CLASSES), (batch, boxes_per_image)).astype("int32")
    labels[:, -1] = -1  # padding
    boxes[:, -1] = 0.0
    return images, {"boxes": boxes.astype("float32"), "labels": labels}


@pytest.fixture(scope="module")
def lite():
    """Focal loss, random weights with BN statistics randomised too."""
    return randomize_weights(small_ssdlite(score_threshold=0.3, max_detections=20,
                                           classification="focal"), seed=1)


@pytest.fixture(scope="module")
def multihead():
    return ssd_multihead(CLASSES, alpha=0.35, image_size=128, backbone_weights=None, filters=32)


@pytest.mark.parametrize(
    "preset, size, grids, per_cell",
    [
        ("lite", 96, [6, 3, 2, 1, 1, 1], 6),
        ("lite_320", 320, [20, 10, 5, 3, 2, 1], 6),
        ("multihead", 128, [4, 2, 1], 3),
    ],
)
def test_anchors_line_up_with_head_outputs(preset, size, grids, per_cell, request):
    if preset == "lite_320":
        model = small_ssdlite(image_size=320, classification="focal")
    else:
        model = request.getfixturevalue(preset)
    assert model.grid_sizes == [(g, g) for g in grids]
    expected = sum(g * g * per_cell for g in grids)
    outputs = model(np.zeros((2, size, size, 3), "float32"))
    assert model.anchors.shape == (expected, 4)
    assert outputs["boxes"].shape == (2, expected, 4)
    assert outputs["classes"].shape == (2, expected, len(CLASSES))
    # Level by level, the anchors of a level are centred on that level's grid cells.
    start = 0
    for g in grids:
        level = model.anchors[start : start + g * g * per_cell]
        centres = (level[:, :2] + level[:, 2:]) / 2
        cells = (np.arange(g) + 0.5) / g
        np.testing.assert_allclose(np.unique(centres[:, 0].round(5)), cells.round(5), atol=1e-5)
        start += g * g * per_cell
    if preset == "multihead":
        assert model.num_anchors == 63  # the lecture's 3 x (16 + 4 + 1)


def test_ssdlite_anchor_sizes_follow_the_ssd_scale_schedule(lite):
    model = lite
    scales = ssd_anchor_scales(6)
    np.testing.assert_allclose(scales[0], (0.2, np.sqrt(0.2 * 0.35)), rtol=1e-6)
    first = model.anchors[:6]  # the 6 anchors of the first cell of level 0
    sides = np.sqrt((first[:, 2] - first[:, 0]) * (first[:, 3] - first[:, 1]))
    np.testing.assert_allclose(sides, np.repeat(scales[0], 3), rtol=1e-5)


def test_config_round_trip_and_json(lite):
    revived = run_serialization_test(lite)
    assert revived.class_names == CLASSES
    np.testing.assert_array_equal(revived.anchors, lite.anchors)
    assert revived.non_max_suppression.max_detections == 20


def test_keras_save_and_load_predict_the_same(lite, tmp_path):
    images, _ = random_batch()
    restored = run_model_saving_test(lite, images, str(tmp_path / "ssd.keras"), atol=1e-5)
    assert restored.class_names == CLASSES
    assert restored.classification == "focal"


def test_predictions_are_padded_with_a_count(lite):
    model = lite
    images, _ = random_batch(batch=3)
    detections = model.predict(images, verbose=0)
    assert detections["boxes"].shape == (3, 20, 4)
    assert detections["classes"].dtype == np.int32
    assert detections["scores"].dtype == np.float32
    counts = detections["num_detections"]
    assert 0 < counts.max()
    for i, count in enumerate(counts):
        assert (detections["classes"][i, :count] >= 0).all()
        assert (detections["scores"][i, :count] > 0.3).all()
        assert (detections["classes"][i, count:] == -1).all()
        assert (detections["scores"][i, count:] == 0).all()
        assert ((detections["boxes"][i] >= 0) & (detections["boxes"][i] <= 1)).all()


@pytest.mark.parametrize("classification", ["focal", "softmax"])
def test_compute_loss_equals_multibox_loss_of_assigned_targets(classification):
    model = small_ssdlite(classification=classification, localization="l1", focal_gamma=1.5)
    if classification == "softmax":  # a background column
        assert model.head.num_outputs == len(CLASSES) + 1
    images, targets = random_batch(batch=3, seed=3)
    raw = model(images)
    loss = model.compute_loss(images, targets, raw)
    anchors = tf.constant(model.anchors)
    expected_targets = assign_targets(anchors, targets["boxes"], targets["labels"], 0.5, encode_ssd)
    expected = multibox_loss(
        raw["boxes"], raw["classes"], expected_targets["deltas"], expected_targets["labels"],
        expected_targets["positive"], localization="l1", classification=classification,
        alpha=0.25, gamma=1.5, negative_ratio=3,
    )
    assert float(expected["num_positives"]) >= 2
    np.testing.assert_allclose(float(loss), float(expected["loss"]), rtol=1e-5)


def test_bounded_coding_uses_each_anchors_grid(multihead):
    model = multihead
    images, targets = random_batch(batch=2, size=128, seed=4)
    raw = model(images)
    grid = np.concatenate([np.full((g * g * 3, 2), g, "float32") for g in (4, 2, 1)])
    anchors = tf.constant(model.anchors)
    expected_targets = assign_targets(
        anchors, targets["boxes"], targets["labels"], 0.5,
        lambda b, a: encode_bounded(b, a, grid),
    )
    expected = multibox_loss(
        raw["boxes"], raw["classes"], expected_targets["deltas"], expected_targets["labels"],
        expected_targets["positive"], localization="l1", classification="bce",
    )
    np.testing.assert_allclose(
        float(model.compute_loss(images, targets, raw)), float(expected["loss"]), rtol=1e-5
    )


def test_batch_without_boxes_gives_a_finite_loss_and_gradients_reach_the_heads():
    # Focal loss: an image without objects still trains its background.
    model = small_ssdlite(freeze_backbone=True, classification="focal")
    images, targets = random_batch(seed=5)
    empty = {"boxes": np.zeros_like(targets["boxes"]), "labels": -np.ones_like(targets["labels"])}
    for y in (targets, empty):
        with tf.GradientTape() as tape:
            loss = model.compute_loss(images, y, model(images, training=True))
        assert np.isfinite(float(loss))
        grads = tape.gradient(loss, model.head.trainable_variables)
        assert all(g is not None for g in grads)
        assert max(float(tf.reduce_max(tf.abs(g))) for g in grads) > 0
    trainable = {id(v) for v in model.trainable_variables}
    assert not any(id(v) in trainable for v in model.backbone.weights)


def test_freezing_and_unfreezing_the_backbone_changes_the_trainable_variables():
    model = small_ssdlite(freeze_backbone=True)
    frozen = len(model.trainable_variables)
    model.set_backbone_trainable(True)
    assert len(model.trainable_variables) == frozen + len(model.backbone.trainable_variables)
    assert model.get_config()["freeze_backbone"] is False
    # The backbone's batch norm stays in inference mode while the backbone trains.
    assert model.freeze_batch_norm
    images = model.normalization(random_batch()[0])
    for name, value in model.feature_extractor(images, training=True).items():
        expected = model.feature_extractor(images, training=False)[name]
        np.testing.assert_allclose(value, expected, atol=1e-5)
    import re

    pattern = re.compile(model.backbone_variable_pattern())
    in_backbone = {id(v) for v in model.backbone.trainable_variables}
    for variable in model.trainable_variables:
        assert bool(pattern.search(variable.path)) == (id(variable) in in_backbone), variable.path


def test_a_frozen_backbone_stays_frozen_through_a_config_round_trip():
    model = small_ssdlite(image_size=64, freeze_backbone=True)
    restored = SSDDetector.from_config(model.get_config())
    # Else a loaded checkpoint would train the backbone and drop its optimizer state.
    assert [v.path for v in restored.trainable_variables] == [
        v.path for v in model.trainable_variables
    ]
    assert not any(v.path.startswith("Conv1/") for v in restored.trainable_variables)


def test_training_step_compiles_under_xla():
    # A frozen backbone keeps the compiled graph (and its compile time) small.
    model = small_ssdlite(image_size=64, extra_channels=(16, 16, 16, 16), freeze_backbone=True)
    model.compile(optimizer=keras.optimizers.SGD(0.01), jit_compile=True)
    images, targets = random_batch(batch=2, size=64, seed=6)
    logs = model.train_on_batch(images, targets, return_dict=True)
    assert np.isfinite(logs["loss"]) and "localization_loss" in logs


def test_postprocess_stays_float32_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = small_ssdlite()
        raw = model(np.zeros((1, 96, 96, 3), "float32"))
        detections = model.postprocess(raw)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.backbone.compute_dtype == "float16"
    assert raw["boxes"].dtype == "float32"
    assert detections["boxes"].dtype == "float32" and detections["scores"].dtype == "float32"


def test_bad_arguments_are_refused(lite):
    with pytest.raises(ValueError, match="classification"):
        SSDDetector(CLASSES, lite.backbone, classification="hinge")
    with pytest.raises(ValueError, match="backbone_weights"):
        ssdlite_mobilenet_v2(CLASSES, backbone_weights="weights.bin")
    with pytest.raises(ValueError, match="anchor_scales"):
        SSDDetector(CLASSES, lite.backbone, feature_names=["final", "stride_16"],
                    anchor_scales=[(0.1,), (0.2,), (0.3,)])


def test_ssdlite_classifies_with_softmax_unless_told_otherwise():
    assert small_ssdlite().classification == "softmax"
    assert small_ssdlite(classification="focal").classification == "focal"
