import numpy as np
import pytest

from tfvision.metrics.voc_map import voc07_average_precision
from tfvision.metrics.voc_map import voc07_map


def _image(gt_boxes, gt_labels, boxes, scores, classes):
    return {
        "gt_boxes": np.asarray(gt_boxes, float).reshape(-1, 4),
        "gt_labels": np.asarray(gt_labels, int),
        "boxes": np.asarray(boxes, float).reshape(-1, 4),
        "scores": np.asarray(scores, float),
        "classes": np.asarray(classes, int),
    }


def test_hand_built_tp_fp_tp():
    gt = [[0.0, 0.0, 0.4, 0.4], [0.5, 0.5, 0.9, 0.9]]
    # Scores 0.9 (TP), 0.8 (FP: no overlap), 0.7 (TP).
    boxes = [gt[0], [0.0, 0.6, 0.2, 0.8], gt[1]]
    image = _image(gt, [0, 0], boxes, [0.9, 0.8, 0.7], [0, 0, 0])
    # recall 0.5, 0.5, 1.0; precision 1, 1/2, 2/3.
    # 11 points: r = 0..0.5 (6 points) -> 1; r = 0.6..1.0 (5 points) -> 2/3.
    expected = (6 * 1.0 + 5 * 2 / 3) / 11
    mean_ap, per_class = voc07_map([image], num_classes=1)
    assert mean_ap == pytest.approx(expected)
    assert per_class[0] == pytest.approx(28 / 33)


def test_duplicate_detection_is_false_positive_and_no_gt_class_skipped():
    gt = [[0.0, 0.0, 0.4, 0.4]]
    image = _image(gt, [0], [gt[0], gt[0], [0, 0, 0.1, 0.1]], [0.9, 0.8, 0.7], [0, 0, 1])
    mean_ap, per_class = voc07_map([image], num_classes=3)
    assert per_class[0] == pytest.approx(1.0)  # duplicate comes after recall 1
    assert np.isnan(per_class[1]) and np.isnan(per_class[2])  # no GT: skipped
    assert mean_ap == pytest.approx(1.0)


def test_eleven_point_interpolation():
    # Max precision at recall >= r, for r in 0, 0.1, ..., 1.
    recall = np.array([0.3, 0.6, 0.6, 0.9])
    precision = np.array([0.5, 0.8, 0.6, 0.4])
    expected = (4 * 0.8 + 3 * 0.8 + 3 * 0.4 + 1 * 0.0) / 11
    assert voc07_average_precision(recall, precision) == pytest.approx(expected)


def test_no_ground_truth_at_all_is_nan():
    mean_ap, per_class = voc07_map([_image([], [], [], [], [])], num_classes=2)
    assert np.isnan(mean_ap) and np.isnan(per_class).all()
