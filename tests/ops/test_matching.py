import numpy as np
import tensorflow as tf

from tfvision.ops import BACKGROUND
from tfvision.ops import match_anchors
from tests.ops.test_iou import brute_force_iou


def grid_anchors(n):
    """An n x n grid of cell-sized anchors, relative yxyx, row-major."""
    edges = np.linspace(0, 1, n + 1)
    return np.array(
        [[edges[i], edges[j], edges[i + 1], edges[j + 1]] for i in range(n) for j in range(n)],
        "float32",
    )


def reference_match(anchors, boxes, labels, threshold):
    """Per-image loop, the fast.ai lecture's `map_to_ground_truth` with padding."""
    num_anchors = len(anchors)
    valid = np.flatnonzero(labels >= 0)
    gt_index = np.zeros(num_anchors, int)
    positive = np.zeros(num_anchors, bool)
    if len(valid):
        iou = brute_force_iou(anchors, boxes[valid])  # [N, V]
        gt_index = valid[iou.argmax(1)]
        positive = iou.max(1) >= threshold
        for v, m in enumerate(valid):  # later ground truth overrides earlier
            if iou[:, v].max() > 0:
                best = iou[:, v].argmax()
                gt_index[best] = m
                positive[best] = True
    out_labels = np.where(positive, labels[gt_index], BACKGROUND)
    out_boxes = np.where(positive[:, None], boxes[gt_index], anchors)
    return gt_index, positive, out_labels, out_boxes


def as_numpy(out):
    return {k: np.asarray(v) for k, v in out.items()}


def test_threshold_and_forced_match_hand_built():
    anchors = grid_anchors(2)  # 4 quadrants
    boxes = np.array(
        [[
            [0.0, 0.0, 0.5, 0.4],  # IoU 0.8 with anchor 0
            [0.5, 0.5, 0.7, 0.7],  # IoU 0.16 with anchor 3 only: forced
            [0.0, 0.0, 0.0, 0.0],  # padding
        ]],
        "float32",
    )
    labels = np.array([[5, 7, -1]])
    out = as_numpy(match_anchors(anchors, boxes, labels, iou_threshold=0.5))
    np.testing.assert_array_equal(out["positive"], [[True, False, False, True]])
    np.testing.assert_array_equal(out["matched_labels"], [[5, BACKGROUND, BACKGROUND, 7]])
    np.testing.assert_allclose(out["matched_iou"], [[0.8, 0.0, 0.0, 0.16]], atol=1e-6)
    np.testing.assert_allclose(out["matched_boxes"][0, 3], boxes[0, 1])
    np.testing.assert_allclose(out["matched_boxes"][0, 1], anchors[1])  # background: the anchor
    # Above both IoUs, both ground truths still keep their anchor by forcing.
    high = as_numpy(match_anchors(anchors, boxes, labels, iou_threshold=0.9))
    np.testing.assert_array_equal(high["matched_labels"], out["matched_labels"])


def test_ordinary_match_above_threshold_only():
    anchors = grid_anchors(2)
    # One box covering the top half: IoU 0.5 with anchors 0 and 1.
    boxes = np.array([[[0.0, 0.0, 0.5, 1.0]]], "float32")
    labels = np.array([[2]])
    at = as_numpy(match_anchors(anchors, boxes, labels, iou_threshold=0.5))
    np.testing.assert_array_equal(at["positive"], [[True, True, False, False]])
    above = as_numpy(match_anchors(anchors, boxes, labels, iou_threshold=0.51))
    # Only the forced match remains (ties go to the lowest anchor index).
    np.testing.assert_array_equal(above["positive"], [[True, False, False, False]])


def test_forced_match_overrides_previous_match():
    anchors = np.array([[0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 0.6, 0.6]], "float32")
    boxes = np.array(
        [[
            [0.0, 0.0, 0.6, 0.6],  # IoU 0.69 with anchor 0 (its ordinary match), 1.0 with anchor 1
            [0.0, 0.0, 0.3, 0.3],  # IoU 0.36 with anchor 0, 0.25 with anchor 1: forced onto 0
        ]],
        "float32",
    )
    out = as_numpy(match_anchors(anchors, boxes, np.array([[1, 2]])))
    np.testing.assert_array_equal(out["matched_gt_index"], [[1, 0]])
    np.testing.assert_array_equal(out["matched_labels"], [[2, 1]])
    np.testing.assert_allclose(out["matched_iou"], [[0.36, 1.0]], atol=1e-6)
    np.testing.assert_allclose(out["matched_boxes"][0], boxes[0, ::-1])


def test_padding_never_matched_and_all_padding_is_background():
    anchors = grid_anchors(3)
    # Image 0: padding boxes overlapping anchors perfectly; image 1: nothing valid at all.
    boxes = np.stack([anchors[:4], anchors[4:8]])  # [2, 4, 4]
    labels = np.array([[3, -1, -1, -1], [-1, -1, -1, -1]])
    out = as_numpy(match_anchors(anchors, boxes, labels))
    np.testing.assert_array_equal(np.flatnonzero(out["positive"][0]), [0])
    assert not out["positive"][1].any()
    assert np.all(out["matched_labels"][1] == BACKGROUND)
    assert np.all(out["matched_labels"][0, 1:] == BACKGROUND)
    np.testing.assert_allclose(out["matched_iou"][1], 0.0)
    np.testing.assert_allclose(out["matched_boxes"][1], anchors)


def random_batch(rng, batch, max_gt):
    corners = np.sort(rng.uniform(0, 1, (batch, max_gt, 2, 2)), axis=2)
    boxes = corners.reshape(batch, max_gt, 4).astype("float32")
    counts = rng.integers(0, max_gt + 1, batch)
    counts[0] = max_gt
    counts[-1] = 0
    labels = rng.integers(0, 5, (batch, max_gt))
    labels[np.arange(max_gt)[None] >= counts[:, None]] = -1
    return boxes, labels


def test_every_valid_ground_truth_gets_an_anchor():
    rng = np.random.default_rng(4)
    anchors = grid_anchors(4)  # cells of 0.25
    batch, max_gt = 6, 5
    # Small boxes (side 0.05, best IoU 0.04 < 0.5) in distinct cells.
    cells = np.stack([rng.permutation(16)[:max_gt] for _ in range(batch)])  # [B, M]
    top_left = np.stack([cells // 4, cells % 4], -1) * 0.25
    top_left = top_left + rng.uniform(0, 0.2, (batch, max_gt, 2))
    boxes = np.concatenate([top_left, top_left + 0.05], -1).astype("float32")
    labels = rng.integers(0, 5, (batch, max_gt))
    labels[:, 3:] = -1
    labels[1] = -1
    out = as_numpy(match_anchors(anchors, boxes, labels))
    for b in range(batch):
        for m in range(max_gt):
            matched = out["positive"][b] & (out["matched_gt_index"][b] == m)
            if labels[b, m] >= 0:
                np.testing.assert_array_equal(np.flatnonzero(matched), [cells[b, m]])
            else:
                assert not matched.any()
    assert out["positive"].sum() == 3 * (batch - 1)
    assert out["matched_iou"][out["positive"]].max() < 0.05


def test_matches_per_image_reference_on_random_batches():
    rng = np.random.default_rng(5)
    anchors = np.concatenate([grid_anchors(4), grid_anchors(2)])  # N = 20
    for threshold in (0.3, 0.5):
        boxes, labels = random_batch(rng, 5, 6)
        out = as_numpy(match_anchors(anchors, boxes, labels, iou_threshold=threshold))
        for b in range(5):
            gt_index, positive, ref_labels, ref_boxes = reference_match(
                anchors, boxes[b], labels[b], threshold
            )
            np.testing.assert_array_equal(out["positive"][b], positive)
            np.testing.assert_array_equal(out["matched_gt_index"][b][positive], gt_index[positive])
            np.testing.assert_array_equal(out["matched_labels"][b], ref_labels)
            np.testing.assert_allclose(out["matched_boxes"][b], ref_boxes, atol=1e-7)


def test_match_compiles_under_xla():
    rng = np.random.default_rng(6)
    anchors = grid_anchors(3)
    boxes, labels = random_batch(rng, 3, 4)
    eager = as_numpy(match_anchors(anchors, boxes, labels))
    compiled = tf.function(match_anchors, jit_compile=True)(
        tf.constant(anchors), tf.constant(boxes), tf.constant(labels, tf.int32)
    )
    for key, value in eager.items():
        np.testing.assert_allclose(np.asarray(compiled[key]), value, atol=1e-6)
