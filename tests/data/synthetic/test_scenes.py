import os

import numpy as np
import pytest
from PIL import Image

from tfvision.data import SHAPE_CLASSES, generate_shapes, split_seed, write_image_folder

NUM_CLASSES = len(SHAPE_CLASSES)


@pytest.fixture(scope="module")
def shapes():
    return generate_shapes(120, image_size=64, seed=7, min_objects=1, max_objects=4)


def test_same_seed_gives_identical_arrays_and_other_seed_differs():
    first = generate_shapes(12, image_size=48, seed=3)
    second = generate_shapes(12, image_size=48, seed=3)
    for key in first:
        assert first[key].tobytes() == second[key].tobytes(), key
    other = generate_shapes(12, image_size=48, seed=4)
    assert not np.array_equal(first["images"], other["images"])
    assert not np.array_equal(first["boxes"], other["boxes"])


def test_shapes_and_dtypes(shapes):
    assert shapes["images"].shape == (120, 64, 64, 3) and shapes["images"].dtype == np.uint8
    assert shapes["boxes"].shape == (120, 4, 4) and shapes["boxes"].dtype == np.float32
    assert shapes["labels"].shape == (120, 4) and shapes["labels"].dtype == np.int32
    assert shapes["class_label"].shape == (120,) and shapes["class_label"].dtype == np.int32
    assert shapes["multi_hot"].shape == (120, NUM_CLASSES)
    assert NUM_CLASSES >= 5


def test_boxes_valid_labels_in_range_and_padding(shapes):
    labels, boxes = shapes["labels"], shapes["boxes"]
    real = labels >= 0
    counts = real.sum(axis=1)
    assert counts.min() >= 1 and counts.max() <= 4
    assert len(np.unique(counts)) == 4  # 1..4 objects all occur
    # Objects first, then padding.
    assert np.all(real[:, :-1] | ~real[:, 1:])
    assert np.all(labels[real] < NUM_CLASSES)
    assert np.all(labels[~real] == -1)
    assert np.all(boxes[~real] == 0)
    y1, x1, y2, x2 = np.moveaxis(boxes[real], -1, 0)
    assert np.all((0 <= y1) & (y1 < y2) & (y2 <= 1))
    assert np.all((0 <= x1) & (x1 < x2) & (x2 <= 1))


def test_dominant_object_is_the_class_label_and_largest(shapes):
    labels, boxes = shapes["labels"], shapes["boxes"]
    np.testing.assert_array_equal(labels[:, 0], shapes["class_label"])
    area = (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])
    distractor_area = np.where(labels[:, 1:] >= 0, area[:, 1:], 0.0).max(axis=1)
    assert np.all(distractor_area <= 0.5 * area[:, 0])
    side = np.maximum(boxes[:, 0, 2] - boxes[:, 0, 0], boxes[:, 0, 3] - boxes[:, 0, 1])
    assert side.min() >= 0.25 and side.max() <= 0.72


def test_dominant_classes_are_balanced():
    data = generate_shapes(6 * NUM_CLASSES, image_size=32, seed=0, max_objects=1)
    np.testing.assert_array_equal(np.bincount(data["class_label"]), [6] * NUM_CLASSES)


def test_multi_hot_matches_labels(shapes):
    for labels, multi_hot in zip(shapes["labels"], shapes["multi_hot"]):
        assert set(labels[labels >= 0].tolist()) == set(np.flatnonzero(multi_hot).tolist())
    assert set(np.unique(shapes["multi_hot"]).tolist()) == {0.0, 1.0}


def test_box_is_tight_around_the_drawn_shape():
    data = generate_shapes(30, image_size=64, seed=2, min_objects=1, max_objects=1)
    for image, box in zip(data["images"], data["boxes"][:, 0]):
        y1, x1, y2, x2 = np.round(box * 64).astype(int)
        # The object's flat colour: frequent inside its box, (nearly) absent outside.
        colors, inverse = np.unique(image.reshape(-1, 3), axis=0, return_inverse=True)
        in_box = np.zeros((64, 64), bool)
        in_box[y1:y2, x1:x2] = True
        inside = np.bincount(inverse.ravel()[in_box.ravel()], minlength=len(colors))
        outside = np.bincount(inverse.ravel()[~in_box.ravel()], minlength=len(colors))
        best = np.argmax(np.where(outside <= 0.01 * inside, inside, 0))
        mask = np.all(image == colors[best], axis=-1)
        assert mask[in_box].sum() >= 0.15 * in_box.sum()
        # The shape touches all four sides of its box, so the box is tight.
        assert mask[y1].any() and mask[y2 - 1].any()
        assert mask[:, x1].any() and mask[:, x2 - 1].any()


def test_argument_errors_say_what_was_received():
    with pytest.raises(ValueError, match="Received: min_objects=3, max_objects=2"):
        generate_shapes(2, min_objects=3, max_objects=2)
    with pytest.raises(ValueError, match="Received: image_size=8"):
        generate_shapes(2, image_size=8)


def _read_split(root, split):
    files = {}
    for name in sorted(os.listdir(root / split)):
        files[name] = sorted(os.listdir(root / split / name), key=lambda f: int(f.split(".")[0]))
    return files


def test_write_image_folder_layout_counts_and_content(tmp_path):
    counts = {"train": 18, "valid": 12, "test": 6}
    summary = write_image_folder(tmp_path, counts, image_size=40, seed=5, image_format="png")
    assert summary["num_images"] == 36
    assert summary["class_names"] == list(SHAPE_CLASSES)
    assert sorted(os.listdir(tmp_path)) == ["test", "train", "valid"]
    pixels = {}
    for split, count in counts.items():
        files = _read_split(tmp_path, split)
        assert sorted(files) == sorted(SHAPE_CLASSES)
        assert sum(len(f) for f in files.values()) == count
        assert {name: len(f) for name, f in files.items()} == summary["counts"][split]
        for name, names in files.items():
            assert names == [f"{i}.png" for i in range(len(names))]
        # PNG is lossless: the files are exactly the in-memory generator's images.
        data = generate_shapes(count, image_size=40, seed=split_seed(5, split))
        seen = {name: 0 for name in SHAPE_CLASSES}
        for image, label in zip(data["images"], data["class_label"]):
            name = SHAPE_CLASSES[label]
            on_disk = np.asarray(Image.open(tmp_path / split / name / f"{seen[name]}.png"))
            np.testing.assert_array_equal(on_disk, image)
            seen[name] += 1
            pixels.setdefault(image.tobytes(), set()).add(split)
    assert all(len(splits) == 1 for splits in pixels.values())  # no image shared by two splits


def test_write_image_folder_jpeg_refuses_to_overwrite_unless_asked(tmp_path):
    write_image_folder(tmp_path, {"train": 6}, image_size=32)
    image = Image.open(tmp_path / "train" / SHAPE_CLASSES[0] / "0.jpg")
    assert image.format == "JPEG" and image.size == (32, 32) and image.mode == "RGB"
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_image_folder(tmp_path, {"train": 3}, image_size=32)
    write_image_folder(tmp_path, {"train": 3}, image_size=32, overwrite=True)
    assert sum(len(f) for f in _read_split(tmp_path, "train").values()) == 3
    with pytest.raises(ValueError, match="Received: image_format='tiff'"):
        write_image_folder(tmp_path / "x", {"train": 1}, image_format="tiff")
