"""SSDDetector takes its parts as objects: box coder, head, anchor generator, loss."""

import keras
import numpy as np
import pytest
from keras import ops

from tests.testing import run_model_saving_test, run_serialization_test
from tfvision.layers import AnchorGenerator, BoundedBoxCoder, SSDBoxCoder
from tfvision.losses import MultiboxLoss, multibox_loss
from tfvision.models.mobilenet_v2 import MobileNetV2
from tfvision.models.ssd import SSDDetector, SSDHead, ssd_anchor_scales, ssd_multihead
from tfvision.models.ssd import ssdlite_mobilenet_v2
from tfvision.models.ssd.ssd_presets import LECTURE_ASPECT_RATIOS, SSD_ASPECT_RATIOS
from tfvision.ops import assign_targets, encode_ssd, match_anchors

CLASSES = ["circle", "square", "star"]
SIZE = 64
# Two images: two well-separated objects, then one object and a padding row.
GT_BOXES = np.array(
    [[[0.1, 0.1, 0.45, 0.4], [0.55, 0.5, 0.95, 0.9]], [[0.2, 0.3, 0.7, 0.8], [0, 0, 0, 0]]],
    "float32",
)
GT_LABELS = np.array([[0, 2], [1, -1]], "int32")


@keras.saving.register_keras_serializable(package="tests")
class WideSSDBoxCoder(SSDBoxCoder):
    """SSD's coding with other variances: codes of a different scale."""

    def __init__(self, variances=(0.2, 0.5), **kwargs):
        super().__init__(variances, **kwargs)


@keras.saving.register_keras_serializable(package="tests")
class SharedHead(keras.layers.Layer):
    """RetinaNet-style head: the same predictors on every level (levels of one width)."""

    def __init__(self, anchors_per_cell, num_outputs, **kwargs):
        super().__init__(**kwargs)
        self.anchors_per_cell, self.num_outputs = anchors_per_cell, num_outputs
        self.box = keras.layers.Conv2D(anchors_per_cell * 4, 3, padding="same", name="box")
        self.cls = keras.layers.Conv2D(anchors_per_cell * num_outputs, 3, padding="same",
                                       name="cls")

    def build(self, input_shapes):
        self.box.build(input_shapes[0])
        self.cls.build(input_shapes[0])

    def call(self, features):
        boxes, classes = [], []
        for x in features:
            rows = x.shape[1] * x.shape[2] * self.anchors_per_cell
            boxes.append(ops.reshape(self.box(x), (-1, rows, 4)))
            classes.append(ops.reshape(self.cls(x), (-1, rows, self.num_outputs)))
        return {"boxes": ops.concatenate(boxes, 1), "classes": ops.concatenate(classes, 1)}

    def compute_output_spec(self, features):
        rows = sum(x.shape[1] * x.shape[2] for x in features) * self.anchors_per_cell
        batch = features[0].shape[0]
        return {"boxes": keras.KerasTensor((batch, rows, 4)),
                "classes": keras.KerasTensor((batch, rows, self.num_outputs))}

    def get_config(self):
        return {**super().get_config(), "anchors_per_cell": self.anchors_per_cell,
                "num_outputs": self.num_outputs}


@keras.saving.register_keras_serializable(package="tests")
class CountingLoss(MultiboxLoss):
    """A multibox loss times `weight`, counting its calls."""

    def __init__(self, weight=1.0, **kwargs):
        super().__init__(**kwargs)
        self.weight, self.calls = float(weight), 0

    def __call__(self, targets, predictions, total_positives=None):
        self.calls += 1
        losses = super().__call__(targets, predictions, total_positives)
        return {k: v if k == "num_positives" else v * self.weight for k, v in losses.items()}

    def get_config(self):
        return {**super().get_config(), "weight": self.weight}


def small_ssdlite(**parts):
    if "loss" not in parts:  # these tests build sigmoid logits: one column per class
        parts.setdefault("classification", "focal")
    return ssdlite_mobilenet_v2(CLASSES, alpha=0.35, image_size=SIZE, backbone_weights=None,
                                extra_channels=(16, 16, 16, 16), **parts)


def small_multihead(**parts):
    return ssd_multihead(CLASSES, alpha=0.35, image_size=SIZE, backbone_weights=None,
                         filters=8, **parts)


def shared_head_detector(**kwargs):
    """Two 16-channel levels (2x2, 1x1) over one anchor generator and a shared head."""
    backbone = MobileNetV2(alpha=0.35, input_shape=(SIZE, SIZE, 3), include_top=False,
                           weights=None)
    levels = [keras.layers.Conv2D(16, 1, name="p0"),
              keras.layers.Conv2D(16, 3, strides=2, padding="same", name="p1")]
    generator = AnchorGenerator([2, 1], zooms=(1.0, 1.6), aspect_ratios=SSD_ASPECT_RATIOS)
    return SSDDetector(
        CLASSES, backbone, feature_names=[], extra_layers=levels, extras_from="final",
        anchor_generator=generator, head=SharedHead(6, len(CLASSES), name="shared_head"),
        max_detections=10, **kwargs,
    )


def images(batch=2, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (batch, SIZE, SIZE, 3)).astype("float32")


def numpy_encode_ssd(boxes, anchors, variances):
    """SSD's Eq. 2 with variances `(y, x, h, w)`, written out in NumPy."""
    centre, size = (boxes[..., :2] + boxes[..., 2:]) / 2, boxes[..., 2:] - boxes[..., :2]
    a_centre, a_size = (anchors[:, :2] + anchors[:, 2:]) / 2, anchors[:, 2:] - anchors[:, :2]
    v = np.asarray(variances)
    return np.concatenate([(centre - a_centre) / a_size / v[:2],
                           np.log(size / a_size) / v[2:]], -1)


def test_an_injected_box_coder_encodes_the_targets_and_postprocess_decodes_them():
    model = small_ssdlite(box_coder=WideSSDBoxCoder())
    targets = model.assign_targets(GT_BOXES, GT_LABELS)
    positive = np.asarray(targets["positive"])
    assert positive.sum() >= 3
    matched = np.asarray(match_anchors(model.anchors, GT_BOXES, GT_LABELS)["matched_boxes"])
    expected = numpy_encode_ssd(matched, model.anchors, (0.2, 0.2, 0.5, 0.5))
    deltas = np.asarray(targets["deltas"])
    np.testing.assert_allclose(deltas[positive], expected[positive], rtol=1e-5, atol=1e-5)
    default = np.asarray(numpy_encode_ssd(matched, model.anchors, (0.1, 0.1, 0.2, 0.2)))
    assert np.abs(deltas[positive] - default[positive]).max() > 0.1  # other variances
    # Head outputs equal to the targets, confident on the matched anchors only:
    # `postprocess` decodes them back to the ground truth, one box per object.
    labels = np.asarray(targets["labels"])
    logits = np.where(positive[..., None] & (np.arange(3) == labels[..., None]), 10.0, -10.0)
    detections = model.postprocess({"boxes": targets["deltas"], "classes": logits})
    for b, count in enumerate([2, 1]):
        assert int(detections["num_detections"][b]) == count
        found = sorted(zip(np.asarray(detections["classes"][b, :count]).tolist(),
                           np.asarray(detections["boxes"][b, :count]).tolist()))
        for (label, box), gt in zip(found, np.argsort(GT_LABELS[b][:count])):
            assert label == GT_LABELS[b, gt]
            np.testing.assert_allclose(box, GT_BOXES[b, gt], atol=1e-5)


def test_an_injected_shared_head_trains_one_fit_step_and_predicts(tmp_path):
    model = shared_head_detector()
    assert model.grid_sizes == [(2, 2), (1, 1)] and model.num_anchors == 30
    assert len(model.head.trainable_weights) == 4  # one box and one class predictor
    before = [np.array(w) for w in model.head.trainable_weights]
    model.compile(optimizer=keras.optimizers.SGD(0.05))
    x = images()
    history = model.fit(x, {"boxes": GT_BOXES, "labels": GT_LABELS}, batch_size=2, epochs=1,
                        verbose=0)
    assert np.isfinite(history.history["loss"][0]) and "localization_loss" in history.history
    after = [np.array(w) for w in model.head.trainable_weights]
    assert all(np.abs(a - b).max() > 0 for a, b in zip(after, before))
    raw = model(x)
    assert raw["boxes"].shape == (2, 30, 4) and raw["classes"].shape == (2, 30, 3)
    detections = model.predict(x, verbose=0)
    assert detections["boxes"].shape == (2, 10, 4) and detections["classes"].shape == (2, 10)
    # The injected parts survive the config and a `.keras` file.
    revived = run_serialization_test(model)
    assert isinstance(revived.head, SharedHead) and revived.head.name == "shared_head"
    np.testing.assert_array_equal(revived.anchors, model.anchors)
    run_model_saving_test(model, x, str(tmp_path / "shared.keras"), atol=1e-6)


def test_an_injected_loss_is_what_compute_loss_uses():
    loss = CountingLoss(2.5, classification="softmax", localization="l1")
    model = small_ssdlite(loss=loss)
    assert model.detection_loss is loss and model.head.num_outputs == len(CLASSES) + 1
    x = images(seed=1)
    raw = model(x)
    value = model.compute_loss(x, {"boxes": GT_BOXES, "labels": GT_LABELS}, raw)
    assert loss.calls == 1
    targets = assign_targets(ops.convert_to_tensor(model.anchors), GT_BOXES, GT_LABELS, 0.5,
                             encode_ssd)
    expected = multibox_loss(raw["boxes"], raw["classes"], targets["deltas"], targets["labels"],
                             targets["positive"], localization="l1", classification="softmax")
    np.testing.assert_allclose(float(value), 2.5 * float(expected["loss"]), rtol=1e-5)
    np.testing.assert_allclose(float(model.localization_tracker.result()),
                               2.5 * float(expected["localization"]), rtol=1e-5)
    # Scores are the loss's reading of the logits: a softmax without the background.
    logits = np.asarray(raw["classes"])
    softmax = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(model.class_scores(logits), softmax[..., 1:], rtol=1e-5, atol=1e-7)
    config = model.get_config()
    assert config["loss"]["config"]["weight"] == 2.5 and config["classification"] is None
    assert SSDDetector.from_config(config).detection_loss.weight == 2.5


@pytest.mark.parametrize("preset", ["ssdlite", "multihead"])
def test_string_shortcuts_and_the_explicit_default_parts_give_identical_outputs(preset):
    if preset == "ssdlite":
        shortcuts = small_ssdlite()
        grids, scales = [4, 2, 1, 1, 1, 1], ssd_anchor_scales(6)
        explicit = small_ssdlite(
            head=SSDHead([6] * 6, len(CLASSES), "separable", class_prior=0.01, name="head"),
            box_coder=SSDBoxCoder((0.1, 0.2)),
            anchor_generator=[AnchorGenerator([g], [s * g for s in level], SSD_ASPECT_RATIOS)
                              for g, level in zip(grids, scales)],
            loss=MultiboxLoss("focal", "smooth_l1", 0.25, 2.0, 3),
        )
    else:
        shortcuts = small_multihead()
        explicit = small_multihead(
            head=SSDHead([3] * 3, len(CLASSES), "conv", class_prior=0.018, name="head"),
            box_coder=BoundedBoxCoder(),
            # One generator for all three levels: a cell-sized anchor in every grid.
            anchor_generator=AnchorGenerator([2, 1, 1], aspect_ratios=LECTURE_ASPECT_RATIOS),
            loss=MultiboxLoss("bce", "l1"),
        )
    explicit.set_weights(shortcuts.get_weights())
    np.testing.assert_array_equal(explicit.anchors, shortcuts.anchors)
    np.testing.assert_array_equal(explicit.anchor_grid_sizes, shortcuts.anchor_grid_sizes)
    x = images(seed=2)
    y = {"boxes": GT_BOXES, "labels": GT_LABELS}
    raw, raw_explicit = shortcuts(x), explicit(x)
    for key in ("boxes", "classes"):
        np.testing.assert_array_equal(raw_explicit[key], raw[key])
    for key, value in shortcuts.postprocess(raw).items():
        np.testing.assert_array_equal(explicit.postprocess(raw_explicit)[key], value)
    assert float(explicit.compute_loss(x, y, raw_explicit)) == float(
        shortcuts.compute_loss(x, y, raw))
    # The configs hold the shortcuts on one side, the serialized parts on the other.
    a, b = shortcuts.get_config(), explicit.get_config()
    for key in ("head", "box_coder", "anchor_generator", "loss"):
        assert a[key] is None and b[key] is not None
    for key in ("head_type", "coding", "anchor_scales", "aspect_ratios", "classification"):
        assert a[key] is not None and b[key] is None


def test_a_part_and_its_shortcut_together_or_parts_that_do_not_fit_are_refused():
    backbone = MobileNetV2(alpha=0.35, input_shape=(SIZE, SIZE, 3), include_top=False,
                           weights=None)
    with pytest.raises(ValueError, match="Pass `box_coder` or its shortcuts"):
        SSDDetector(CLASSES, backbone, box_coder=SSDBoxCoder(), coding="bounded")
    with pytest.raises(ValueError, match="Pass `loss` or its shortcuts"):
        SSDDetector(CLASSES, backbone, loss=MultiboxLoss(), classification="bce")
    with pytest.raises(ValueError, match=r"levels, in order: \[\(2, 2\)\]"):
        SSDDetector(CLASSES, backbone, anchor_generator=AnchorGenerator([3]))
    with pytest.raises(ValueError, match="one row per anchor"):  # softmax needs C + 1 logits
        SSDDetector(CLASSES, backbone, head=SSDHead([1], len(CLASSES)), classification="softmax")
    with pytest.raises(ValueError, match="Received: coding='yolo'"):
        SSDDetector(CLASSES, backbone, coding="yolo")
