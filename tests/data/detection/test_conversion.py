"""`convert_detection` and `tfvision data convert`: every format to every other, and back."""

import json

import numpy as np
import pytest
from PIL import Image

from tfvision.data import (
    convert_detection,
    detection_data,
    read_detection_split,
    write_coco_detection,
)


def _coco_boxes(annotation_file):
    """`{(file_name, class name): sorted pixel xywh boxes}` of a COCO file."""
    content = json.loads(open(annotation_file).read())
    names = {c["id"]: c["name"] for c in content["categories"]}
    files = {i["id"]: i["file_name"] for i in content["images"]}
    found = {}
    for a in content["annotations"]:
        found.setdefault((files[a["image_id"]], names[a["category_id"]]), []).append(a["bbox"])
    return {key: sorted(boxes) for key, boxes in found.items()}, [names[i] for i in sorted(names)]


def _read_all(spec, split):
    data = detection_data(spec, split, 64, 64, training=False)
    images, targets = next(iter(data.dataset))
    return data, images.numpy(), targets["boxes"].numpy(), targets["labels"].numpy()


def test_coco_to_yolo_to_coco_keeps_boxes_within_a_pixel_and_the_classes(tmp_path):
    source = write_coco_detection(tmp_path / "coco", 12, "train", image_size=64, seed=1)
    write_coco_detection(tmp_path / "coco", 5, "valid", image_size=64, seed=1)
    yolo, summary = convert_detection(source["spec"], "yolo", tmp_path / "yolo")
    assert yolo == f"yolo:{tmp_path / 'yolo' / 'data.yaml'}"
    assert summary["train"] == {"images": 12, "boxes": source["num_boxes"], "dropped": 0}
    assert sorted(summary) == ["train", "valid"]
    back, _ = convert_detection(yolo, "coco", tmp_path / "back")
    for split in ("train", "valid"):
        before, names_before = _coco_boxes(tmp_path / "coco" / f"{split}.json")
        after, names_after = _coco_boxes(tmp_path / "back" / f"{split}.json")
        assert names_after == names_before and sorted(after) == sorted(before)
        for key in before:
            np.testing.assert_allclose(after[key], before[key], atol=1.0)
    # The images are copied byte for byte.
    assert (tmp_path / "back" / "train" / "000003.jpg").read_bytes() == \
        (tmp_path / "coco" / "train" / "000003.jpg").read_bytes()


@pytest.mark.parametrize("target", ["coco", "csv", "voc", "yolo"])
def test_every_format_reads_back_the_same_training_targets(tmp_path, target):
    source = write_coco_detection(tmp_path / "coco", 8, "valid", image_size=64, seed=2,
                                  image_format="png")
    spec, _ = convert_detection(source["spec"], target, tmp_path / "out")
    before, images_before, boxes_before, labels_before = _read_all(source["spec"], "valid")
    after, images_after, boxes_after, labels_after = _read_all(spec, "valid")
    assert after.class_names == before.class_names and after.num_examples == 8
    np.testing.assert_array_equal(images_after, images_before)
    np.testing.assert_allclose(boxes_after, boxes_before, atol=1e-5)
    np.testing.assert_array_equal(labels_after, labels_before)


def test_bad_boxes_are_dropped_and_counted_not_carried_over(tmp_path):
    Image.fromarray(np.zeros((20, 40, 3), np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "train.csv").write_text(
        "file,bbox,label\na.png,2 4 12 20 5 5 5 9 0 0 10 10,dog cat dog\nmissing.png,1 1 5 5,cat\n")
    with pytest.warns(UserWarning):
        spec, summary = convert_detection(f"csv:{tmp_path / 'train.csv'}:{tmp_path}", "yolo",
                                          tmp_path / "out")
    assert summary == {"train": {"images": 1, "boxes": 2, "dropped": 1}}
    assert (tmp_path / "out" / "labels" / "train" / "a.txt").read_text() == \
        "1 0.3 0.35 0.4 0.5\n1 0.125 0.25 0.25 0.5\n"
    split = read_detection_split(spec, "train")
    assert split.class_names == ["cat", "dog"] and split.files == ["a.png"]
    with pytest.raises(ValueError, match=r"Cannot decode image .*missing\.png"):
        convert_detection(f"csv:{tmp_path / 'train.csv'}:{tmp_path}", "coco", tmp_path / "o2",
                          strict=True)


def test_existing_output_is_not_overwritten_without_asking(tmp_path):
    source = write_coco_detection(tmp_path / "coco", 3, "train", image_size=32)
    convert_detection(source["spec"], "csv", tmp_path / "out")
    with pytest.raises(FileExistsError, match="overwrite"):
        convert_detection(source["spec"], "csv", tmp_path / "out")
    convert_detection(source["spec"], "csv", tmp_path / "out", overwrite=True)
    with pytest.raises(ValueError, match="`to` must be one of"):
        convert_detection(source["spec"], "kitti", tmp_path / "x")
    with pytest.raises(ValueError, match="must be a file source"):
        convert_detection("shapes", "coco", tmp_path / "x")


def test_the_command_converts_and_prints_the_spec_to_read_back(tmp_path, capsys):
    from tfvision.cli.main import main

    source = write_coco_detection(tmp_path / "coco", 4, "train", image_size=32)
    argv = ["data", "convert", source["spec"], "--to", "voc", str(tmp_path / "voc")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"train: 4 images, {source['num_boxes']} boxes" in out
    spec = out.strip().splitlines()[-1].split("--data ")[1]
    assert detection_data(spec, "train", 32, 4).num_examples == 4
    assert main(argv) == 2  # the output exists
    assert "already exists" in capsys.readouterr().err
