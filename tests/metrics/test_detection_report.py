"""The evaluation report: metrics.json against pycocotools, the confusion matrix and F1 by hand."""

import json

import numpy as np
import pytest
from PIL import Image

from tfvision.metrics import DetectionEvaluator, confusion_matrix, f1_curves, write_detection_report

BOX_1, BOX_2, BOX_3, FAR = [0.1, 0.1, 0.4, 0.4], [0.5, 0.5, 0.9, 0.9], [0.1, 0.6, 0.4, 0.9], \
    [0.6, 0.0, 0.9, 0.3]


def _image(gt_boxes, gt_labels, boxes, scores, classes):
    return {"gt_boxes": np.array(gt_boxes, np.float64).reshape(-1, 4),
            "gt_labels": np.array(gt_labels, np.int64),
            "boxes": np.array(boxes, np.float64).reshape(-1, 4),
            "scores": np.array(scores, np.float64), "classes": np.array(classes, np.int64)}


# Class 0 found (0.9); a class-1 box called class 0 (0.8); a class-0 box missed, with a
# class-1 detection on nothing (0.7) and a class-0 one on the box below the threshold (0.1).
IMAGES = [
    _image([BOX_1], [0], [BOX_1], [0.9], [0]),
    _image([BOX_2], [1], [BOX_2], [0.8], [0]),
    _image([BOX_3], [0], [FAR, BOX_3], [0.7, 0.1], [1, 0]),
]


def test_confusion_matrix_by_hand():
    matrix = confusion_matrix(IMAGES, 2, score_threshold=0.25)
    # rows: true 0, true 1, background; columns: predicted 0, predicted 1, background
    assert matrix.tolist() == [[1, 0, 1], [1, 0, 0], [0, 1, 0]]
    # With every score, the 0.1 detection finds the missed box.
    assert confusion_matrix(IMAGES, 2, score_threshold=0.0).tolist() == \
        [[2, 0, 0], [1, 0, 0], [0, 1, 0]]


def test_f1_against_the_score_threshold_by_hand():
    thresholds = [0.05, 0.5, 0.85, 0.95]
    f1 = f1_curves(IMAGES, 3, thresholds)
    # Class 0 has 2 boxes. >= 0.05: 2 TP of 3 detections (P 2/3, R 1); >= 0.5: 1 of 2
    # (P 1/2, R 1/2); >= 0.85: 1 of 1 (P 1, R 1/2); >= 0.95: none.
    np.testing.assert_allclose(f1[0], [0.8, 0.5, 2 / 3, 0.0])
    np.testing.assert_allclose(f1[1], [0.0, 0.0, 0.0, 0.0])  # its one detection is wrong
    assert np.isnan(f1[2]).all()  # no box of class 2


def _random_evaluator(num_classes, seed, images=12):
    rng = np.random.default_rng(seed)
    evaluator = DetectionEvaluator([f"c{i}" for i in range(num_classes)], image_size=(200, 300))
    for _ in range(images):
        corners = rng.uniform(0, 0.6, (1, 5, 2))
        gt = np.concatenate([corners, corners + rng.uniform(0.1, 0.4, (1, 5, 2))], -1)
        noisy = gt + rng.normal(0, 0.03, gt.shape)
        evaluator.update(gt, rng.integers(0, num_classes, (1, 5)), noisy,
                         rng.uniform(0, 1, (1, 5)), rng.integers(0, num_classes, (1, 5)))
    return evaluator


def test_metrics_json_holds_pycocotools_twelve_numbers_and_every_class(tmp_path):
    evaluator = _random_evaluator(4, seed=0)
    result, metrics = write_detection_report(evaluator, tmp_path)
    stats = evaluator.evaluation.stats
    names = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm",
             "ARl")
    for index, name in enumerate(names):
        assert metrics[name] == pytest.approx(stats[index]) and result[name] == metrics[name]
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk["AP50"] == pytest.approx(stats[1]) and on_disk["num_images"] == 12
    assert on_disk["num_ground_truth"] == 60 and on_disk["num_detections"] == 60
    assert sum(c["ground_truth"] for c in on_disk["per_class"].values()) == 60
    for name, row in on_disk["per_class"].items():
        assert row["AP"] == pytest.approx(result["per_class_AP"][name])
        assert row["VOC07_AP50"] == pytest.approx(result["voc07_per_class_AP"][name])
    assert len(on_disk["confusion_matrix"]["counts"]) == 5
    for png in ("pr_curves.png", "confusion_matrix.png", "f1_curve.png"):
        assert Image.open(tmp_path / png).size[0] > 300


def test_a_perfect_detector_over_120_classes_reports_each_one(tmp_path):
    names = [f"class {i}" for i in range(120)]
    evaluator = DetectionEvaluator(names, image_size=(100, 100))
    boxes = np.array([[[0.1, 0.1, 0.6, 0.6]]])
    for label in range(120):
        evaluator.update(boxes, [[label]], boxes, [[0.9]], [[label]])
    _, metrics = write_detection_report(evaluator, tmp_path)
    assert len(metrics["per_class"]) == 120
    assert all(row["AP50"] == pytest.approx(1.0) and row["AP"] == pytest.approx(1.0)
               for row in metrics["per_class"].values())
    assert metrics["AP50"] == pytest.approx(1.0)
    matrix = np.array(metrics["confusion_matrix"]["counts"])
    assert np.array_equal(np.diag(matrix)[:120], np.ones(120)) and matrix.sum() == 120
    assert metrics["best_f1_threshold"] == pytest.approx(0.0)  # F1 is 1 up to 0.9
