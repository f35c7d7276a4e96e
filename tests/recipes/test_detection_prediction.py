"""Batch prediction: inputs, batched = one by one, pixels of each file, and the three writers."""

import json
import os
import warnings

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfvision.data import generate_shapes, write_coco_detection
from tfvision.data.classification.image_folder import SkippedImagesWarning
from tfvision.models.ssd import ssdlite_mobilenet_v2
from tfvision.recipes.detection_prediction import (
    ImageDetections,
    image_inputs,
    predict_detection_files,
    save_detection_images,
    write_coco_results,
    write_yolo_txt,
)

SIZE = 64


@pytest.fixture(scope="module")
def model():
    return ssdlite_mobilenet_v2(["circle", "cross", "ring", "square", "star", "triangle"],
                                alpha=0.35, image_size=SIZE, backbone_weights="shapes")


@pytest.fixture
def images(tmp_path):
    """Five shapes scenes saved at different sizes (PNG), in two folders."""
    scenes = generate_shapes(5, 96, seed=4)["images"]
    sizes = [(96, 96), (60, 120), (150, 75), (64, 64), (80, 100)]
    paths = []
    for i, (scene, (height, width)) in enumerate(zip(scenes, sizes)):
        folder = tmp_path / ("a" if i < 3 else "b")
        folder.mkdir(exist_ok=True)
        path = folder / f"{i}.png"
        Image.fromarray(scene).resize((width, height)).save(path)
        paths.append(str(path))
    return paths


def test_inputs_from_files_folders_globs_and_lists(tmp_path, images):
    (tmp_path / "a" / "notes.md").write_text("not an image")
    assert image_inputs([str(tmp_path / "a")]) == images[:3]
    assert image_inputs([str(tmp_path / "**" / "*.png")]) == images
    (tmp_path / "list.txt").write_text("b/4.png\n\n" + images[0] + "\n")
    assert image_inputs([str(tmp_path / "list.txt"), images[0], images[1]]) == \
        [str(tmp_path / "b" / "4.png"), images[0], images[1]]  # repeats once
    with pytest.raises(FileNotFoundError, match="No file matches"):
        image_inputs([str(tmp_path / "*.jpg")])
    with pytest.raises(FileNotFoundError, match="No image, folder or list"):
        image_inputs([str(tmp_path / "missing.png")])


def test_batches_give_what_each_image_alone_gives_in_each_files_pixels(model, images):
    batched, skipped = predict_detection_files(model, images, score_threshold=0.0, batch_size=3)
    assert not skipped and [d.path for d in batched] == images
    for path, found in zip(images, batched):
        # The reference: the model on the one resized file, boxes scaled to the file's size.
        pixels = np.asarray(Image.open(path).convert("RGB"), np.float32)
        height, width = pixels.shape[:2]
        assert (found.height, found.width) == (height, width)
        output = model.predict_on_batch(tf.image.resize(pixels, (SIZE, SIZE))[None])
        count = int(output["num_detections"][0])
        y1, x1, y2, x2 = np.asarray(output["boxes"][0, :count]).T
        expected = np.stack([x1 * width, y1 * height, x2 * width, y2 * height], axis=-1)
        np.testing.assert_allclose(found.boxes, expected, atol=1e-2)
        np.testing.assert_allclose(found.scores, np.asarray(output["scores"][0, :count]),
                                   atol=1e-5)
        assert found.boxes[:, 2].max() <= width + 1e-3 and found.boxes[:, 3].max() <= height + 1e-3
    high, _ = predict_detection_files(model, images, score_threshold=0.5, batch_size=4)
    assert all((d.scores > 0.5).all() for d in high)


def test_unreadable_files_are_skipped_counted_and_named(model, images, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    paths = [images[0], str(broken), images[1]]
    with pytest.warns(SkippedImagesWarning, match=r"Skipped 1 of 3 .*broken\.png"):
        found, skipped = predict_detection_files(model, paths, score_threshold=0.0, batch_size=2)
    assert [d.path for d in found] == [images[0], images[1]]
    assert [path for path, _ in skipped] == [str(broken)]


def _ground_truth_as_detections(annotation_file, image_dir):
    content = json.loads(open(annotation_file).read())
    found = []
    for image in content["images"]:
        rows = [a for a in content["annotations"] if a["image_id"] == image["id"]]
        boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in rows)],
                         np.float32).reshape(-1, 4)
        found.append(ImageDetections(
            os.path.join(image_dir, image["file_name"]), image["height"], image["width"], boxes,
            np.linspace(1.0, 0.9, len(rows)).astype(np.float32),
            np.array([a["category_id"] - 1 for a in rows], np.int32)))
    return found


def test_coco_results_score_ap_1_for_the_ground_truth_with_pycocotools(tmp_path):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    written = write_coco_detection(tmp_path / "gt", 6, "valid", image_size=64, seed=2)
    found = _ground_truth_as_detections(written["annotation_file"], written["image_dir"])
    path = str(tmp_path / "out" / "results.json")
    assert write_coco_results(found, path) == written["num_boxes"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        truth = COCO(written["annotation_file"])
        evaluation = COCOeval(truth, truth.loadRes(path), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)  # AP@[.5:.95]
    first = json.loads(open(path).read())[0]
    assert first["file_name"].endswith("000000.jpg") and set(first) == {
        "image_id", "file_name", "category_id", "bbox", "score"}


def test_yolo_txt_and_pictures_per_image(tmp_path):
    files = [tmp_path / "x" / "a.png", tmp_path / "y" / "a.png"]
    for path, (height, width) in zip(files, ((50, 100), (40, 40))):
        path.parent.mkdir()
        Image.fromarray(np.zeros((height, width, 3), np.uint8)).save(path)
    found = [
        ImageDetections(str(files[0]), 50, 100, np.array([[10, 5, 30, 45]], np.float32),
                        np.array([0.8], np.float32), np.array([2], np.int32)),
        ImageDetections(str(files[1]), 40, 40, np.zeros((0, 4), np.float32),
                        np.zeros(0, np.float32), np.zeros(0, np.int32)),
    ]
    paths = write_yolo_txt(found, tmp_path / "txt", with_scores=True)
    # Two images called a.png: names keep them apart.
    assert [os.path.basename(p) for p in paths] == ["x_a_0.txt", "y_a_1.txt"]
    assert open(paths[0]).read() == "2 0.200000 0.500000 0.200000 0.800000 0.800000\n"
    assert open(paths[1]).read() == ""
    assert open(write_yolo_txt(found[:1], tmp_path / "plain")[0]).read() == \
        "2 0.200000 0.500000 0.200000 0.800000\n"
    pictures = save_detection_images(found, tmp_path / "pictures", ["a", "b", "c"])
    assert [os.path.basename(p) for p in pictures] == ["x_a_0.png", "y_a_1.png"]
    assert [Image.open(p).size[0] / Image.open(p).size[1] for p in pictures] == [2.0, 1.0]
