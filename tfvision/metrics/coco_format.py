"""Conversion of tfvision detections to COCO-format dicts for pycocotools.

Inside tfvision boxes are relative `yxyx` (0..1); COCO wants absolute
`[x, y, width, height]` in pixels, 1-based category ids and annotation ids
starting at 1 (pycocotools treats a matched id of 0 as "unmatched").
"""

import numpy as np


def to_absolute_xywh(boxes, height, width):
    """Convert relative `yxyx` boxes to absolute COCO `xywh` boxes.

    Args:
        boxes: array-like `[N, 4]` of `(y_min, x_min, y_max, x_max)` in 0..1.
        height: image height in pixels.
        width: image width in pixels.

    Returns:
        float64 array `[N, 4]` of `(x, y, w, h)` in pixels.

    Example:
    >>> to_absolute_xywh([[0.1, 0.2, 0.5, 1.0]], height=100, width=200)
    array([[ 40.,  10., 160.,  40.]])
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    y_min, x_min, y_max, x_max = boxes.T * [[height], [width], [height], [width]]
    return np.stack([x_min, y_min, x_max - x_min, y_max - y_min], axis=-1)


def coco_ground_truth(images, class_names):
    """Build a COCO ground-truth dataset dict.

    Args:
        images: list of per-image dicts with `height`, `width`, unpadded
            `gt_boxes [M, 4]` (relative `yxyx`) and `gt_labels [M]` (0-based).
            Image `i` gets COCO image id `i + 1`.
        class_names: list of class names; class `k` is COCO category `k + 1`.

    Returns:
        dict with `images`, `annotations` (absolute `xywh` bbox, area,
        `iscrowd` 0) and `categories`, ready for `COCO().dataset`.
    """
    coco_images, annotations = [], []
    for image_id, image in enumerate(images, start=1):
        coco_images.append(
            {"id": image_id, "height": image["height"], "width": image["width"]}
        )
        xywh = to_absolute_xywh(image["gt_boxes"], image["height"], image["width"])
        for box, label in zip(xywh, image["gt_labels"]):
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": int(label) + 1,
                    "bbox": [float(v) for v in box],
                    "area": float(box[2] * box[3]),
                    "iscrowd": 0,
                }
            )
    categories = [
        {"id": k + 1, "name": str(name)} for k, name in enumerate(class_names)
    ]
    return {"images": coco_images, "annotations": annotations, "categories": categories}


def coco_detections(images):
    """Build a COCO detection-results list (the `loadRes` input).

    Args:
        images: list of per-image dicts with `height`, `width` and unpadded
            `boxes [K, 4]` (relative `yxyx`), `scores [K]`, `classes [K]`.

    Returns:
        list of `{"image_id", "category_id", "bbox", "score"}` dicts.
    """
    detections = []
    for image_id, image in enumerate(images, start=1):
        xywh = to_absolute_xywh(image["boxes"], image["height"], image["width"])
        for box, score, label in zip(xywh, image["scores"], image["classes"]):
            detections.append(
                {
                    "image_id": image_id,
                    "category_id": int(label) + 1,
                    "bbox": [float(v) for v in box],
                    "score": float(score),
                }
            )
    return detections
