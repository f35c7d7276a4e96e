import numpy as np
import pytest
import tensorflow as tf

from tests.testing import run_serialization_test
from tfvision.layers.non_max_suppression import NonMaxSuppression


def random_inputs(seed, batch=2, num_boxes=120, num_classes=4):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 1, (batch, num_boxes, 2))
    sizes = rng.uniform(0.05, 0.4, (batch, num_boxes, 2))
    boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], -1)
    scores = rng.uniform(0, 1, (batch, num_boxes, num_classes)) ** 3
    return boxes.astype("float32"), scores.astype("float32")


def reference(boxes, scores, per_class, total, iou_threshold=0.45, score_threshold=0.01):
    result = tf.image.combined_non_max_suppression(
        boxes[:, :, None, :], scores, per_class, total, iou_threshold, score_threshold, clip_boxes=False
    )
    return {
        "boxes": result.nmsed_boxes.numpy(),
        "scores": result.nmsed_scores.numpy(),
        "classes": result.nmsed_classes.numpy().astype("int32"),
        "num_detections": result.valid_detections.numpy(),
    }


def assert_same_detections(actual, expected):
    np.testing.assert_array_equal(actual["num_detections"], expected["num_detections"])
    for b, n in enumerate(expected["num_detections"]):
        # Sort by (class, score): continuous random scores have no ties.
        keys = {}
        for name, out in (("actual", actual), ("expected", expected)):
            scores = np.asarray(out["scores"])[b, :n]
            classes = np.asarray(out["classes"])[b, :n]
            order = np.lexsort((-scores, classes))
            keys[name] = (np.asarray(out["boxes"])[b, :n][order], scores[order], classes[order])
        for a, e in zip(keys["actual"], keys["expected"]):
            np.testing.assert_allclose(a, e, atol=1e-6)


@pytest.mark.parametrize(
    "seed, score_threshold, max_detections",
    [(0, 0.01, 50), (1, 0.01, 100), (2, 0.3, 100), (3, 0.6, 20)],
)
def test_matches_combined_non_max_suppression(seed, score_threshold, max_detections):
    boxes, scores = random_inputs(seed)
    layer = NonMaxSuppression(
        score_threshold=score_threshold, pre_nms_top_k=boxes.shape[1], max_detections=max_detections
    )
    actual = layer(boxes, scores)
    expected = reference(boxes, scores, max_detections, max_detections, 0.45, score_threshold)
    assert_same_detections(actual, expected)
    # Best first, like the reference.
    np.testing.assert_allclose(actual["scores"], expected["scores"], atol=1e-6)


def test_max_detections_per_class_matches_reference():
    boxes, scores = random_inputs(4)
    layer = NonMaxSuppression(pre_nms_top_k=boxes.shape[1], max_detections=30, max_detections_per_class=5)
    assert_same_detections(layer(boxes, scores), reference(boxes, scores, 5, 30))


def test_compiles_under_xla_with_same_result():
    boxes, scores = random_inputs(5)
    layer = NonMaxSuppression(pre_nms_top_k=64, max_detections=40)
    eager = layer(boxes, scores)
    compiled = tf.function(lambda b, s: layer(b, s), jit_compile=True)(boxes, scores)
    for name in eager:
        np.testing.assert_array_equal(compiled[name], eager[name])


def test_hand_checked_suppression_and_padding():
    boxes = np.array([[[0.1, 0.1, 0.5, 0.5], [0.12, 0.1, 0.5, 0.5], [0.6, 0.6, 0.9, 0.9]]], "float32")
    scores = np.array([[[0.9, 0.0], [0.8, 0.3], [0.005, 0.7]]], "float32")
    out = NonMaxSuppression(max_detections=5)(boxes, scores)
    # Box 1 of class 0 overlaps box 0 (IoU 0.95): suppressed; box 2 of
    # class 0 is below the score threshold.
    np.testing.assert_array_equal(out["classes"], [[0, 1, 1, -1, -1]])
    np.testing.assert_allclose(out["scores"], [[0.9, 0.7, 0.3, 0.0, 0.0]])
    np.testing.assert_allclose(out["boxes"][0, :3], boxes[0, [0, 2, 1]])
    np.testing.assert_array_equal(out["boxes"][0, 3:], 0.0)
    np.testing.assert_array_equal(out["num_detections"], [3])


def test_all_scores_below_threshold_gives_no_detections():
    boxes, scores = random_inputs(6, num_boxes=10)
    out = NonMaxSuppression(score_threshold=0.5, max_detections=8)(boxes, scores * 0.5)
    np.testing.assert_array_equal(out["num_detections"], [0, 0])
    np.testing.assert_array_equal(out["classes"], -1)
    np.testing.assert_array_equal(out["scores"], 0.0)
    np.testing.assert_array_equal(out["boxes"], 0.0)


def test_output_shapes_and_dtypes_when_fewer_candidates_than_k():
    boxes, scores = random_inputs(7, num_boxes=6, num_classes=2)
    scores = tf.constant(scores, "bfloat16")
    out = NonMaxSuppression(max_detections=20)(boxes, scores)  # 2 * 6 < 20
    assert out["boxes"].shape == (2, 20, 4) and out["boxes"].dtype == tf.float32
    assert out["scores"].shape == (2, 20) and out["classes"].dtype == tf.int32
    assert out["num_detections"].shape == (2,)
    np.testing.assert_array_equal(out["classes"][:, 12:], -1)


def test_pre_nms_top_k_limits_candidates_per_class():
    # Five disjoint boxes of one class: NMS keeps all unless top-k cuts them.
    boxes = np.array([[[0.2 * i, 0.0, 0.2 * i + 0.1, 0.1] for i in range(5)]], "float32")
    scores = np.array([[[0.5], [0.9], [0.4], [0.8], [0.3]]], "float32")
    out = NonMaxSuppression(pre_nms_top_k=2, max_detections=5)(boxes, scores)
    np.testing.assert_array_equal(out["num_detections"], [2])
    np.testing.assert_allclose(out["scores"][0, :2], [0.9, 0.8])


def test_saved_model_round_trip(tmp_path):
    layer = NonMaxSuppression(max_detections=10)
    module = tf.Module()
    module.nms = tf.function(
        lambda b, s: layer(b, s),
        input_signature=[tf.TensorSpec([None, 30, 4]), tf.TensorSpec([None, 30, 3])],
        jit_compile=True,
    )
    tf.saved_model.save(module, str(tmp_path))
    boxes, scores = random_inputs(8, num_boxes=30, num_classes=3)
    restored = tf.saved_model.load(str(tmp_path)).nms(boxes, scores)
    expected = layer(boxes, scores)
    for name in expected:
        np.testing.assert_array_equal(restored[name], expected[name])


def test_num_classes_is_checked():
    boxes, scores = random_inputs(9, num_boxes=5, num_classes=3)
    with pytest.raises(ValueError, match="Received: scores.shape"):
        NonMaxSuppression(num_classes=4)(boxes, scores)


@pytest.mark.parametrize(
    "kwargs",
    [{"iou_threshold": 1.5}, {"pre_nms_top_k": 0}, {"max_detections": 2.5}, {"num_classes": 0}, {"max_detections_per_class": 0}],
)
def test_invalid_arguments(kwargs):
    with pytest.raises(ValueError, match="Received"):
        NonMaxSuppression(**kwargs)


def test_serialization():
    layer = NonMaxSuppression(num_classes=20, score_threshold=0.05, pre_nms_top_k=300, max_detections=50, name="nms")
    revived = run_serialization_test(layer)
    assert revived.max_detections == 50 and revived.name == "nms"
