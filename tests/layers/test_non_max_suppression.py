import numpy as np
import pytest
import tensorflow as tf

from tests.testing import run_serialization_test
from tfvision.layers.non_max_suppression import NonMaxSuppression
from tfvision.ops.greedy_nms import greedy_nms, rest_is_irrelevant


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


def numpygreedy_nms(boxes, valid, iou_threshold):
    """Textbook greedy NMS on score-sorted `[k, 4]` boxes, one box at a time."""
    ymin, xmin = np.minimum(boxes[:, 0], boxes[:, 2]), np.minimum(boxes[:, 1], boxes[:, 3])
    ymax, xmax = np.maximum(boxes[:, 0], boxes[:, 2]), np.maximum(boxes[:, 1], boxes[:, 3])
    area = (ymax - ymin) * (xmax - xmin)
    keep = np.zeros(len(boxes), bool)
    for j in range(len(boxes)):
        if not valid[j]:
            continue
        i = np.flatnonzero(keep)
        inter = np.maximum(np.minimum(ymax[i], ymax[j]) - np.maximum(ymin[i], ymin[j]), 0) * np.maximum(
            np.minimum(xmax[i], xmax[j]) - np.maximum(xmin[i], xmin[j]), 0
        )
        union = area[i] + area[j] - inter
        iou = np.where((area[i] > 0) & (area[j] > 0), inter / np.where(union > 0, union, 1), 0)
        keep[j] = not np.any(iou > iou_threshold)
    return keep


@pytest.mark.parametrize("tile", [1, 4, 7, 32])
def test_tiled_greedy_nms_matches_one_box_at_a_time(tile):
    # Dense, overlapping boxes: suppression chains cross every tile boundary.
    boxes, scores = random_inputs(10, batch=2, num_boxes=50, num_classes=3)
    order = np.argsort(-scores, axis=1, kind="stable")  # [B, N, C]
    sorted_boxes = np.take_along_axis(boxes[:, :, None, :], order[..., None], axis=1)  # [B, N, C, 4]
    sorted_boxes = sorted_boxes.transpose(0, 2, 1, 3)  # [B, C, N, 4]
    sorted_scores = np.take_along_axis(scores, order, axis=1).transpose(0, 2, 1)  # [B, C, N]
    valid = sorted_scores > 0.05
    k = boxes.shape[1]
    # Room for every box of every class: no tile is skipped, every decision is compared.
    keep = greedy_nms(sorted_boxes, sorted_scores, valid, 0.45, k, 3 * k, tile=tile)
    for b in range(2):
        for c in range(3):
            expected = numpygreedy_nms(sorted_boxes[b, c], valid[b, c], 0.45)
            np.testing.assert_array_equal(np.asarray(keep)[b, c], expected)


def chain_across_tiles():
    """One class, 64 boxes: box 0 suppresses box 40 (next tile), which would suppress box 41."""
    y = np.linspace(0.5, 0.99, 64, dtype="float32")  # small boxes 0.005 high, 0.0078 apart
    boxes = np.stack([y, np.full(64, 0.7), y + 0.005, np.full(64, 0.8)], -1).astype("float32")
    boxes[0] = [0.0, 0.0, 0.4, 0.4]
    boxes[40] = [0.0, 0.1, 0.4, 0.5]
    boxes[41] = [0.0, 0.2, 0.4, 0.6]
    scores = np.linspace(0.9, 0.2, 64, dtype="float32")[:, None]
    return boxes[None], scores[None]


def test_suppression_chain_across_a_tile_boundary():
    boxes, scores = chain_across_tiles()
    # IoU(0, 40) = 0.6 and IoU(40, 41) = 0.6 suppress; IoU(0, 41) = 1/3 does not.
    out = NonMaxSuppression(pre_nms_top_k=64, max_detections=64)(boxes, scores)
    assert_same_detections(out, reference(boxes, scores, 64, 64))
    kept_scores = np.asarray(out["scores"])[0, : int(out["num_detections"][0])]
    assert np.isclose(kept_scores, scores[0, 41, 0]).any()  # box 41 survives
    assert not np.isclose(kept_scores, scores[0, 40, 0]).any()  # box 40 is suppressed
    assert int(out["num_detections"][0]) == 63


@pytest.mark.parametrize("max_detections", [5, 30, 200])
def test_decided_by_first_candidates_or_all(max_detections):
    # Few detections: the best candidates per class settle the output and the
    # rest is skipped; many: every candidate is decided. Both match the reference.
    boxes, scores = random_inputs(11, batch=3, num_boxes=150, num_classes=3)
    layer = NonMaxSuppression(score_threshold=0.05, pre_nms_top_k=150, max_detections=max_detections)
    expected = reference(boxes, scores, max_detections, max_detections, 0.45, 0.05)
    assert_same_detections(layer(boxes, scores), expected)
    compiled = tf.function(lambda b, s: layer(b, s))(boxes, scores)
    assert_same_detections(compiled, expected)


def test_rest_is_irrelevant_when_enough_kept_boxes_score_higher():
    scores = np.array([[[0.9, 0.8, 0.3], [0.7, 0.6, 0.5]]], "float32")  # [B=1, C=2, k=3]
    valid = scores > 0.01
    keep = np.array([[[True, True], [True, False]]])  # decisions on the first 2
    # Next candidates score 0.3 and 0.5; kept boxes above 0.5: 0.9, 0.8, 0.7.
    assert bool(rest_is_irrelevant(keep, scores, valid, per_class=10, max_detections=3))
    assert not bool(rest_is_irrelevant(keep, scores, valid, per_class=10, max_detections=4))
    # Class 0 full (per_class=2): only class 1's 0.5 can come, below 0.9, 0.8 and 0.7.
    assert bool(rest_is_irrelevant(keep, scores, valid, per_class=2, max_detections=3))
    # ... but it could be the fourth detection.
    assert not bool(rest_is_irrelevant(keep, scores, valid, per_class=2, max_detections=4))
    # per_class=1: both classes are full, nothing more can come.
    assert bool(rest_is_irrelevant(keep, scores, valid, per_class=1, max_detections=50))
    # Nothing valid left.
    assert bool(rest_is_irrelevant(keep, scores, scores > 0.55, per_class=10, max_detections=50))


def test_zero_area_boxes_are_never_suppressed_nor_suppress():
    boxes = np.array([[[0.1, 0.1, 0.5, 0.5], [0.3, 0.3, 0.3, 0.3], [0.3, 0.3, 0.3, 0.3], [0.2, 0.2, 0.2, 0.6]]], "float32")
    scores = np.array([[[0.9], [0.8], [0.7], [0.6]]], "float32")
    out = NonMaxSuppression(max_detections=4)(boxes, scores)
    # IoU with a zero-area box is 0 (as in tf.image): all four boxes survive.
    assert_same_detections(out, reference(boxes, scores, 4, 4))
    np.testing.assert_array_equal(out["num_detections"], [4])


@pytest.mark.parametrize("max_detections", [5, 200])
def test_branch_free_trace_gives_the_same_detections_without_cond(max_detections):
    # tf2onnx cannot follow shapes into `cond` branches: this trace has none.
    boxes, scores = random_inputs(12, batch=2, num_boxes=150, num_classes=3)
    layer = NonMaxSuppression(score_threshold=0.05, pre_nms_top_k=150, max_detections=max_detections)
    layer.trace_mode = "branch_free"
    function = tf.function(lambda b, s: layer(b, s)).get_concrete_function(
        tf.TensorSpec(boxes.shape, tf.float32), tf.TensorSpec(scores.shape, tf.float32))
    op_types = {op.type for op in function.graph.get_operations()}
    assert not op_types & {"If", "StatelessIf"}
    expected = reference(boxes, scores, max_detections, max_detections, 0.45, 0.05)
    assert_same_detections(function(tf.constant(boxes), tf.constant(scores)), expected)
    layer.trace_mode = "default"
    function = tf.function(lambda b, s: layer(b, s)).get_concrete_function(
        tf.TensorSpec(boxes.shape, tf.float32), tf.TensorSpec(scores.shape, tf.float32))
    assert {op.type for op in function.graph.get_operations()} & {"If", "StatelessIf"}
