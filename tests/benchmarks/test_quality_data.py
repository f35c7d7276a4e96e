"""The quality benchmark's digit sets (layout, disjoint scans, COCO) and `run.py --quick`."""

import csv
import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("sklearn")

from benchmarks.quality import digit_rendering, digits  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPLITS = ("train", "valid", "test")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return digits.write_all(str(tmp_path_factory.mktemp("digits")), seed=0, quick=True)


def _scan_ids(data_dir, split):
    return {int(os.path.basename(p)[1:5]) for p in glob.glob(f"{data_dir}/{split}/*/*.png")}


def test_the_fixed_split_is_stratified_disjoint_and_complete():
    _, labels = digits.load_scans()
    splits = digits.split_scans(labels, seed=0)
    ids = np.concatenate([splits[s] for s in SPLITS])
    assert len(ids) == len(set(ids.tolist())) == len(labels) == 1797
    assert {s: len(splits[s]) for s in SPLITS} == {"train": 1259, "valid": 179, "test": 359}
    for digit in range(10):  # every digit holds about 20 % of its scans out for testing
        share = np.mean(labels[splits["test"]] == digit) / np.mean(labels == digit)
        assert 0.95 < share < 1.05
    again = digits.split_scans(labels, seed=0)
    assert all(np.array_equal(splits[s], again[s]) for s in SPLITS)


@pytest.mark.parametrize("name,size", [("clean", 32), ("hard", 48), ("hard_10pct", 48)])
def test_image_folders_have_the_classifier_layout(folders, name, size):
    for split in SPLITS:
        assert sorted(os.listdir(os.path.join(folders[name], split))) == digits.CLASS_NAMES
        for path in glob.glob(f"{folders[name]}/{split}/*/*.png")[:20]:
            with Image.open(path) as image:
                assert image.mode == "RGB" and image.size == (size, size)


@pytest.mark.parametrize("name", ["clean", "hard", "hard_10pct"])
def test_train_valid_and_test_images_come_from_disjoint_scans(folders, name):
    ids = {split: _scan_ids(folders[name], split) for split in SPLITS}
    assert all(ids.values())
    assert not ids["train"] & ids["test"] and not ids["train"] & ids["valid"]
    assert not ids["valid"] & ids["test"]
    with open(os.path.join(folders[name], "scans.json")) as handle:
        listed = json.load(handle)
    assert {split: set(listed[split]) for split in SPLITS} == ids


def test_the_few_label_set_keeps_part_of_the_training_scans(folders):
    few, full = _scan_ids(folders["hard_10pct"], "train"), _scan_ids(folders["hard"], "train")
    assert few < full and len(few) == len(full) // 2  # quick: half, the full run 10 %
    for split in ("valid", "test"):
        assert _scan_ids(folders["hard_10pct"], split) == _scan_ids(folders["hard"], split)


def test_detection_sets_load_with_pycocotools_and_boxes_lie_inside(folders):
    from pycocotools.coco import COCO

    ids = {}
    for split in SPLITS:
        coco = COCO(os.path.join(folders["detection"], f"{split}.json"))
        assert sorted(c["name"] for c in coco.loadCats(coco.getCatIds())) == digits.CLASS_NAMES
        assert coco.getAnnIds(), split
        for image in coco.loadImgs(coco.getImgIds()):
            path = os.path.join(folders["detection"], split, image["file_name"])
            with Image.open(path) as file:
                assert file.size == (image["width"], image["height"]) == (128, 128)
            boxes = [a["bbox"] for a in coco.loadAnns(coco.getAnnIds(imgIds=image["id"]))]
            assert 1 <= len(boxes) <= 4
            for x, y, w, h in boxes:
                assert w > 0 and h > 0 and x >= 0 and y >= 0
                assert x + w <= image["width"] and y + h <= image["height"]
    with open(os.path.join(folders["detection"], "scans.json")) as handle:
        ids = {split: set(scans) for split, scans in json.load(handle).items()}
    assert not ids["train"] & ids["test"] and not ids["train"] & ids["valid"]


def test_two_view_manifest_lists_two_aligned_views_per_scan(folders):
    root = folders["two_view"]
    with open(os.path.join(root, "manifest.csv"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and set(rows[0]) == {"view0_path", "view1_path", "label"}
    assert {row["label"] for row in rows} == set(digits.CLASS_NAMES)
    for row in rows[:20]:
        assert row["view0_path"].startswith("view0/") and row["view1_path"].startswith("view1/")
        assert os.path.basename(row["view0_path"]) == os.path.basename(row["view1_path"])
        for key in ("view0_path", "view1_path"):
            with Image.open(os.path.join(root, row[key])) as image:
                assert image.size == (40, 40)


def test_drawing_is_deterministic_per_seed_and_differs_across_seeds():
    scans, _ = digits.load_scans()

    def draw(seed):
        return digit_rendering.cluttered_digit(np.random.default_rng(seed), scans[0], scans[1:9],
                                               digits.HARD)

    assert draw(3).shape == (48, 48, 3) and draw(3).dtype == np.uint8
    np.testing.assert_array_equal(draw(3), draw(3))
    assert np.abs(draw(3).astype(int) - draw(4)).mean() > 10


@pytest.mark.quality  # every row through the CLI on tiny data: ~16 commands, several minutes
def test_run_quick_end_to_end(tmp_path):
    out = tmp_path / "results.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "quality", "run.py"), "--quick",
         "--work", str(tmp_path / "work"), "--out", str(out)],
        capture_output=True, text=True, env=env, cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["failures"] == []
    assert len(report["rows"]) == 6
    for row in report["rows"]:
        assert 0.0 <= row["tfvision"] <= 1.0
        assert all(line.startswith("tfvision ") for line in row["commands"])
    assert "task" in result.stdout and "total" in result.stdout
