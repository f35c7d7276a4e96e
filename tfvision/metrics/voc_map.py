"""PASCAL VOC 2007 mean average precision (11-point, IoU >= 0.5).

References:
    Everingham et al., "The PASCAL Visual Object Classes (VOC) Challenge",
    IJCV 2010, Section 4.2 (11-point interpolated average precision).
"""

import numpy as np


def box_iou(boxes, others):
    """Pairwise IoU of `yxyx` boxes: `[N, 4]` x `[M, 4]` -> `[N, M]`."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 1, 4)  # [N, 1, 4]
    others = np.asarray(others, dtype=np.float64).reshape(1, -1, 4)  # [1, M, 4]
    top_left = np.maximum(boxes[..., :2], others[..., :2])
    bottom_right = np.minimum(boxes[..., 2:], others[..., 2:])
    intersection = np.prod(np.clip(bottom_right - top_left, 0, None), axis=-1)
    area = lambda b: np.prod(np.clip(b[..., 2:] - b[..., :2], 0, None), axis=-1)
    union = area(boxes) + area(others) - intersection
    return np.where(union > 0, intersection / np.maximum(union, 1e-12), 0.0)


def voc07_average_precision(recall, precision):
    """11-point interpolated AP: mean over r in {0, .1, ..., 1} of max p(r' >= r).

    Args:
        recall: array `[D]`, non-decreasing.
        precision: array `[D]`, same length.

    Returns:
        float in 0..1.
    """
    recall, precision = np.asarray(recall), np.asarray(precision)
    points = []
    for threshold in np.arange(11) / 10:  # exact 0.3, unlike arange(0, 1.1, .1)
        reached = precision[recall >= threshold]
        points.append(reached.max() if reached.size else 0.0)
    return float(np.mean(points))


def match_detections(images, class_id, iou_threshold=0.5, return_scores=False):
    """Mark each detection of one class as true or false positive, VOC style.

    Detections over all images are sorted by descending score (stable). Each
    is assigned to the ground-truth box of its class it overlaps most in its
    image; it is a true positive if that IoU is >= `iou_threshold` and the box
    was not already taken by a higher-scoring detection, else a false positive.

    Args:
        images: list of per-image dicts with unpadded `gt_boxes`, `gt_labels`,
            `boxes`, `scores`, `classes`.
        class_id: the class to evaluate.
        iou_threshold: minimum IoU of a match. Defaults to `0.5`.
        return_scores: bool, also return the detections' scores. Defaults to `False`.

    Returns:
        `(is_true_positive [D] bool, num_ground_truth)`, ordered by score
        (descending), and with `return_scores` the scores `[D]` in that order.
    """
    entries, gt_per_image, num_gt = [], [], 0
    for index, image in enumerate(images):
        gt = np.asarray(image["gt_boxes"]).reshape(-1, 4)
        gt = gt[np.asarray(image["gt_labels"]) == class_id]
        gt_per_image.append(gt)
        num_gt += len(gt)
        keep = np.asarray(image["classes"]) == class_id
        boxes = np.asarray(image["boxes"]).reshape(-1, 4)[keep]
        for score, box in zip(np.asarray(image["scores"])[keep], boxes):
            entries.append((float(score), index, box))
    order = np.argsort([-score for score, _, _ in entries], kind="stable")
    taken = [np.zeros(len(gt), bool) for gt in gt_per_image]
    is_true_positive = np.zeros(len(entries), bool)
    for rank, entry_index in enumerate(order):
        _, index, box = entries[entry_index]
        if len(gt_per_image[index]) == 0:
            continue
        overlaps = box_iou(box, gt_per_image[index])[0]
        best = int(np.argmax(overlaps))
        if overlaps[best] >= iou_threshold and not taken[index][best]:
            taken[index][best] = True
            is_true_positive[rank] = True
    if return_scores:
        scores = np.array([entries[i][0] for i in order], np.float64)
        return is_true_positive, num_gt, scores
    return is_true_positive, num_gt


def voc07_map(images, num_classes, iou_threshold=0.5):
    """VOC07 11-point mAP over classes that have ground truth.

    Args:
        images: list of per-image dicts with unpadded `gt_boxes [M, 4]`,
            `gt_labels [M]`, `boxes [K, 4]` (relative `yxyx`), `scores [K]`,
            `classes [K]`.
        num_classes: number of classes (labels are 0..num_classes-1).
        iou_threshold: minimum IoU of a true positive. Defaults to `0.5`.

    Returns:
        `(mean_ap, per_class_ap)`: `per_class_ap` is a float array
        `[num_classes]` with NaN for classes without ground truth; `mean_ap`
        is the mean of the others (NaN if there are none).

    Example:
    >>> image = {"gt_boxes": [[0, 0, .5, .5]], "gt_labels": [0],
    ...          "boxes": [[0, 0, .5, .5]], "scores": [.9], "classes": [0]}
    >>> float(voc07_map([image], num_classes=1)[0])
    1.0
    """
    per_class_ap = np.full(num_classes, np.nan)
    for class_id in range(num_classes):
        is_true_positive, num_gt = match_detections(images, class_id, iou_threshold)
        if num_gt == 0:
            continue
        true_positives = np.cumsum(is_true_positive)
        false_positives = np.cumsum(~is_true_positive)
        recall = true_positives / num_gt
        precision = true_positives / np.maximum(true_positives + false_positives, 1)
        per_class_ap[class_id] = voc07_average_precision(recall, precision)
    valid = per_class_ap[~np.isnan(per_class_ap)]
    mean_ap = float(valid.mean()) if valid.size else float("nan")
    return mean_ap, per_class_ap
