import io
import json
import warnings

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfvision.data import (
    SkippedImagesWarning,
    decode_image,
    find_unreadable_images,
    image_folder,
    resize_short_side_and_center_crop,
)

COLORS = {"a": (220, 30, 30), "b": (30, 220, 30), "c": (30, 30, 220)}  # class -> RGB


def _write(path, color, size=(40, 30), mode="RGB", image_format="JPEG"):
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", size, color)
    if mode != "RGB":
        image = image.convert(mode)
    image.save(path, image_format)


def _jpeg_bytes(color):
    buffer = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 40, (40, 40, 3))
    Image.fromarray((np.array(color) + noise).clip(0, 255).astype(np.uint8)).save(buffer, "JPEG")
    return buffer.getvalue()


def _class_folders(root, per_class=3):
    for name, color in COLORS.items():
        for i in range(per_class):
            _write(root / name / f"{i}.jpg", color)


@pytest.fixture
def messy_folder(tmp_path):
    """3 classes x 3 good JPEGs, plus grayscale/RGBA/palette images and three bad files."""
    root = tmp_path / "flowers"
    _class_folders(root / "train")
    _write(root / "train" / "a" / "gray.png", COLORS["a"], mode="L", image_format="PNG")
    _write(root / "train" / "b" / "rgba.png", COLORS["b"], mode="RGBA", image_format="PNG")
    _write(root / "train" / "c" / "palette.gif", COLORS["c"], mode="P", image_format="GIF")
    (root / "train" / "a" / "empty.jpg").write_bytes(b"")
    (root / "train" / "b" / "truncated.jpg").write_bytes(_jpeg_bytes(COLORS["b"])[:400])
    (root / "train" / "c" / "notes.jpg").write_text("this is not an image\n")
    (root / "train" / "c" / "README.txt").write_text("ignored: not an image extension\n")
    return root


def _epoch(dataset):
    images, labels = [], []
    for batch_images, batch_labels in dataset:
        images.append(batch_images.numpy())
        labels.append(batch_labels.numpy())
    return np.concatenate(images), np.concatenate(labels)


def test_find_unreadable_images_catches_empty_truncated_and_text_files(messy_folder):
    paths = sorted(str(p) for p in (messy_folder / "train").rglob("*.*") if p.suffix != ".txt")
    bad = dict(find_unreadable_images(paths))
    assert sorted(p.rsplit("/", 2)[-2] + "/" + p.rsplit("/", 1)[-1] for p in bad) == [
        "a/empty.jpg", "b/truncated.jpg", "c/notes.jpg",
    ]
    reasons = {p.rsplit("/", 1)[-1]: r for p, r in bad.items()}
    assert reasons["empty.jpg"] == "empty file (0 bytes)"
    assert "JPEG" in reasons["truncated.jpg"]
    assert "Unknown image file format" in reasons["notes.jpg"]
    # The truncated file really is refused by the pipeline's decoder.
    with pytest.raises(tf.errors.InvalidArgumentError):
        decode_image(tf.io.read_file(str(messy_folder / "train" / "b" / "truncated.jpg")))


def test_bad_files_are_skipped_with_one_warning_and_an_epoch_runs(messy_folder):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = image_folder(messy_folder, "train", image_size=32, batch_size=4, training=False)
    skipped_warnings = [w for w in caught if issubclass(w.category, SkippedImagesWarning)]
    assert len(skipped_warnings) == 1
    message = str(skipped_warnings[0].message)
    assert "Skipped 3 of 15" in message and "empty.jpg" in message and "truncated.jpg" in message
    assert sorted(p.rsplit("/", 1)[-1] for p, _ in data.skipped) == [
        "empty.jpg", "notes.jpg", "truncated.jpg",
    ]
    assert data.num_examples == 12  # 9 JPEGs + grayscale PNG + RGBA PNG + palette GIF
    images, labels = _epoch(data.dataset)
    assert images.shape == (12, 32, 32, 3) and images.dtype == np.float32
    assert labels.dtype == np.int32
    np.testing.assert_array_equal(np.bincount(labels), [4, 4, 4])
    # Eval order is class, then file name: a/{0,1,2}.jpg, a/gray.png, b/{0,1,2}.jpg, b/rgba.png, ...
    gray = images[3]
    np.testing.assert_allclose(gray[..., 0], gray[..., 1], atol=1e-3)
    np.testing.assert_allclose(gray[..., 0], gray[..., 2], atol=1e-3)
    # Every colour image's dominant channel is its class colour: no wrong label.
    colour = np.arange(12) != 3
    np.testing.assert_array_equal(images[colour].mean(axis=(1, 2)).argmax(axis=-1), labels[colour])
    assert 0.0 <= images.min() and images.max() <= 255.0


def test_training_epoch_runs_over_the_good_files(messy_folder):
    with pytest.warns(SkippedImagesWarning):
        data = image_folder(messy_folder, "train", image_size=24, batch_size=5, seed=1)
    images, labels = _epoch(data.dataset)
    assert images.shape == (12, 24, 24, 3)
    np.testing.assert_array_equal(np.sort(labels), [0] * 4 + [1] * 4 + [2] * 4)


def test_strict_raises_at_the_first_bad_file(messy_folder):
    with pytest.raises(ValueError, match=r"Cannot decode image .*a/empty\.jpg: empty file"):
        image_folder(messy_folder, "train", strict=True)


def test_eval_images_are_the_decoded_files_centre_cropped(tmp_path):
    _class_folders(tmp_path / "test", per_class=1)
    data = image_folder(tmp_path, "test", image_size=16, batch_size=8)
    images, labels = _epoch(data.dataset)
    np.testing.assert_array_equal(labels, [0, 1, 2])  # eval: folder order, no shuffle
    expected = resize_short_side_and_center_crop(
        decode_image(tf.io.read_file(str(tmp_path / "test" / "b" / "0.jpg"))), 16
    )
    np.testing.assert_allclose(images[1], expected.numpy(), atol=1e-4)


def test_class_order_and_display_names_from_json(tmp_path):
    for name in ("2", "10", "1"):
        _write(tmp_path / "train" / name / "x.png", (100, 100, 100), image_format="PNG")
    names_file = tmp_path / "cat_to_name.json"
    names_file.write_text(json.dumps({"1": "pink primrose", "10": "globe thistle", "99": "unused"}))
    data = image_folder(tmp_path, image_size=8, category_names=names_file)
    assert data.class_names == ["1", "10", "2"]  # sorted folder names, as torchvision
    assert data.display_names == ["pink primrose", "globe thistle", "2"]
    assert data.num_classes == 3 and data.skipped == []
    same = image_folder(tmp_path, image_size=8, category_names={"2": "two"})
    assert same.display_names == ["1", "10", "two"]


def test_split_none_reads_class_folders_directly(tmp_path):
    _class_folders(tmp_path, per_class=2)
    data = image_folder(tmp_path, split=None, image_size=8, batch_size=6)
    assert data.class_names == ["a", "b", "c"] and data.num_examples == 6
    _, labels = _epoch(data.dataset)
    np.testing.assert_array_equal(labels, [0, 0, 1, 1, 2, 2])


def test_other_splits_take_class_ids_from_train(tmp_path):
    _class_folders(tmp_path / "train", per_class=1)
    _write(tmp_path / "valid" / "c" / "0.jpg", COLORS["c"])
    data = image_folder(tmp_path, "valid", image_size=8)
    assert data.class_names == ["a", "b", "c"]
    _, labels = _epoch(data.dataset)
    np.testing.assert_array_equal(labels, [2])
    _write(tmp_path / "test" / "d" / "0.jpg", COLORS["c"])
    with pytest.raises(ValueError, match=r"test/d is not one of the 3 classes"):
        image_folder(tmp_path, "test")


def test_clear_errors_for_missing_or_empty_folders_and_bad_json(tmp_path):
    with pytest.raises(FileNotFoundError, match="Image folder not found: .*nowhere"):
        image_folder(tmp_path / "nowhere")
    (tmp_path / "train").mkdir()
    missing_split = r"Split folder not found: .*valid \(.*found: train\)"
    with pytest.raises(FileNotFoundError, match=missing_split):
        image_folder(tmp_path, "valid")
    with pytest.raises(ValueError, match="No class folders in .*train"):
        image_folder(tmp_path, "train")
    _class_folders(tmp_path / "train", per_class=1)
    (tmp_path / "train" / "empty_class").mkdir()
    with pytest.raises(ValueError, match="Class folder is empty: .*empty_class"):
        image_folder(tmp_path, "train")
    (tmp_path / "train" / "empty_class").rmdir()
    bad_json = tmp_path / "names.json"
    bad_json.write_text("{'1': 'single quotes are not JSON'}")
    with pytest.raises(ValueError, match="names.json is not valid JSON"):
        image_folder(tmp_path, category_names=bad_json)
    bad_json.write_text('["a list", "not an object"]')
    with pytest.raises(ValueError, match="must be a JSON object"):
        image_folder(tmp_path, category_names=bad_json)
    with pytest.raises(FileNotFoundError, match="Category names file not found: .*missing.json"):
        image_folder(tmp_path, category_names=tmp_path / "missing.json")
