import json

import numpy as np

from tfvision.cli.main import main
from tfvision.data import detection_data, generate_shapes, split_seed


def test_synthetic_detection_writes_coco_and_csv_that_read_back(tmp_path, capsys):
    for fmt in ("coco", "csv"):
        out = tmp_path / fmt
        assert main(["data", "synthetic-detection", str(out), "--format", fmt, "--train", "4",
                     "--valid", "3", "--test", "0", "--image-size", "48", "--seed", "5"]) == 0
        printed = capsys.readouterr().out
        spec = printed.strip().splitlines()[-1].removeprefix("Read it back with --data ")
        assert spec == f"{fmt}:{out}/{{split}}.{'json' if fmt == 'coco' else 'csv'}:{out}/{{split}}"
        assert sorted(p.name for p in (out / "valid").iterdir()) == [
            "000000.jpg", "000001.jpg", "000002.jpg"]
        assert not (out / "test").exists()
        data = detection_data(spec, "valid", 48, 3)
        boxes = next(iter(data.dataset))[1]["boxes"].numpy()
        np.testing.assert_allclose(boxes, generate_shapes(3, 48, split_seed(5, "valid"))["boxes"],
                                   atol=1e-5)
    coco = json.loads((tmp_path / "coco" / "train.json").read_text())
    assert len(coco["images"]) == 4 and coco["categories"][0] == {"id": 1, "name": "circle"}


def test_synthetic_detection_refuses_to_overwrite(tmp_path, capsys):
    argv = ["data", "synthetic-detection", str(tmp_path), "--train", "1", "--valid", "0",
            "--test", "0", "--image-size", "32"]
    assert main(argv) == 0
    assert main(argv) == 2
    assert "already holds files" in capsys.readouterr().err
    assert main(argv + ["--overwrite"]) == 0


def test_synthetic_detection_writes_yolo_that_reads_back(tmp_path, capsys):
    assert main(["data", "synthetic-detection", str(tmp_path), "--format", "yolo", "--train",
                 "2", "--valid", "3", "--test", "0", "--image-size", "48", "--seed", "5"]) == 0
    spec = capsys.readouterr().out.strip().splitlines()[-1].removeprefix("Read it back with --data ")
    assert spec == f"yolo:{tmp_path}/data.yaml"
    assert sorted(p.name for p in (tmp_path / "labels" / "valid").iterdir()) == [
        "000000.txt", "000001.txt", "000002.txt"]
    data = detection_data(spec, "valid", 48, 3)
    boxes = next(iter(data.dataset))[1]["boxes"].numpy()
    np.testing.assert_allclose(boxes, generate_shapes(3, 48, split_seed(5, "valid"))["boxes"],
                               atol=1e-5)
    assert detection_data(spec, "train", 48, 2).num_examples == 2
