import numpy as np

from tfvision.metrics.coco_format import coco_detections
from tfvision.metrics.coco_format import coco_ground_truth
from tfvision.metrics.coco_format import to_absolute_xywh


def test_to_absolute_xywh_hand_example():
    # yxyx (0.1, 0.2, 0.5, 1.0) on a 100 x 200 (h x w) image:
    # x = 0.2 * 200 = 40, y = 0.1 * 100 = 10, w = 0.8 * 200 = 160, h = 0.4 * 100 = 40.
    xywh = to_absolute_xywh([[0.1, 0.2, 0.5, 1.0], [0.0, 0.0, 1.0, 1.0]], 100, 200)
    np.testing.assert_allclose(xywh, [[40, 10, 160, 40], [0, 0, 200, 100]])


def test_to_absolute_xywh_empty():
    assert to_absolute_xywh(np.zeros((0, 4)), 10, 10).shape == (0, 4)


def test_coco_dicts_ids_area_and_categories():
    images = [
        {
            "height": 100, "width": 200,
            "gt_boxes": np.array([[0.1, 0.2, 0.5, 1.0]]), "gt_labels": np.array([1]),
            "boxes": np.array([[0.1, 0.2, 0.5, 1.0]]), "scores": np.array([0.7]),
            "classes": np.array([0]),
        },
        {
            "height": 50, "width": 50,
            "gt_boxes": np.array([[0.0, 0.0, 0.5, 0.5]]), "gt_labels": np.array([0]),
            "boxes": np.zeros((0, 4)), "scores": np.zeros(0), "classes": np.zeros(0),
        },
    ]
    gt = coco_ground_truth(images, ["cat", "dog"])
    assert gt["categories"] == [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]
    assert gt["images"] == [
        {"id": 1, "height": 100, "width": 200},
        {"id": 2, "height": 50, "width": 50},
    ]
    first, second = gt["annotations"]
    assert (first["id"], first["image_id"], first["category_id"]) == (1, 1, 2)
    np.testing.assert_allclose(first["bbox"], [40, 10, 160, 40])
    assert first["area"] == 160 * 40 and first["iscrowd"] == 0
    assert (second["id"], second["image_id"], second["category_id"]) == (2, 2, 1)
    np.testing.assert_allclose(second["bbox"], [0, 0, 25, 25])
    (detection,) = coco_detections(images)
    assert detection["image_id"] == 1 and detection["category_id"] == 1
    np.testing.assert_allclose(detection["bbox"], [40, 10, 160, 40])
    assert detection["score"] == 0.7
