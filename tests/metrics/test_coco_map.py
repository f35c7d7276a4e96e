import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from tfvision.metrics.coco_map import DetectionEvaluator
from tfvision.metrics.coco_map import format_ap_table
from tfvision.metrics.coco_map import run_coco_eval

CLASSES = ["cat", "dog", "bird"]


def _random_batch(rng, batch=4, max_gt=5, max_det=12, num_classes=3):
    """Padded GT and detections: jittered GT boxes plus random boxes."""
    gt_boxes = np.zeros((batch, max_gt, 4))
    gt_labels = np.full((batch, max_gt), -1)
    boxes = np.zeros((batch, max_det, 4))
    scores = np.zeros((batch, max_det))
    classes = np.full((batch, max_det), -1)
    num_detections = np.zeros(batch, int)
    for i in range(batch):
        m = rng.integers(0, max_gt + 1)
        corner = rng.uniform(0, 0.6, (m, 2))
        gt_boxes[i, :m] = np.concatenate([corner, corner + rng.uniform(0.1, 0.4, (m, 2))], 1)
        gt_labels[i, :m] = rng.integers(0, num_classes, m)
        jittered = gt_boxes[i, :m] + rng.normal(0, 0.02, (m, 4))
        jitter_labels = np.where(rng.uniform(size=m) < 0.8, gt_labels[i, :m], rng.integers(0, num_classes, m))
        r = rng.integers(0, max_det - max_gt + 1)
        corner = rng.uniform(0, 0.7, (r, 2))
        noise = np.concatenate([corner, corner + rng.uniform(0.05, 0.3, (r, 2))], 1)
        n = m + r
        boxes[i, :n] = np.clip(np.concatenate([jittered, noise]), 0, 1)
        # Rounded scores create ties; the order among ties must not matter
        # more in one implementation than the other, so keep them distinct.
        scores[i, :n] = rng.permutation(np.linspace(0.05, 0.95, n)) if n else []
        classes[i, :n] = np.concatenate([jitter_labels, rng.integers(0, num_classes, r)])
        num_detections[i] = n
        # Garbage beyond num_detections must be ignored.
        boxes[i, n:] = 0.3
        scores[i, n:] = 0.99
        classes[i, n:] = 0 if n < max_det else classes[i, n:]
    return gt_boxes, gt_labels, boxes, scores, classes, num_detections


def _reference_voc07(images, num_classes):
    """Straightforward VOC07 mAP (after the devkit's VOCevaldet)."""

    def iou(a, b):
        ih = min(a[2], b[2]) - max(a[0], b[0])
        iw = min(a[3], b[3]) - max(a[1], b[1])
        if ih <= 0 or iw <= 0:
            return 0.0
        inter = ih * iw
        return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)

    aps = []
    for c in range(num_classes):
        gts = {i: [b for b, l in zip(im["gt_boxes"], im["gt_labels"]) if l == c] for i, im in enumerate(images)}
        npos = sum(len(v) for v in gts.values())
        if npos == 0:
            continue
        used = {i: [False] * len(v) for i, v in gts.items()}
        dets = [(s, i, b) for i, im in enumerate(images) for b, s, l in zip(im["boxes"], im["scores"], im["classes"]) if l == c]
        dets.sort(key=lambda d: -d[0])
        tp, fp = [], []
        for _, i, b in dets:
            ovmax, jmax = -1.0, -1
            for j, g in enumerate(gts[i]):
                o = iou(b, g)
                if o > ovmax:
                    ovmax, jmax = o, j
            if ovmax >= 0.5 and not used[i][jmax]:
                used[i][jmax] = True
                tp.append(1); fp.append(0)
            else:
                tp.append(0); fp.append(1)
        tp, fp = np.cumsum(tp), np.cumsum(fp)
        rec = tp / npos
        prec = tp / np.maximum(tp + fp, 1)
        ap = 0.0
        for t in [k / 10 for k in range(11)]:
            p = prec[rec >= t].max() if (rec >= t).any() else 0.0
            ap += p / 11
        aps.append(ap)
    return float(np.mean(aps))


def _perfect_batch():
    gt_boxes = np.array([[[0.1, 0.1, 0.5, 0.6], [0.5, 0.2, 0.9, 0.7], [0, 0, 0, 0]],
                         [[0.2, 0.3, 0.8, 0.9], [0, 0, 0, 0], [0, 0, 0, 0]]])
    gt_labels = np.array([[0, 2, -1], [1, -1, -1]])
    return gt_boxes, gt_labels


def test_perfect_detector_scores_one():
    gt_boxes, gt_labels = _perfect_batch()
    evaluator = DetectionEvaluator(CLASSES, image_size=(300, 300))
    evaluator.update(gt_boxes, gt_labels, gt_boxes, np.where(gt_labels >= 0, 0.9, 0.0), gt_labels)
    result = evaluator.result()
    for key in ("AP", "AP50", "AP75"):
        assert result[key] == pytest.approx(1.0)
    assert result["voc07_map"] == pytest.approx(1.0)
    assert result["per_class_AP"] == pytest.approx({"cat": 1.0, "dog": 1.0, "bird": 1.0})


def test_shifted_boxes_iou_two_thirds():
    # Shifting a 0.5-wide box by 0.1 gives IoU 0.4 / 0.6 = 2/3: matched at
    # IoU thresholds 0.5, 0.55, 0.6, 0.65 (4 of 10), missed at 0.75.
    gt_boxes = np.array([[[0.0, 0.0, 0.5, 0.5]]])
    shifted = gt_boxes + [0.0, 0.1, 0.0, 0.1]
    evaluator = DetectionEvaluator(["cat"], image_size=(100, 100))
    evaluator.update(gt_boxes, [[0]], shifted, [[0.8]], [[0]])
    result = evaluator.result()
    assert result["AP50"] == pytest.approx(1.0)
    assert result["AP75"] == pytest.approx(0.0)
    assert result["AP"] == pytest.approx(0.4)
    assert result["voc07_map"] == pytest.approx(1.0)


def test_padding_ignored_on_both_sides():
    gt_boxes, gt_labels = _perfect_batch()
    evaluator = DetectionEvaluator(CLASSES, image_size=(300, 300))
    # Padded detection rows have class -1 but confident scores and GT-like boxes.
    boxes = np.concatenate([gt_boxes, np.full((2, 2, 4), 0.4) + [0, 0, 0.2, 0.2]], 1)
    scores = np.concatenate([np.full((2, 3), 0.5), np.full((2, 2), 0.99)], 1)
    classes = np.concatenate([gt_labels, np.full((2, 2), -1)], 1)
    evaluator.update(gt_boxes, gt_labels, boxes, scores, classes)
    gt, detections = evaluator.coco_dicts()
    assert len(gt["annotations"]) == 3 and len(detections) == 3
    result = evaluator.result()
    assert result["AP"] == pytest.approx(1.0)
    assert result["voc07_map"] == pytest.approx(1.0)


def test_num_detections_truncates():
    gt_boxes = np.array([[[0.0, 0.0, 0.5, 0.5]]])
    # The false positive (score 0.9) sits beyond num_detections = 1.
    boxes = np.array([[[0.0, 0.0, 0.5, 0.5], [0.6, 0.6, 0.9, 0.9]]])
    evaluator = DetectionEvaluator(["cat"], image_size=(100, 100))
    evaluator.update(gt_boxes, [[0]], boxes, [[0.5, 0.9]], [[0, 0]], num_detections=[1])
    assert len(evaluator.coco_dicts()[1]) == 1
    assert evaluator.result()["AP"] == pytest.approx(1.0)


def test_image_without_gt_or_detections():
    evaluator = DetectionEvaluator(["cat"], image_size=(100, 100))
    gt_boxes = np.array([[[0.0, 0.0, 0.5, 0.5]], [[0.0, 0.0, 0.0, 0.0]]])
    evaluator.update(gt_boxes, [[0], [-1]], gt_boxes, [[0.9], [0.0]], [[0], [-1]])
    result = evaluator.result()
    assert result["AP"] == pytest.approx(1.0) and result["voc07_map"] == pytest.approx(1.0)
    # Only empty images: COCO has nothing to evaluate (-1), VOC has no class.
    empty = DetectionEvaluator(["cat"], image_size=(100, 100))
    empty.update(np.zeros((1, 2, 4)), [[-1, -1]], np.zeros((1, 3, 4)), np.zeros((1, 3)), [[-1, -1, -1]])
    result = empty.result()
    assert result["AP"] == -1.0 and np.isnan(result["voc07_map"])


def test_gt_without_any_detection_scores_zero():
    evaluator = DetectionEvaluator(["cat"], image_size=(100, 100))
    evaluator.update([[[0.0, 0.0, 0.5, 0.5]]], [[0]], np.zeros((1, 1, 4)), [[0.0]], [[-1]])
    result = evaluator.result()
    assert result["AP"] == 0.0 and result["voc07_map"] == 0.0


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_random_detections_match_references(seed):
    rng = np.random.default_rng(seed)
    evaluator = DetectionEvaluator(CLASSES)
    for _ in range(3):
        *batch, num_detections = _random_batch(rng)
        sizes = rng.integers(100, 600, (len(batch[0]), 2))
        evaluator.update(*batch, num_detections=num_detections, image_sizes=sizes)
    result = evaluator.result()

    # VOC07 against the straightforward implementation above.
    assert result["voc07_map"] == pytest.approx(_reference_voc07(evaluator.images, len(CLASSES)), abs=1e-12)

    # COCO: "our mAP equals pycocotools' on the same detections".
    gt, detections = evaluator.coco_dicts()
    coco_gt = COCO()
    coco_gt.dataset = gt
    coco_gt.createIndex()
    direct = COCOeval(coco_gt, coco_gt.loadRes(detections), iouType="bbox")
    direct.evaluate(); direct.accumulate(); direct.summarize()
    assert result["AP"] == direct.stats[0]
    assert result["AP50"] == direct.stats[1] and result["AP75"] == direct.stats[2]

    # Per-class AP against pycocotools restricted to that one category.
    for k, name in enumerate(CLASSES):
        single = COCOeval(coco_gt, coco_gt.loadRes(detections), iouType="bbox")
        single.params.catIds = [k + 1]
        single.evaluate(); single.accumulate(); single.summarize()
        assert result["per_class_AP"][name] == pytest.approx(single.stats[0], abs=1e-12)
    assert np.nanmean(list(result["per_class_AP"].values())) == pytest.approx(result["AP"])


def test_run_coco_eval_is_quiet(capsys):
    evaluator = DetectionEvaluator(["cat"], image_size=(100, 100))
    evaluator.update([[[0.0, 0.0, 0.5, 0.5]]], [[0]], [[[0.0, 0.0, 0.5, 0.5]]], [[0.9]], [[0]])
    run_coco_eval(*evaluator.coco_dicts())
    assert capsys.readouterr().out == ""


def test_accepts_tensors():
    import tensorflow as tf

    gt_boxes, gt_labels = _perfect_batch()
    evaluator = DetectionEvaluator(CLASSES, image_size=(300, 300))
    evaluator.update(tf.constant(gt_boxes, tf.float32), tf.constant(gt_labels),
                     tf.constant(gt_boxes, tf.float32), tf.ones((2, 3)),
                     tf.constant(gt_labels), num_detections=tf.constant([2, 1]))
    assert evaluator.result()["AP"] == pytest.approx(1.0)


def test_reset_and_argument_errors():
    evaluator = DetectionEvaluator(["cat"], image_size=(100, 100))
    evaluator.update([[[0.0, 0.0, 0.5, 0.5]]], [[0]], [[[0.0, 0.0, 0.5, 0.5]]], [[0.9]], [[0]])
    evaluator.reset()
    assert evaluator.images == []
    with pytest.raises(ValueError, match="Received: \\[3\\]"):
        evaluator.update([[[0.0, 0.0, 0.5, 0.5]]], [[3]], np.zeros((1, 1, 4)), [[0.0]], [[-1]])
    with pytest.raises(ValueError, match="image_sizes"):
        DetectionEvaluator(["cat"]).update(np.zeros((1, 1, 4)), [[-1]], np.zeros((1, 1, 4)), [[0.0]], [[-1]])
    with pytest.raises(ValueError, match="class_names"):
        DetectionEvaluator([])


def test_format_ap_table():
    result = {
        "AP": 0.5, "AP50": 0.75, "AP75": 0.25, "voc07_map": 0.6,
        "per_class_AP": {"cat": 0.4, "traffic light": 0.6, "dog": float("nan")},
        "voc07_per_class_AP": {"cat": 0.5, "traffic light": 0.7, "dog": float("nan")},
    }
    table = format_ap_table(result)
    lines = table.splitlines()
    assert lines[0].split() == ["class", "AP", "VOC07"]
    assert lines[2].split() == ["cat", "0.4000", "0.5000"]
    assert lines[3].split() == ["traffic", "light", "0.6000", "0.7000"]
    assert lines[4].split() == ["dog", "-", "-"]
    assert lines[6].split() == ["mean", "0.5000", "0.6000"]
    assert "AP50 0.7500" in table and "AP75 0.2500" in table


def test_ap_table_with_boxes_and_ap50_columns_from_the_evaluator():
    evaluator = DetectionEvaluator(["cat", "dog"], image_size=(100, 100))
    gt = np.array([[[0.1, 0.1, 0.5, 0.5], [0.5, 0.5, 0.9, 0.9]]])
    # The cat found with IoU 0.64 (AP50 1, AP@[.5:.95] 0.3), the dog missed.
    found = np.array([[[0.1, 0.1, 0.42, 0.42], [0.0, 0.0, 0.05, 0.05]]])
    evaluator.update(gt, [[0, 1]], found, [[0.9, 0.8]], [[0, 1]])
    result = evaluator.result()
    assert result["per_class_ground_truth"] == {"cat": 1, "dog": 1}
    assert result["per_class_AP50"]["cat"] == pytest.approx(1.0)
    assert result["per_class_AP50"]["dog"] == pytest.approx(0.0)
    assert result["per_class_AP"]["cat"] == pytest.approx(0.3)
    lines = format_ap_table(result).splitlines()
    assert lines[0].split() == ["class", "boxes", "AP", "AP50", "VOC07"]
    assert lines[2].split()[:4] == ["cat", "1", "0.3000", "1.0000"]
    assert lines[3].split()[:4] == ["dog", "1", "0.0000", "0.0000"]
    assert lines[5].split()[:2] == ["mean", "2"]
