"""The YOLO layout: `data.yaml`, `images/`, `labels/*.txt`, read as every file source is."""

import os
import warnings

import numpy as np
import pytest
from PIL import Image

from tfvision.data import (
    SkippedAnnotationsWarning,
    detection_data,
    write_yolo_detection,
)
from tfvision.data.detection.yolo import label_path, read_yolo_yaml


def _image(path, height, width):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.full((height, width, 3), 90, np.uint8)).save(path)


def _dataset(tmp_path, labels, yaml_text=None):
    """Images a (40x80) and b (60x30) in images/train, c (50x50) in images/val; `labels` maps
    an image stem to its label file's text (no entry: no label file)."""
    for split, name, (height, width) in (("train", "a", (40, 80)), ("train", "b", (60, 30)),
                                         ("val", "c", (50, 50))):
        _image(tmp_path / "images" / split / f"{name}.png", height, width)
        if name in labels:
            os.makedirs(tmp_path / "labels" / split, exist_ok=True)
            (tmp_path / "labels" / split / f"{name}.txt").write_text(labels[name])
    data_yaml = tmp_path / "data.yaml"
    data_yaml.write_text(yaml_text or "path: .\ntrain: images/train\nval: images/val\n"
                         "names:\n  0: cat\n  1: dog\n")
    return f"yolo:{data_yaml}"


def _batch(data):
    images, targets = next(iter(data.dataset))
    return images.numpy(), targets["boxes"].numpy(), targets["labels"].numpy()


def test_normalised_centre_boxes_become_relative_yxyx(tmp_path):
    spec = _dataset(tmp_path, {
        "a": "1 0.5 0.5 0.5 0.5\n0 0.1 0.2 0.2 0.4\n",
        # b has no label file: a background image. c: a polygon gives its bounding box.
        "c": "0 0.2 0.1 0.6 0.1 0.6 0.7 0.2 0.5\n",
    })
    train = detection_data(spec, "train", 32, 2, training=False)
    assert train.class_names == ["cat", "dog"] and train.num_examples == 2
    assert train.dropped_boxes == 0
    _, boxes, labels = _batch(train)
    np.testing.assert_allclose(boxes[0], [[0.25, 0.25, 0.75, 0.75], [0.0, 0.0, 0.4, 0.2]],
                               atol=1e-6)
    assert labels.tolist() == [[1, 0], [-1, -1]]
    _, boxes, labels = _batch(detection_data(spec, "valid", 32, 1))  # the YAML's `val`
    np.testing.assert_allclose(boxes[0], [[0.1, 0.2, 0.7, 0.6]], atol=1e-6)
    assert labels.tolist() == [[0]]


def test_written_shapes_name_each_split_in_the_data_yaml(tmp_path):
    # That they read back as generated: test_sources.py, with the COCO and CSV writers.
    summary = write_yolo_detection(tmp_path, 3, "valid", image_size=32, seed=3)
    write_yolo_detection(tmp_path, 2, "train", image_size=32, seed=3)
    root, splits, names = read_yolo_yaml(summary["annotation_file"])
    assert splits == {"train": "images/train", "val": "images/valid"}
    assert root == str(tmp_path) and names[0] == "circle"
    assert detection_data(summary["spec"], "train", 32, 2).num_examples == 2


def test_bad_label_lines_and_classes_are_counted_and_named(tmp_path):
    spec = _dataset(tmp_path, {"a": (
        "1 0.5 0.5 0.5 0.5\n"
        "0 0.5 0.5\n"              # too few numbers
        "x 0.5 0.5 0.2 0.2\n"      # not a number
        "0 0.1 0.1 0.2 0.2 0.3\n"  # a polygon with an odd coordinate count
        "2 0.5 0.5 0.2 0.2\n"      # no class 2
        "0.5 0.5 0.5 0.2 0.2\n"    # not an integer class
        "0 1.5 1.5 0.2 0.2\n"      # outside the image
        "\n"
    ), "b": ""})
    with pytest.warns(SkippedAnnotationsWarning) as caught:
        data = detection_data(spec, "train", 16, 2, training=False)
    message = str(caught[0].message)
    assert "Dropped 6 of 7 box annotations" in message
    assert "3 malformed" in message and "2 with unknown classes" in message
    assert "1 invalid boxes" in message and "labels/train/a.txt line 2" in message
    assert data.dropped_boxes == 6
    _, boxes, labels = _batch(data)
    assert labels.tolist() == [[1], [-1]]  # b's empty label file: background
    with pytest.raises(ValueError, match=r"data\.yaml: malformed .*/a\.txt line 2"):
        detection_data(spec, "train", 16, 2, strict=True)


@pytest.mark.parametrize("content, expected", [
    ("- just\n- a list\n", r"must be a YAML mapping"),
    ("train: images/train\n", r"needs `names`"),
    ("train: images/train\nnames: [a, b]\nnc: 3\n", r"nc is 3 but names lists 2"),
    ("train: images/train\nnames: {0: a, 2: b}\n", r"ids 0\.\.N-1"),
    ("val: images/val\nnames: [a]\n", r"no train entry for the 'train' split"),
    ("train: [images/train, 3]\nnames: [a]\n", r"`train` must be a folder"),
    ("train: images/nothing\nnames: [a]\n", r"image set 'images/nothing' not found"),
    ("names: !!python/object/apply:os.system ['true']\ntrain: x\n", r"not a readable YAML"),
])
def test_bad_data_yaml_is_a_clear_error_naming_the_file(tmp_path, content, expected):
    spec = _dataset(tmp_path, {}, yaml_text=content)
    with pytest.raises((ValueError, FileNotFoundError), match=expected):
        detection_data(spec, "train", 16, 1)


def test_paths_that_escape_the_dataset_root_are_refused(tmp_path):
    root = tmp_path / "set"
    spec = _dataset(root, {"a": "0 0.5 0.5 0.2 0.2\n"},
                    "train: ../outside\nnames: [a]\n")
    _image(tmp_path / "outside" / "x.png", 8, 8)
    with pytest.raises(ValueError, match=r"image set .*outside.* escapes the dataset root"):
        detection_data(spec, "train", 16, 1)
    (root / "list.txt").write_text("images/train/a.png\n../outside/x.png\n")
    (root / "data.yaml").write_text("train: list.txt\nnames: [a]\n")
    with pytest.raises(ValueError, match=r"image '\.\./outside/x\.png' of list\.txt escapes"):
        detection_data(spec, "train", 16, 1)
    os.symlink(tmp_path / "outside", root / "images" / "linked")
    (root / "data.yaml").write_text("train: images/linked\nnames: [a]\n")
    with pytest.raises(ValueError, match=r"escapes the dataset root"):
        detection_data(spec, "train", 16, 1)


def test_a_list_file_reads_lines_relative_to_itself_or_to_the_root(tmp_path):
    spec = _dataset(tmp_path, {"a": "1 0.5 0.5 0.5 0.5\n", "c": "0 0.5 0.5 0.2 0.2\n"},
                    "path: .\ntrain: lists/train.txt\nnames: [cat, dog]\n")
    os.makedirs(tmp_path / "lists")
    # "./" is the list's own folder (as Ultralytics reads it); other lines start at the root.
    os.symlink(tmp_path / "images", tmp_path / "lists" / "images")
    (tmp_path / "lists" / "train.txt").write_text("./images/train/a.png\nimages/val/c.png\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = detection_data(spec, "train", 16, 2, training=False)
    _, _, labels = _batch(data)
    assert data.num_examples == 2 and labels.tolist() == [[1], [0]]


def test_label_path_replaces_the_last_images_folder():
    assert label_path(os.path.join("images", "train", "a.jpg")) == \
        os.path.join("labels", "train", "a.txt")
    assert label_path(os.path.join("d", "images", "x", "images", "b.png")) == \
        os.path.join("d", "images", "x", "labels", "b.txt")
    assert label_path(os.path.join("flat", "c.jpeg")) == os.path.join("flat", "c.txt")
