"""`shapes-imbalanced`: the shapes with one rare class, and `DetectionData.class_counts`."""

import json

import numpy as np
import pytest
from PIL import Image

from tfvision.data import detection_data, generate_shapes
from tfvision.data.detection.pipeline import boxes_per_class
from tfvision.data.detection.sources import (
    IMBALANCED_SHAPES_CLASS_WEIGHTS,
    IMBALANCED_SHAPES_RARE_CLASS,
)
from tfvision.data.synthetic.shape_drawing import SHAPE_CLASSES


def _labels_of(data):
    return np.concatenate([targets["labels"].numpy() for _, targets in data.dataset])


def test_one_class_is_five_percent_of_the_boxes_and_class_counts_count_them():
    data = detection_data("shapes-imbalanced", "train", image_size=64, batch_size=100,
                          training=False, num_images=1000)
    counts = np.asarray(data.class_counts)
    assert counts.tolist() == boxes_per_class(_labels_of(data), len(SHAPE_CLASSES))
    fractions = counts / counts.sum()
    rare = SHAPE_CLASSES.index(IMBALANCED_SHAPES_RARE_CLASS)
    assert abs(fractions[rare] - 0.05) < 0.01, fractions
    assert np.all(np.abs(np.delete(fractions, rare) - 0.19) < 0.02), fractions
    # The balanced spec is unchanged, and counted too.
    shapes = detection_data("shapes", "valid", image_size=64, batch_size=100)
    assert shapes.class_counts == boxes_per_class(_labels_of(shapes), len(SHAPE_CLASSES))
    assert min(shapes.class_counts) > 0.7 * max(shapes.class_counts)


def test_dominant_classes_follow_the_weights_by_quota():
    weights = [1, 0, 2, 0, 0, 1]
    data = generate_shapes(50, image_size=48, seed=3, class_weights=weights)
    # 50 * (1/4, 1/2, 1/4) = 12.5, 25, 12.5: the remainders go to the first classes.
    assert np.bincount(data["class_label"], minlength=6).tolist() == [13, 0, 25, 0, 0, 12]
    labels = data["labels"][data["labels"] >= 0]
    assert set(labels.tolist()) <= {0, 2, 5}  # distractors of weight 0 never appear
    again = generate_shapes(50, image_size=48, seed=3, class_weights=weights)
    assert all(np.array_equal(data[key], again[key]) for key in data)
    assert len(IMBALANCED_SHAPES_CLASS_WEIGHTS) == len(SHAPE_CLASSES)


@pytest.mark.parametrize("weights", [[1, 2, 3], [1, 1, 1, 1, 1, -1], [0] * 6, [np.nan] * 6])
def test_bad_class_weights_are_refused(weights):
    with pytest.raises(ValueError, match="Received: class_weights="):
        generate_shapes(2, image_size=32, class_weights=weights)


def test_file_sources_count_the_valid_boxes_of_each_class(tmp_path):
    (tmp_path / "img").mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(np.full((40, 40, 3), 90, np.uint8)).save(tmp_path / "img" / name)
    annotations = [
        {"id": 1, "image_id": 1, "category_id": 7, "bbox": [2, 2, 10, 10]},
        {"id": 2, "image_id": 1, "category_id": 7, "bbox": [20, 20, 10, 10]},
        {"id": 3, "image_id": 2, "category_id": 3, "bbox": [5, 5, 20, 20]},
        {"id": 4, "image_id": 2, "category_id": 3, "bbox": [30, 30, 0, 5]},  # zero area: dropped
    ]
    path = tmp_path / "train.json"
    path.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.png", "width": 40, "height": 40},
                   {"id": 2, "file_name": "b.png", "width": 40, "height": 40}],
        "annotations": annotations,
        "categories": [{"id": 7, "name": "dog"}, {"id": 3, "name": "cat"}],
    }))
    with pytest.warns(Warning):
        data = detection_data(f"coco:{path}:{tmp_path / 'img'}", "train", 32, 2,
                              training=False)
    assert data.class_names == ["cat", "dog"] and data.class_counts == [1, 2]
