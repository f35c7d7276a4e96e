"""The VOC XML folder source: boxes, difficult objects, classes by split, escaping paths."""

import warnings

import numpy as np
import pytest
from PIL import Image

from tfvision.data import detection_data


def _xml(file_name, objects, width=80, height=40):
    body = "".join(
        f"<object><name>{name}</name><difficult>{difficult}</difficult><bndbox>"
        f"<xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>"
        for name, (x1, y1, x2, y2), difficult in objects
    )
    return (f"<annotation><filename>{file_name}</filename><size><width>{width}</width>"
            f"<height>{height}</height><depth>3</depth></size>{body}</annotation>")


@pytest.fixture()
def voc(tmp_path):
    Image.fromarray(np.full((40, 80, 3), 90, np.uint8)).save(tmp_path / "a.png")
    for split in ("train", "valid"):
        (tmp_path / split).mkdir()
    (tmp_path / "train" / "a.xml").write_text(_xml("a.png", [
        ("dog", (8, 4, 48, 24), 0), ("cat", (0, 0, 40, 40), 0), ("cat", (40, 0, 80, 40), 1)]))
    (tmp_path / "valid" / "a.xml").write_text(_xml("a.png", [("cat", (40, 0, 80, 40), 0)]))
    return tmp_path


def test_xyxy_pixel_boxes_become_relative_yxyx_and_difficult_objects_are_left_out(voc):
    data = detection_data(f"voc:{voc / '{split}'}:{voc}", "train", 16, 1, training=False)
    assert data.class_names == ["cat", "dog"] and data.dropped_boxes == 0
    _, targets = next(iter(data.dataset))
    np.testing.assert_allclose(targets["boxes"][0], [[0.1, 0.1, 0.6, 0.6], [0, 0, 1, 0.5]],
                               atol=1e-6)
    assert targets["labels"].numpy().tolist() == [[1, 0]]
    # The validation folder has only cats; the training folder's classes still apply.
    valid = detection_data(f"voc:{voc / '{split}'}:{voc}", "valid", 16, 1)
    assert valid.class_names == ["cat", "dog"]
    assert next(iter(valid.dataset))[1]["labels"].numpy().tolist() == [[0]]


def test_a_stated_size_other_than_the_file_warns_and_the_file_size_is_used(voc):
    (voc / "valid" / "a.xml").write_text(_xml("a.png", [("cat", (40, 0, 80, 40), 0)], 40, 80))
    with pytest.warns(UserWarning, match=r"a\.png: stated 40x80, file 80x40"):
        data = detection_data(f"voc:{voc / 'valid'}:{voc}", "valid", 16, 1)
    np.testing.assert_allclose(next(iter(data.dataset))[1]["boxes"][0], [[0, 0.5, 1, 1]])


@pytest.mark.parametrize("file_name", ["../a.png", "/etc/passwd"])
def test_image_paths_escaping_the_image_folder_are_refused(voc, file_name):
    (voc / "valid" / "a.xml").write_text(_xml(file_name, [("cat", (1, 1, 5, 5), 0)]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=r"a\.xml.*escapes the image folder"):
            detection_data(f"voc:{voc / 'valid'}:{voc / 'train'}", "valid", 16, 1)


def test_missing_or_empty_annotation_folders_are_clear_errors(voc):
    with pytest.raises(FileNotFoundError, match="VOC annotation folder not found: .*nope"):
        detection_data(f"voc:{voc / 'nope'}:{voc}", "valid", 16, 1)
    (voc / "empty").mkdir()
    with pytest.raises(ValueError, match=r"empty holds no \.xml annotation files"):
        detection_data(f"voc:{voc / 'empty'}:{voc}", "valid", 16, 1)
