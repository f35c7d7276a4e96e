"""`--image-size auto`: the typical side of the training images, and the input side it gives."""

import argparse

import numpy as np
import pytest
from PIL import Image

from tfvision.cli.options import image_size_argument
from tfvision.data.classification.sources import native_side
from tfvision.data.image_sizes import auto_input_side, resolve_image_size, typical_side
from tfvision.data.synthetic.shapes_views import shapes_two_views
from tfvision.recipes.cotraining.recipe import views_native_side


def _write(path, width, height):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((height, width, 3), np.uint8)).save(path)
    return str(path)


def test_typical_side_is_the_median_shorter_side_and_skips_unreadable_files(tmp_path):
    paths = [_write(tmp_path / f"{i}.png", w, h)
             for i, (w, h) in enumerate([(40, 30), (30, 50), (100, 80), (64, 64), (31, 90)])]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    assert typical_side(paths + [str(broken)]) == 31  # shorter sides 30, 30, 80, 64, 31
    assert typical_side([str(broken)]) is None and typical_side([]) is None
    assert typical_side(paths, max_files=2) in (30, 31)  # the first and the last file


@pytest.mark.parametrize("side, expected", [
    (1, 64), (32, 64), (64, 64), (65, 96), (96, 96), (100, 128), (224, 224), (500, 224),
    (None, 224)])
def test_auto_input_side_rounds_up_to_32_within_64_and_224(side, expected):
    assert auto_input_side(side) == expected


def test_resolve_image_size_reads_the_data_only_for_auto(capsys):
    def unread():
        raise AssertionError("the data was read")

    assert resolve_image_size(96, unread) == 96
    assert resolve_image_size("auto", lambda: 48) == 64
    assert capsys.readouterr().out == ""
    assert resolve_image_size("auto", lambda: 100, announce="the views") == 128
    assert capsys.readouterr().out == "Image size: 128 px (auto, from the sizes of the views)\n"
    for bad in ("big", 0, -3, 2.5):
        with pytest.raises(ValueError, match="Received: image_size="):
            resolve_image_size(bad, unread)
    assert image_size_argument("auto") == "auto" and image_size_argument("80") == 80
    for bad in ("0", "x", "-1"):
        with pytest.raises(argparse.ArgumentTypeError, match="'auto' or a positive int"):
            image_size_argument(bad)


def test_native_side_of_a_folder_tfds_and_the_built_in_data(tmp_path):
    for split, side in (("train", 40), ("valid", 120)):
        for name in ("a", "b"):
            for i in range(3):
                _write(tmp_path / split / name / f"{i}.png", side + 10, side)
    assert native_side(str(tmp_path)) == 40
    assert native_side(str(tmp_path), "valid") == 120
    assert native_side("tfds:cifar10") == 32  # declared by the builder: nothing is downloaded
    assert native_side("tfds:no_such_dataset") is None
    assert native_side("shapes") is None
    with pytest.raises(FileNotFoundError, match="Split folder not found"):
        native_side(str(tmp_path), "test")


def test_views_native_side_of_files_and_of_arrays(tmp_path):
    samples = shapes_two_views(4, image_size=72, seed=0)
    assert views_native_side(samples) == 61  # each view is an 85 % crop of the 72 px scene
    paths = [_write(tmp_path / f"{i}.png", 50, 44) for i in range(4)]
    samples.sources = (np.asarray(paths[:2]), np.asarray(paths[2:]))
    assert views_native_side(samples) == 44
