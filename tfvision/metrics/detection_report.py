"""What a detector evaluation leaves behind: `metrics.json`, PR curves, confusion matrix, F1 curve.

`write_detection_report(evaluator, out_dir)` evaluates a `DetectionEvaluator` once and
writes:

- `metrics.json`: pycocotools' 12 summary numbers (`AP`, `AP50`, `AP75`, `APs`, `APm`,
  `APl`, `AR1`, `AR10`, `AR100`, `ARs`, `ARm`, `ARl`), VOC07 mAP@0.5, and for every class,
  however many there are, its COCO AP, AP50, VOC07 AP, ground-truth boxes and detections;
  `null` where a class has no ground truth.
- `pr_curves.png`: precision against recall at IoU 0.5 per class, as COCOeval
  interpolates it on its 101 recall points, with the mean.
- `confusion_matrix.png`: rows the true class, columns the predicted one, with a
  `background` row (detections that match no box: false positives) and column (boxes
  no detection found), at IoU 0.5 and a score threshold; rows normalised.
- `f1_curve.png`: F1 at IoU 0.5 against the score threshold, per class and mean, with
  the threshold where the mean peaks.
"""

import json
import math
import os

import numpy as np

from tfvision.metrics.voc_map import box_iou, match_detections

COCO_STATS = ("AP", "AP50", "AP75", "APs", "APm", "APl",
              "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


def _number(value):
    value = float(value)
    return None if math.isnan(value) else value


def detection_metrics(result, evaluation, images, class_names):
    """The `metrics.json` content of one evaluation.

    Args:
        result: dict, `DetectionEvaluator.result()`.
        evaluation: the `COCOeval` it ran (`DetectionEvaluator.evaluation`).
        images: the evaluator's per-image dicts.
        class_names: list of str.

    Returns:
        dict (JSON-ready; NaN written as `None`).
    """
    gt_counts = np.zeros(len(class_names), np.int64)
    detection_counts = np.zeros(len(class_names), np.int64)
    for image in images:
        gt_counts += np.bincount(image["gt_labels"], minlength=len(class_names))
        detection_counts += np.bincount(image["classes"], minlength=len(class_names))
    per_class = {}
    for index, name in enumerate(class_names):
        per_class[name] = {
            "AP": _number(result["per_class_AP"][name]),
            "AP50": _number(result["per_class_AP50"][name]),
            "VOC07_AP50": _number(result["voc07_per_class_AP"][name]),
            "ground_truth": int(gt_counts[index]),
            "detections": int(detection_counts[index]),
        }
    return {
        **{name: _number(value) for name, value in zip(COCO_STATS, evaluation.stats)},
        "voc07_map": _number(result["voc07_map"]),
        "num_images": len(images),
        "num_ground_truth": int(gt_counts.sum()),
        "num_detections": int(detection_counts.sum()),
        "per_class": per_class,
    }


def confusion_matrix(images, num_classes, iou_threshold=0.5, score_threshold=0.25):
    """Counts `[K + 1, K + 1]`: row the true class, column the predicted one; index `K` is
    background (row: a detection matching no box; column: a box no detection matched).

    Detections scoring at least `score_threshold` are matched to the boxes of their
    image by IoU (at least `iou_threshold`), best pairs first, each box and detection
    used once, whatever their classes.
    """
    matrix = np.zeros((num_classes + 1, num_classes + 1), np.int64)
    for image in images:
        keep = np.asarray(image["scores"]) >= score_threshold
        boxes, classes = np.asarray(image["boxes"]).reshape(-1, 4)[keep], image["classes"][keep]
        gt_boxes, gt_labels = np.asarray(image["gt_boxes"]).reshape(-1, 4), image["gt_labels"]
        overlaps = box_iou(gt_boxes, boxes) if len(boxes) and len(gt_boxes) else \
            np.zeros((len(gt_boxes), len(boxes)))
        pairs = np.argwhere(overlaps >= iou_threshold)
        pairs = pairs[np.argsort(-overlaps[pairs[:, 0], pairs[:, 1]], kind="stable")]
        used_gt, used_detection = set(), set()
        for gt, detection in pairs.tolist():
            if gt not in used_gt and detection not in used_detection:
                used_gt.add(gt)
                used_detection.add(detection)
                matrix[gt_labels[gt], classes[detection]] += 1
        for gt in set(range(len(gt_boxes))) - used_gt:
            matrix[gt_labels[gt], num_classes] += 1
        for detection in set(range(len(boxes))) - used_detection:
            matrix[num_classes, classes[detection]] += 1
    return matrix


def f1_curves(images, num_classes, thresholds, iou_threshold=0.5):
    """F1 per class at each score threshold: float `[K, T]`, NaN for classes without boxes.

    A detection is a true positive as in VOC (`match_detections`); at threshold `t`
    precision and recall count the detections scoring at least `t`.
    """
    thresholds = np.asarray(thresholds, np.float64)
    f1 = np.full((num_classes, len(thresholds)), np.nan)
    for class_id in range(num_classes):
        is_true_positive, num_gt, scores = match_detections(images, class_id, iou_threshold,
                                                            return_scores=True)
        if num_gt == 0:
            continue
        above = scores[None, :] >= thresholds[:, None]  # [T, D]
        true_positives = (above & is_true_positive[None, :]).sum(axis=1)
        detections = above.sum(axis=1)
        precision = true_positives / np.maximum(detections, 1)
        recall = true_positives / num_gt
        f1[class_id] = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return f1


def _figure(width=6.0, height=4.5):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height))
    return figure, figure.subplots()


def _mean_curve(curves):
    valid = curves[~np.isnan(curves).all(axis=1)]
    return valid.mean(axis=0) if len(valid) else None


def plot_pr_curves(evaluation, class_names, path):
    """Precision against recall at IoU 0.5 per class (COCOeval's 101 recall points)."""
    recall = np.asarray(evaluation.params.recThrs)
    precision = evaluation.eval["precision"][0, :, :, 0, -1]  # [R, K]
    figure, axis = _figure()
    curves = []
    for index, name in enumerate(class_names):
        column = precision[:, evaluation.params.catIds.index(index + 1)]
        if (column > -1).any():
            curves.append(column)
            axis.plot(recall, column, linewidth=1, label=f"{name} {column.mean():.3f}")
        else:
            curves.append(np.full_like(column, np.nan))
    mean = _mean_curve(np.array(curves))
    if mean is not None:
        axis.plot(recall, mean, color="black", linewidth=2.5, label=f"mean {mean.mean():.3f}")
    axis.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02),
             title="Precision-recall at IoU 0.5 (AP50 per class)")
    if len(class_names) <= 20:
        axis.legend(fontsize=7, loc="best")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return path


def plot_confusion_matrix(matrix, class_names, path, score_threshold):
    """The confusion matrix, rows normalised, counts written in the cells."""
    names = list(class_names) + ["background"]
    side = min(4 + 0.45 * len(names), 24)
    figure, axis = _figure(side + 1, side)
    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros(matrix.shape, np.float64),
                       where=totals > 0)
    image = axis.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04)
    axis.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    axis.set_yticks(range(len(names)), names, fontsize=7)
    axis.set(xlabel="predicted", ylabel="true",
             title=f"Confusion matrix (IoU 0.5, score >= {score_threshold:g})")
    if len(names) <= 30:
        for (row, column), count in np.ndenumerate(matrix):
            if count:
                axis.text(column, row, str(count), ha="center", va="center", fontsize=6,
                          color="white" if shares[row, column] > 0.5 else "black")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return path


def plot_f1_curve(thresholds, f1, class_names, path):
    """F1 against the score threshold per class, and the mean with its best threshold."""
    figure, axis = _figure()
    for name, curve in zip(class_names, f1):
        if not np.isnan(curve).all():
            axis.plot(thresholds, curve, linewidth=1, alpha=0.7,
                      label=name if len(class_names) <= 20 else None)
    mean = _mean_curve(f1)
    best = None
    if mean is not None:
        best = int(np.argmax(mean))
        axis.plot(thresholds, mean, color="black", linewidth=2.5,
                  label=f"mean: best {mean[best]:.3f} at {thresholds[best]:.2f}")
    axis.set(xlabel="score threshold", ylabel="F1", xlim=(0, 1), ylim=(0, 1.02),
             title="F1 at IoU 0.5 against the score threshold")
    if axis.get_legend_handles_labels()[0]:
        axis.legend(fontsize=7, loc="best")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return None if best is None else float(thresholds[best])


def write_detection_report(evaluator, out_dir, score_threshold=0.25):
    """Evaluates `evaluator` and writes `metrics.json` and the three PNGs to `out_dir`.

    Args:
        evaluator: a `DetectionEvaluator` holding the images to evaluate.
        out_dir: str, created if needed.
        score_threshold: float, the confusion matrix's minimum score. Defaults to `0.25`.

    Returns:
        `(result, metrics)`: `DetectionEvaluator.result()` and the `metrics.json`
        content (with `best_f1_threshold`, the score where the mean F1 peaks).
    """
    os.makedirs(out_dir, exist_ok=True)
    result = evaluator.result()
    names, images = evaluator.class_names, evaluator.images
    metrics = detection_metrics(result, evaluator.evaluation, images, names)
    plot_pr_curves(evaluator.evaluation, names, os.path.join(out_dir, "pr_curves.png"))
    matrix = confusion_matrix(images, len(names), score_threshold=score_threshold)
    plot_confusion_matrix(matrix, names, os.path.join(out_dir, "confusion_matrix.png"),
                          score_threshold)
    thresholds = np.linspace(0.0, 1.0, 101)
    metrics["best_f1_threshold"] = plot_f1_curve(
        thresholds, f1_curves(images, len(names), thresholds), names,
        os.path.join(out_dir, "f1_curve.png"))
    metrics["confusion_matrix"] = {"score_threshold": score_threshold,
                                   "labels": names + ["background"], "counts": matrix.tolist()}
    with open(os.path.join(out_dir, "metrics.json"), "w", encoding="utf-8") as handle:
        json.dump(metrics, handle, indent=1)
    return result, metrics
