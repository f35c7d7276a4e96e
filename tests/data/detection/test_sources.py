import json
import os

import numpy as np
import pytest
from PIL import Image

from tfvision.data import (
    SkippedAnnotationsWarning,
    SkippedImagesWarning,
    detection_data,
    generate_shapes,
    split_seed,
    write_coco_detection,
    write_csv_detection,
    write_yolo_detection,
)

# Two images of different sizes (boxes are relative to each image's own size).
SIZES = {"a.png": (40, 80), "b.png": (60, 30)}  # file -> (height, width)


def _write_images(image_dir, sizes=SIZES):
    os.makedirs(image_dir, exist_ok=True)
    for name, (height, width) in sizes.items():
        Image.fromarray(np.full((height, width, 3), 90, np.uint8)).save(image_dir / name)


def _coco(tmp_path, annotations, images=None, categories=None, name="train.json"):
    images = images if images is not None else [
        {"id": 1, "file_name": "a.png", "width": 80, "height": 40},
        {"id": 2, "file_name": "b.png", "width": 30, "height": 60},
    ]
    categories = categories if categories is not None else [
        {"id": 7, "name": "dog"}, {"id": 3, "name": "cat"},
    ]
    path = tmp_path / name
    path.write_text(json.dumps(
        {"images": images, "annotations": annotations, "categories": categories}))
    return path


def _batch(data):
    images, targets = next(iter(data.dataset))
    return images.numpy(), targets["boxes"].numpy(), targets["labels"].numpy()


def test_coco_boxes_become_relative_yxyx_with_contiguous_labels(tmp_path):
    _write_images(tmp_path / "img")
    ann = _coco(tmp_path, [
        {"id": 1, "image_id": 1, "category_id": 7, "bbox": [8, 4, 40, 20]},  # x y w h
        {"id": 2, "image_id": 2, "category_id": 3, "bbox": [3, 6, 15, 30]},
        {"id": 3, "image_id": 1, "category_id": 3, "bbox": [0, 0, 80, 40], "iscrowd": 1},
        {"id": 4, "image_id": 1, "category_id": 3, "bbox": [60, 10, 20, 30]},
    ])
    data = detection_data(f"coco:{ann}:{tmp_path / 'img'}", "train", 32, 2, training=False)
    assert data.class_names == ["cat", "dog"]  # sorted by category id 3, 7
    assert data.num_examples == 2 and data.dropped_boxes == 0
    images, boxes, labels = _batch(data)
    assert images.shape == (2, 32, 32, 3) and boxes.shape == (2, 2, 4)  # M = most boxes
    np.testing.assert_allclose(images, 90.0, atol=1e-3)
    np.testing.assert_allclose(boxes[0], [[4 / 40, 8 / 80, 24 / 40, 48 / 80],
                                          [10 / 40, 60 / 80, 1.0, 1.0]], atol=1e-6)
    np.testing.assert_allclose(boxes[1], [[6 / 60, 3 / 30, 36 / 60, 18 / 30], [0, 0, 0, 0]],
                               atol=1e-6)
    assert labels.tolist() == [[1, 0], [0, -1]]  # the crowd region is left out


def test_csv_pixel_yxyx_boxes_and_split_placeholder(tmp_path):
    _write_images(tmp_path / "train")
    _write_images(tmp_path / "valid", {"c.png": (50, 50)})
    (tmp_path / "train.csv").write_text(
        "fn,bbox,clas\n"
        'a.png,"4 8 24 48 10 60 40 80",dog cat\n'
        "b.png,,\n"
    )
    (tmp_path / "valid.csv").write_text("file,bbox,label\nc.png,5 10 25 50,dog\n")
    spec = f"csv:{tmp_path / '{split}.csv'}:{tmp_path / '{split}'}"
    train = detection_data(spec, "train", 16, 2, max_boxes=3)
    valid = detection_data(spec, "valid", 16, 1)
    assert train.class_names == valid.class_names == ["cat", "dog"]
    _, boxes, labels = _batch(detection_data(spec, "train", 16, 2, training=False, max_boxes=3))
    np.testing.assert_allclose(boxes[0, :2], [[0.1, 0.1, 0.6, 0.6], [0.25, 0.75, 1.0, 1.0]],
                               atol=1e-6)
    assert labels.tolist() == [[1, 0, -1], [-1, -1, -1]]  # b.png has no boxes: all padding
    np.testing.assert_array_equal(boxes[1], 0.0)
    _, boxes, labels = _batch(valid)
    np.testing.assert_allclose(boxes[0], [[0.1, 0.2, 0.5, 1.0]], atol=1e-6)
    assert labels.tolist() == [[1]]


@pytest.mark.parametrize("kind", ["coco", "csv", "yolo"])
def test_written_shapes_read_back_as_generate_shapes(tmp_path, kind):
    writer = {"coco": write_coco_detection, "csv": write_csv_detection,
              "yolo": write_yolo_detection}[kind]
    summary = writer(tmp_path, 10, "valid", image_size=64, seed=3, image_format="png")
    data = detection_data(summary["spec"], "valid", 64, 10, training=False)
    expected = generate_shapes(10, 64, split_seed(3, "valid"))
    images, boxes, labels = _batch(data)
    assert data.class_names == ["circle", "cross", "ring", "square", "star", "triangle"]
    assert summary["num_boxes"] == int(np.sum(expected["labels"] >= 0))
    np.testing.assert_allclose(boxes, expected["boxes"], atol=1e-5)
    np.testing.assert_array_equal(labels, expected["labels"])
    np.testing.assert_array_equal(images, expected["images"].astype(np.float32))  # PNG, same size


def test_training_batches_are_padded_and_augmented_within_bounds(tmp_path):
    summary = write_coco_detection(tmp_path, 8, "train", image_size=48, seed=0)
    data = detection_data(summary["spec"], "train", 40, 4, seed=1, max_boxes=6)
    batches = list(data.dataset)
    assert len(batches) == 2
    for images, targets in batches:
        assert images.shape == (4, 40, 40, 3) and targets["boxes"].shape == (4, 6, 4)
        labels, boxes = targets["labels"].numpy(), targets["boxes"].numpy()
        assert np.all(labels < 6) and np.all(labels[:, 4:] == -1)
        valid = boxes[labels >= 0]
        assert np.all((valid >= 0) & (valid <= 1)) and np.all(valid[:, 2:] > valid[:, :2])


def test_invalid_boxes_unknown_ids_and_missing_images_are_counted(tmp_path):
    _write_images(tmp_path / "img")
    ann = _coco(tmp_path, [
        {"id": 1, "image_id": 1, "category_id": 7, "bbox": [8, 4, 40, 20]},  # fine
        {"id": 2, "image_id": 1, "category_id": 7, "bbox": [100, 50, 10, 10]},  # outside
        {"id": 3, "image_id": 1, "category_id": 7, "bbox": [10, 10, 0, 5]},  # zero area
        {"id": 4, "image_id": 2, "category_id": 3, "bbox": [5, 5, -3, 4]},  # inverted
        {"id": 5, "image_id": 2, "category_id": 3, "bbox": [float("nan"), 1, 2, 3]},
        {"id": 6, "image_id": 2, "category_id": 99, "bbox": [1, 1, 5, 5]},  # unknown category
        {"id": 7, "image_id": 42, "category_id": 3, "bbox": [1, 1, 5, 5]},  # missing image id
        {"id": 8, "image_id": 1, "category_id": 3},  # no bbox
    ])
    spec = f"coco:{ann}:{tmp_path / 'img'}"
    with pytest.warns(SkippedAnnotationsWarning) as caught:
        data = detection_data(spec, "train", 16, 2, training=False)
    message = str(caught[0].message)
    assert str(ann) in message and "Dropped 7 of 8 box annotations" in message
    assert "4 invalid boxes" in message and "1 with unknown category ids" in message
    assert "1 referencing missing image ids" in message and "1 malformed" in message
    assert data.dropped_boxes == 7 and data.num_examples == 2
    _, boxes, labels = _batch(data)
    assert labels.tolist() == [[1], [-1]]  # image 2 kept, all padding
    with pytest.raises(ValueError, match=r"train\.json: with unknown category ids: annotation #5"):
        detection_data(spec, "train", 16, 2, strict=True)
    outside = _coco(tmp_path, [{"id": 2, "image_id": 1, "category_id": 7, "bbox": [100, 50, 9, 9]}])
    with pytest.raises(ValueError, match=r"train\.json: invalid boxes .* a\.png .*\[100\.0, 50"):
        detection_data(f"coco:{outside}:{tmp_path / 'img'}", "train", 16, 2, strict=True)


def test_unreadable_or_missing_images_are_skipped_with_a_warning(tmp_path):
    _write_images(tmp_path / "img")
    (tmp_path / "img" / "broken.jpg").write_bytes(b"not an image")
    ann = _coco(tmp_path, [{"id": 1, "image_id": 2, "category_id": 3, "bbox": [1, 2, 3, 4]}],
                images=[{"id": 1, "file_name": "a.png"}, {"id": 2, "file_name": "b.png"},
                        {"id": 3, "file_name": "broken.jpg"}, {"id": 4, "file_name": "gone.png"}])
    spec = f"coco:{ann}:{tmp_path / 'img'}"
    with pytest.warns(SkippedImagesWarning, match=r"Skipped 2 of 4 image files .*broken\.jpg.*gone\.png"):
        data = detection_data(spec, "train", 16, 4, training=False)
    assert data.num_examples == 2
    _, _, labels = _batch(data)
    assert labels.tolist() == [[-1], [0]]
    with pytest.raises(ValueError, match=r"Cannot decode image .*broken\.jpg"):
        detection_data(spec, "train", 16, 4, strict=True)


def test_a_stated_image_size_that_differs_from_the_file_is_reported(tmp_path):
    _write_images(tmp_path / "img")
    ann = _coco(tmp_path, [{"id": 1, "image_id": 1, "category_id": 3, "bbox": [8, 4, 40, 20]}],
                images=[{"id": 1, "file_name": "a.png", "width": 40, "height": 80}])
    spec = f"coco:{ann}:{tmp_path / 'img'}"
    with pytest.warns(UserWarning, match=r"1 images in .*train\.json .*a\.png: stated 40x80, file 80x40"):
        data = detection_data(spec, "train", 16, 1, training=False)
    _, boxes, _ = _batch(data)
    np.testing.assert_allclose(boxes[0, 0], [0.1, 0.1, 0.6, 0.6], atol=1e-6)  # the file's size
    with pytest.raises(ValueError, match="image size differs from the file"):
        detection_data(spec, "train", 16, 1, strict=True)


def test_empty_annotation_list_gives_images_without_boxes(tmp_path):
    _write_images(tmp_path / "img")
    ann = _coco(tmp_path, [])
    data = detection_data(f"coco:{ann}:{tmp_path / 'img'}", "valid", 16, 2, max_boxes=3)
    _, boxes, labels = _batch(data)
    assert data.dropped_boxes == 0 and labels.shape == (2, 3) and np.all(labels == -1)
    np.testing.assert_array_equal(boxes, 0.0)


@pytest.mark.parametrize("content, expected", [
    ("{not json", r"bad\.json is not valid JSON"),
    ("[1, 2]", r"bad\.json is not a COCO annotation file.*Received: list"),
    ('{"images": [], "categories": []}', r"bad\.json .*missing key\(s\) \['annotations'\]"),
    ('{"images": [{"id": 1}], "annotations": [], "categories": []}',
     r"bad\.json: image #0 must be an object with keys \['id', 'file_name'\]"),
])
def test_bad_coco_json_is_a_clear_error_naming_the_file(tmp_path, content, expected):
    (tmp_path / "bad.json").write_text(content)
    with pytest.raises(ValueError, match=expected):
        detection_data(f"coco:{tmp_path / 'bad.json'}:{tmp_path}", "train", 16, 2)


@pytest.mark.parametrize("file_name", ["../outside.png", "/etc/passwd", "sub/../../x.png"])
def test_image_paths_escaping_the_image_folder_are_refused(tmp_path, file_name):
    _write_images(tmp_path / "img")
    ann = _coco(tmp_path, [], images=[{"id": 1, "file_name": file_name}])
    with pytest.raises(ValueError, match=r"train\.json .*escapes the image folder"):
        detection_data(f"coco:{ann}:{tmp_path / 'img'}", "train", 16, 1)
    (tmp_path / "t.csv").write_text(f"file,bbox,label\n{file_name},1 1 5 5,x\n")
    with pytest.raises(ValueError, match=r"t\.csv line 2: image path .* escapes"):
        detection_data(f"csv:{tmp_path / 't.csv'}:{tmp_path / 'img'}", "train", 16, 1)


def test_csv_bad_rows_and_unknown_classes_are_counted(tmp_path):
    _write_images(tmp_path / "train")
    _write_images(tmp_path / "valid")
    (tmp_path / "train.csv").write_text("file,bbox,label\na.png,1 1 5 5,cat\nb.png,1 1 5 5,dog\n")
    (tmp_path / "valid.csv").write_text(
        "file,bbox,label\n"
        "a.png,1 1 5 5 2 2 9 9,cat bird\n"  # bird is not a training class
        "b.png,1 1 5,dog\n"  # 3 numbers: malformed row
    )
    spec = f"csv:{tmp_path / '{split}.csv'}:{tmp_path / '{split}'}"
    with pytest.warns(SkippedAnnotationsWarning, match=r"Dropped 2 of 3 .*1 with unknown classes"):
        data = detection_data(spec, "valid", 16, 2)
    assert data.dropped_boxes == 2 and data.num_examples == 1
    with pytest.raises(ValueError, match=r"valid\.csv: with unknown classes: line 2: 'bird'"):
        detection_data(spec, "valid", 16, 2, strict=True)
    (tmp_path / "nohead.csv").write_text("a.png,1 1 5 5,cat\n")
    with pytest.raises(ValueError, match=r"nohead\.csv has no 'file' column"):
        detection_data(f"csv:{tmp_path / 'nohead.csv'}:{tmp_path}", "train", 16, 1)


def test_bad_specs_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="`spec` must be one of shapes, shapes-imbalanced, voc2007"):
        detection_data("kitti", "train", 16, 1)
    with pytest.raises(ValueError, match=r"'coco:ANNOTATIONS:IMAGE_DIR'"):
        detection_data("coco:only.json", "train", 16, 1)
    with pytest.raises(FileNotFoundError, match=r"COCO annotation file not found: .*nope\.json"):
        detection_data(f"coco:{tmp_path / 'nope.json'}:{tmp_path}", "train", 16, 1)


def test_shapes_spec_is_the_built_in_data():
    data = detection_data("shapes", "valid", 48, 5, num_images=5, seed=2)
    expected = generate_shapes(5, 48, split_seed(2, "valid"))
    images, boxes, labels = _batch(data)
    assert data.num_examples == 5 and images.shape == (5, 48, 48, 3)
    np.testing.assert_allclose(boxes, expected["boxes"], atol=1e-6)
    np.testing.assert_array_equal(labels, expected["labels"])


@pytest.mark.parametrize("flip", [True, False])
def test_flip_false_never_mirrors_training_boxes(tmp_path, flip):
    # One box in the left fifth of each image: rotation (±5°) and crop / zoom
    # keep its centre in the left half, so only a flip moves it to the right.
    sizes = {f"{i}.png": (40, 80) for i in range(16)}
    _write_images(tmp_path / "img", sizes)
    ann = _coco(tmp_path, [
        {"id": i + 1, "image_id": i + 1, "category_id": 7, "bbox": [4, 10, 12, 20]}
        for i in range(16)
    ], images=[{"id": i + 1, "file_name": f"{i}.png"} for i in range(16)])
    data = detection_data(f"coco:{ann}:{tmp_path / 'img'}", "train", 32, 16, training=True,
                          seed=0, flip=flip)
    _, boxes, labels = _batch(data)
    kept = boxes[labels >= 0]
    centres = (kept[:, 1] + kept[:, 3]) / 2
    assert len(centres) >= 8  # a zoom-in may crop a box out
    mirrored = int(np.sum(centres > 0.5))
    assert (mirrored >= 3) if flip else (mirrored == 0)
