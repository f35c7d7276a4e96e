"""Two-view samples: manifests, folders, the built-in views; bad input refused clearly."""

import json
import os

import numpy as np
import pytest

from tfvision.data import (
    read_two_view_manifest,
    shapes_two_views,
    two_view_files,
    two_view_folders,
    write_two_view_shapes,
)
from tfvision.data.classification.image_folder import SkippedImagesWarning


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("two_view")
    return root, write_two_view_shapes(str(root), num_images=12, image_size=48, seed=2)


def test_files_hold_the_same_pixels_as_the_in_memory_views(written):
    root, manifest = written
    samples = read_two_view_manifest(manifest)
    memory = shapes_two_views(12, image_size=48, seed=2)
    np.testing.assert_array_equal(samples.labels, memory.labels)
    assert samples.class_names == memory.class_names
    assert samples.sources[0][3] == os.path.realpath(root / "view0" / "3.png")
    for view in (0, 1):
        files = samples.view_dataset(view, np.arange(12), image_size=41, batch_size=12)
        arrays = memory.view_dataset(view, np.arange(12), image_size=41, batch_size=12)
        (a, la), (b, lb) = next(iter(files)), next(iter(arrays))
        np.testing.assert_array_equal(la, lb)
        np.testing.assert_allclose(a, b, atol=0.51)  # PNG stores rounded pixels
    # The views are the two corners of the generated image.
    from tfvision.data import generate_shapes

    image = generate_shapes(12, 48, seed=2)["images"][5].astype(np.float32)
    side = round(0.85 * 48)
    raw = [memory.decode_fns[v](np.int64(5)).numpy() for v in (0, 1)]
    np.testing.assert_array_equal(raw[0], image[:side, :side])
    np.testing.assert_array_equal(raw[1], image[-side:, -side:])


def test_json_manifest_with_unlabelled_samples(written, tmp_path):
    root, _ = written
    manifest = root / "m.json"
    samples = [{"view0_path": f"view0/{i}.png", "view1_path": f"view1/{i}.png",
                "label": None if i % 2 else "star"} for i in range(4)]
    manifest.write_text(json.dumps({"class_names": ["circle", "star"], "samples": samples}))
    read = read_two_view_manifest(str(manifest))
    np.testing.assert_array_equal(read.labels, [1, -1, 1, -1])
    assert read.class_names == ["circle", "star"]


def _csv(path, rows, header="view0_path,view1_path,label"):
    path.write_text("\n".join([header] + rows) + "\n")
    return str(path)


def test_bad_manifests_are_refused_with_messages_naming_the_file(written):
    root, _ = written
    escape = _csv(root / "escape.csv", ["../outside.png,view1/0.png,star"])
    with pytest.raises(ValueError, match="outside the data root"):
        read_two_view_manifest(escape)
    missing = _csv(root / "missing.csv", ["view0/0.png,view1/999.png,star"])
    with pytest.raises(FileNotFoundError, match=r"missing\.csv.*view1/999\.png"):
        read_two_view_manifest(missing)
    short = _csv(root / "short.csv", ["view0/0.png,star"])
    with pytest.raises(ValueError, match=r"short\.csv, line 2: expected 3 columns"):
        read_two_view_manifest(short)
    header = _csv(root / "header.csv", ["a,b,c"], header="left,right,label")
    with pytest.raises(ValueError, match=r"header\.csv: the header must name"):
        read_two_view_manifest(header)
    unknown = _csv(root / "unknown.csv", ["view0/0.png,view1/0.png,blob"])
    with pytest.raises(ValueError, match="unknown label 'blob'"):
        read_two_view_manifest(unknown, class_names=["star", "circle"])
    with pytest.raises(ValueError, match=r"\.csv or \.json"):
        read_two_view_manifest(str(root / "view0" / "0.png"))
    (root / "pickle.json").write_text("not json")
    with pytest.raises(ValueError, match=r"pickle\.json is not valid JSON"):
        read_two_view_manifest(str(root / "pickle.json"))


def test_mismatched_lengths_and_corrupt_images(written):
    root, _ = written
    with pytest.raises(ValueError, match="2 view-0 paths, 1 view-1 paths"):
        two_view_files(["view0/0.png", "view0/1.png"], ["view1/0.png"], [0, 1], ["a", "b"],
                       data_root=str(root))
    (root / "broken.png").write_bytes(b"\x89PNG truncated")
    with pytest.warns(SkippedImagesWarning,
                      match=r"skipped 1 of 2 samples: 1 image files could not .*broken\.png"):
        samples = two_view_files(["view0/0.png", "broken.png"], ["view1/0.png", "view1/1.png"],
                                 [0, 1], ["a", "b"], data_root=str(root))
    assert len(samples) == 1
    with pytest.raises(ValueError, match="cannot decode image .*broken.png"):
        two_view_files(["broken.png"], ["view1/1.png"], [1], ["a", "b"], data_root=str(root),
                       strict=True)


def test_two_folders_matched_by_relative_path(tmp_path):
    from PIL import Image

    for view in ("a", "b"):
        for rel in ("cat/1.png", "dog/2.png", "unlabelled/3.png"):
            os.makedirs(tmp_path / view / os.path.dirname(rel), exist_ok=True)
            Image.new("RGB", (8, 8), (10, 20, 30)).save(tmp_path / view / rel)
    samples = two_view_folders(str(tmp_path / "a"), str(tmp_path / "b"))
    assert samples.class_names == ["cat", "dog"]
    np.testing.assert_array_equal(samples.labels, [0, 1, -1])
    assert [os.path.basename(p) for p in samples.sources[1]] == ["1.png", "2.png", "3.png"]
    os.remove(tmp_path / "b" / "dog" / "2.png")
    with pytest.raises(ValueError, match=r"1 files only in .*a \(dog/2\.png\)"):
        two_view_folders(str(tmp_path / "a"), str(tmp_path / "b"))


def test_training_batches_follow_the_augmentation_preset():
    from tfvision.data.classification.augment_presets import PRESETS, VIEW_AUGMENTATION

    memory = shapes_two_views(12, image_size=48, seed=2)
    plain = next(iter(memory.view_dataset(0, np.arange(12), image_size=40, batch_size=12)))
    def training(augmentation):
        batch = memory.view_dataset(0, np.arange(12), image_size=40, batch_size=12, training=True,
                                    seed=0, augmentation=augmentation)
        return next(iter(batch))

    # "none": the evaluation images, shuffled with their labels.
    images, labels = training(PRESETS["none"])
    order = [next(i for i in range(12) if np.allclose(images[j], plain[0][i], atol=1e-3))
             for j in range(12)]
    assert sorted(order) == list(range(12))
    np.testing.assert_array_equal(labels, np.asarray(plain[1])[order])
    # The default (co-training's crops, rotations and flips) changes them.
    augmented, _ = training(None)
    assert not any(np.allclose(augmented[j], plain[0][i], atol=1.0)
                   for j in range(12) for i in range(12))
    assert VIEW_AUGMENTATION.crop_scale == (0.35, 1.0) and VIEW_AUGMENTATION.crop_fraction == 1.0
