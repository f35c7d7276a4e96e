"""COCO mAP (through pycocotools) and VOC07 mAP for padded detections.

Evaluation runs after prediction in NumPy: `DetectionEvaluator.update` takes
padded batches (NumPy arrays or tensors), strips the `-1` padding and keeps
one record per image; `result()` hands COCO-format dicts to pycocotools'
`COCOeval` and runs tfvision's VOC07 implementation on the same records.

References:
    Lin et al., "Microsoft COCO: Common Objects in Context", ECCV 2014.
"""

import contextlib
import io

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from tfvision.metrics.coco_format import coco_detections
from tfvision.metrics.coco_format import coco_ground_truth
from tfvision.metrics.voc_map import voc07_map

# `COCOeval.stats` indices of the summary numbers we report.
_STATS = {"AP": 0, "AP50": 1, "AP75": 2, "APs": 3, "APm": 4, "APl": 5,
          "AR1": 6, "AR10": 7, "AR100": 8, "ARs": 9, "ARm": 10, "ARl": 11}


def run_coco_eval(ground_truth, detections):
    """Run pycocotools' bbox `COCOeval` quietly on in-memory dicts.

    Args:
        ground_truth: COCO dataset dict (see `coco_ground_truth`).
        detections: list of COCO result dicts (see `coco_detections`); may
            be empty, in which case every class with ground truth has AP 0.

    Returns:
        the evaluated `COCOeval` (`stats` and `eval["precision"]` filled).
    """
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = ground_truth
        coco_gt.createIndex()
        if detections:
            coco_dt = coco_gt.loadRes(detections)
        else:  # `loadRes` cannot take an empty list.
            coco_dt = COCO()
            coco_dt.dataset = {**ground_truth, "annotations": []}
            coco_dt.createIndex()
        evaluation = COCOeval(coco_gt, coco_dt, iouType="bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return evaluation


def coco_per_class_ap(evaluation, iou_index=None):
    """AP@[.5:.95] (or at one IoU threshold) per category from `eval["precision"]`, NaN without GT.

    `precision` is `[T, R, K, A, M]` (IoU thresholds, recall points,
    categories, area ranges, max detections); area "all" and the largest
    `maxDets` are used, as for `stats[0]`.

    Args:
        evaluation: an evaluated `COCOeval`.
        iou_index: int or None, one IoU threshold of `params.iouThrs` (`0`:
            IoU 0.5, as for `stats[1]`); `None` averages them all. Defaults to `None`.

    Returns:
        float array `[K]` in `evaluation.params.catIds` order.
    """
    precision = evaluation.eval["precision"][:, :, :, 0, -1]  # [T, R, K]
    if iou_index is not None:
        precision = precision[iou_index:iou_index + 1]
    per_class = np.full(precision.shape[2], np.nan)
    for k in range(precision.shape[2]):
        valid = precision[:, :, k][precision[:, :, k] > -1]
        if valid.size:
            per_class[k] = valid.mean()
    return per_class


class DetectionEvaluator:
    """Accumulates padded detections and ground truth; reports COCO and VOC mAP.

    COCO numbers (`AP` = AP@[.5:.95], `AP50`, `AP75`, `APs`, `APm`, `APl`
    and `per_class_AP`) come from pycocotools' `COCOeval` with its defaults
    (at most 100 detections per image). `voc07_map` and `voc07_per_class_AP`
    are the VOC 2007 11-point AP at IoU 0.5 (`tfvision.metrics.voc_map`).
    Classes without ground truth get NaN and are left out of the means.

    Args:
        class_names: list of class names; label `k` is `class_names[k]`.
        image_size: `(height, width)` in pixels shared by all images, used to
            convert relative boxes for COCO (it only affects the area ranges
            of `APs`/`APm`/`APl`). Defaults to `None`: then every `update`
            must pass `image_sizes`.

    Example:
    >>> evaluator = DetectionEvaluator(["cat"], image_size=(100, 100))
    >>> gt = np.array([[[0.1, 0.1, 0.5, 0.5], [0, 0, 0, 0]]])   # [B, M, 4]
    >>> evaluator.update(gt, [[0, -1]], gt[:, :1], [[0.9]], [[0]])
    >>> result = evaluator.result()
    >>> round(result["AP"], 6), result["voc07_map"]
    (1.0, 1.0)
    """

    def __init__(self, class_names, image_size=None):
        if len(class_names) == 0:
            raise ValueError(f"`class_names` must not be empty. Received: {class_names}")
        self.class_names = list(class_names)
        self.image_size = image_size
        self.images = []
        self.evaluation = None

    def reset(self):
        """Forget every accumulated image."""
        self.images = []
        self.evaluation = None

    def update(
        self,
        gt_boxes,
        gt_labels,
        boxes,
        scores,
        classes,
        num_detections=None,
        image_sizes=None,
    ):
        """Add one batch of padded ground truth and detections.

        Args:
            gt_boxes: `[B, M, 4]` relative `yxyx` ground-truth boxes.
            gt_labels: `[B, M]` int labels, `-1` marks padding.
            boxes: `[B, K, 4]` relative `yxyx` detected boxes.
            scores: `[B, K]` detection scores.
            classes: `[B, K]` int classes, `-1` marks padding.
            num_detections: optional `[B]` count of valid detections per
                image; later entries are ignored. Defaults to `None`.
            image_sizes: optional `[B, 2]` `(height, width)` per image.
                Defaults to `None` (use the constructor's `image_size`).
        """
        gt_boxes, boxes = np.asarray(gt_boxes), np.asarray(boxes)
        gt_labels, classes = np.asarray(gt_labels), np.asarray(classes)
        scores = np.asarray(scores)
        if image_sizes is None:
            if self.image_size is None:
                raise ValueError(
                    "Pass `image_size` to the constructor or `image_sizes` to "
                    "`update`. Received neither."
                )
            image_sizes = [self.image_size] * len(gt_labels)
        for i in range(len(gt_labels)):
            count = classes.shape[1] if num_detections is None else int(num_detections[i])
            valid_gt = gt_labels[i] >= 0
            valid = classes[i, :count] >= 0
            height, width = (int(v) for v in np.asarray(image_sizes[i]))
            image = {
                "height": height,
                "width": width,
                "gt_boxes": gt_boxes[i][valid_gt].reshape(-1, 4),
                "gt_labels": gt_labels[i][valid_gt].astype(np.int64),
                "boxes": boxes[i, :count][valid].reshape(-1, 4),
                "scores": scores[i, :count][valid].astype(np.float64),
                "classes": classes[i, :count][valid].astype(np.int64),
            }
            self._check_labels(image["gt_labels"], "gt_labels")
            self._check_labels(image["classes"], "classes")
            self.images.append(image)

    def _check_labels(self, labels, name):
        bad = labels[labels >= len(self.class_names)]
        if bad.size:
            raise ValueError(
                f"`{name}` must be in [0, {len(self.class_names)}) or -1 for "
                f"padding. Received: {bad.tolist()}"
            )

    def coco_dicts(self):
        """The COCO ground-truth dataset dict and detection list evaluated."""
        return coco_ground_truth(self.images, self.class_names), coco_detections(
            self.images
        )

    def result(self):
        """Evaluate everything accumulated so far.

        Returns:
            dict with floats `AP`, `AP50`, `AP75`, `APs`, `APm`, `APl` and the
            recalls `AR1`, `AR10`, `AR100`, `ARs`, `ARm`, `ARl` (pycocotools'
            12 numbers; -1 where COCO has nothing to evaluate), `voc07_map`
            (NaN if no ground truth), and dicts mapping class name -> value:
            `per_class_AP`, `per_class_AP50`, `voc07_per_class_AP` (NaN
            without GT) and `per_class_ground_truth` (boxes).
        """
        evaluation = run_coco_eval(*self.coco_dicts())
        self.evaluation = evaluation  # for `write_detection_report`'s curves
        result = {name: float(evaluation.stats[i]) for name, i in _STATS.items()}
        per_class = coco_per_class_ap(evaluation)
        # `catIds` are sorted COCO ids, i.e. class index + 1.
        result["per_class_AP"] = {
            self.class_names[cat_id - 1]: float(ap)
            for cat_id, ap in zip(evaluation.params.catIds, per_class)
        }
        result["per_class_AP50"] = {
            self.class_names[cat_id - 1]: float(ap)
            for cat_id, ap in zip(evaluation.params.catIds, coco_per_class_ap(evaluation, 0))
        }
        counts = np.zeros(len(self.class_names), np.int64)
        for image in self.images:
            counts += np.bincount(image["gt_labels"], minlength=len(self.class_names))
        result["per_class_ground_truth"] = dict(zip(self.class_names, counts.tolist()))
        voc_mean, voc_per_class = voc07_map(self.images, len(self.class_names))
        result["voc07_map"] = voc_mean
        result["voc07_per_class_AP"] = dict(
            zip(self.class_names, voc_per_class.tolist())
        )
        return result


def format_ap_table(result):
    """Format a `DetectionEvaluator.result()` as a printable per-class table.

    Returns:
        a string with one row per class (ground-truth boxes, COCO AP@[.5:.95],
        COCO AP@0.5, VOC07 AP@0.5; `-` where a class has no ground truth) and
        a summary row. The boxes and AP50 columns appear when `result` has
        them (`per_class_ground_truth`, `per_class_AP50`).
    """
    cell = lambda value: "-" if value is None or np.isnan(value) else f"{value:.4f}"
    names = list(result["per_class_AP"])
    boxes = result.get("per_class_ground_truth")
    ap50 = result.get("per_class_AP50")
    width = max([len("class"), len("mean")] + [len(name) for name in names])
    header = [f"{'class':<{width}}"] + (["  boxes"] if boxes else []) + [f"  {'AP':>8}"] + \
        ([f"  {'AP50':>8}"] if ap50 else []) + [f"  {'VOC07':>8}"]
    rule = "-" * len("".join(header))
    lines = ["".join(header), rule]

    def row(name, count, coco_ap, coco_ap50, voc_ap):
        cells = [f"{name:<{width}}"] + ([f"  {count:>5}"] if boxes else [])
        cells.append(f"  {cell(coco_ap):>8}")
        if ap50:
            cells.append(f"  {cell(coco_ap50):>8}")
        return "".join(cells + [f"  {cell(voc_ap):>8}"])

    for name in names:
        lines.append(row(name, (boxes or {}).get(name, ""), result["per_class_AP"][name],
                         (ap50 or {}).get(name), result.get("voc07_per_class_AP", {}).get(name)))
    lines.append(rule)
    lines.append(row("mean", sum(boxes.values()) if boxes else "", result["AP"],
                     result["AP50"], result["voc07_map"]))
    lines.append(f"AP50 {cell(result['AP50'])}  AP75 {cell(result['AP75'])}")
    return "\n".join(lines)
