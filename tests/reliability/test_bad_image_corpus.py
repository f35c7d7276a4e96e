"""The shared bad-image corpus through the decoder, the image-folder loader and prediction."""

import os
import shutil
import warnings

import numpy as np
import pytest
import tensorflow as tf

from tests.bad_inputs import reference_pixels, write_image_corpus
from tfvision.data import SkippedImagesWarning, decode_image, image_file_error, image_folder
from tfvision.data.images import decode_image_file


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("corpus"))
    return folder, write_image_corpus(folder)


def test_each_file_decodes_upright_or_is_refused_with_its_reason(corpus):
    folder, entries = corpus
    for entry in entries:
        path = os.path.join(folder, entry.name)
        if not entry.decodes:
            assert entry.reason in image_file_error(path), entry.name
            with pytest.raises(ValueError, match=entry.name):
                decode_image_file(path)
            continue
        assert image_file_error(path) is None, entry.name
        decoded = decode_image(tf.io.read_file(path)).numpy()
        assert decoded.shape == entry.shape, entry.name
        if entry.name != "huge.jpg":
            difference = np.abs(decoded.astype(int) - reference_pixels(folder, entry).astype(int))
            assert difference.mean() < 2.0, entry.name


def test_image_folder_skips_and_counts_the_bad_files_and_keeps_the_rest(corpus, tmp_path):
    folder, entries = corpus
    for i, entry in enumerate(entries):
        class_dir = tmp_path / "data" / "train" / ("a" if i % 2 else "b")
        class_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(os.path.join(folder, entry.name), class_dir / entry.name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = image_folder(str(tmp_path / "data"), "train", image_size=32, batch_size=4,
                            training=False)
    bad = [e.name for e in entries if not e.decodes]
    message = " ".join(str(w.message) for w in caught if w.category is SkippedImagesWarning)
    assert f"Skipped {len(bad)} of {len(entries)} image files" in message
    assert all(name in message for name in bad)
    assert sorted(os.path.basename(path) for path, _ in data.skipped) == sorted(bad)
    images = np.concatenate([batch.numpy() for batch, _ in data.dataset])
    assert images.shape == (len(entries) - len(bad), 32, 32, 3)
    assert np.isfinite(images).all()


def test_strict_image_folder_names_the_first_bad_file(corpus, tmp_path):
    folder, entries = corpus
    class_dir = tmp_path / "data" / "train" / "only"
    class_dir.mkdir(parents=True)
    for name in ("rgba.png", "truncated.jpg"):
        shutil.copy(os.path.join(folder, name), class_dir / name)
    with pytest.raises(ValueError, match="truncated.jpg"):
        image_folder(str(tmp_path / "data"), "train", image_size=32, strict=True)


def test_coco_detection_skips_bad_images_and_reads_boxes_on_upright_images(corpus, tmp_path):
    import json

    from tfvision.data import detection_data

    folder, entries = corpus
    small = [e for e in entries if e.name != "huge.jpg"]
    images, annotations = [], []
    for i, entry in enumerate(small):
        shutil.copy(os.path.join(folder, entry.name), tmp_path / entry.name)
        height, width = entry.shape[:2] if entry.decodes else (30, 50)
        images.append({"id": i, "file_name": entry.name, "height": height, "width": width})
        # One box over the left half of the image as a viewer shows it.
        annotations.append({"id": i, "image_id": i, "category_id": 1,
                            "bbox": [0, 0, width / 2, height]})
    (tmp_path / "test.json").write_text(json.dumps(
        {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "x"}]}
    ))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = detection_data(f"coco:{tmp_path}/test.json:{tmp_path}", "test", image_size=32,
                              batch_size=4)
    skipped = " ".join(str(w.message) for w in caught if w.category is SkippedImagesWarning)
    bad = [e.name for e in small if not e.decodes]
    assert all(name in skipped for name in bad)
    assert data.num_examples == len(small) - len(bad)
    boxes = np.concatenate([targets["boxes"].numpy()[:, 0] for _, targets in data.dataset])
    # Every surviving image, the EXIF-rotated one included, has its box on the left half.
    np.testing.assert_allclose(boxes, [[0.0, 0.0, 1.0, 0.5]] * len(boxes), atol=1e-6)


def test_training_augmentation_scales_a_huge_image_down_first(corpus):
    from tfvision.data.detection.pipeline import detection_batches
    from tfvision.data.transforms import limit_short_side, training_transform
    from tfvision.data.pairs.augmentation import augment_view

    folder, _ = corpus
    small = tf.random.uniform([30, 50, 3], 0, 255, seed=1)
    np.testing.assert_array_equal(limit_short_side(small, 30).numpy(), small.numpy())
    tall = tf.random.uniform([400, 100, 3], 0, 255, seed=2)
    np.testing.assert_allclose(limit_short_side(tall, 50).numpy(),
                               tf.image.resize(tall, [200, 50], antialias=True).numpy(), atol=1e-4)
    huge = decode_image(tf.io.read_file(os.path.join(folder, "huge.jpg")))  # [10000, 10000, 3]
    colour = huge[0, 0].numpy().astype(np.float32)
    # Without the limit each of these rotates and crops a 1.2 GB float image.
    for view in (training_transform(huge, 32, seed=[0, 1]), augment_view(huge, 32, seed=[0, 1])):
        assert view.shape == (32, 32, 3) and np.isfinite(view.numpy()).all()
    np.testing.assert_allclose(training_transform(huge, 32, seed=[0, 1], rotation_degrees=0),
                               np.broadcast_to(colour, (32, 32, 3)), atol=2.0)
    examples = tf.data.Dataset.from_tensors(
        (os.path.join(folder, "huge.jpg"), [[0.0, 0.0, 0.5, 0.5]], [0]))
    detection = detection_batches(examples, lambda path: decode_image(tf.io.read_file(path)), 32,
                                  1, training=True, max_boxes=1, seed=0)
    images, targets = next(iter(detection))
    assert images.shape == (1, 32, 32, 3) and targets["boxes"].shape == (1, 1, 4)
