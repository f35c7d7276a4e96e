"""`tfvision detector train -> evaluate -> predict` end to end on the built-in shapes.

The tests that share the trained run are slow (`make test-slow`): training with
validation mAP, then evaluating and predicting, takes about 90 s; the argument checks
run in the default suite.
"""

import json
import os
import re

import keras
import numpy as np
import pytest
from PIL import Image

from tfvision.cli.main import main
from tfvision.data import generate_shapes
from tfvision.models.mobilenet_v2 import MobileNetV2
from tfvision.training.checkpoints import read_checkpoint_state
from tfvision.visualization.training_curves import read_history
from tfvision.training import GroupedOptimizer, load_checkpoint

SIZE = 64


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    save_dir = str(tmp_path_factory.mktemp("detector"))
    code = main([
        "detector", "train", "--data", "shapes", "--save-dir", save_dir,
        "--model", "ssdlite_mobilenet_v2", "--image-size", str(SIZE), "--alpha", "0.35",
        "--weights", "shapes", "--epochs", "1", "--fine-tune-epochs", "1",
        "--train-images", "64", "--valid-images", "32", "--batch-size", "16",
        "--learning-rate", "0.003", "--seed", "0",
    ])
    assert code == 0
    return save_dir


@pytest.mark.slow  # trains a detector (about 90 s for the module)
def test_train_writes_checkpoints_and_history(run, capsys):
    assert {"best.keras", "last.keras", "history.csv", "training_curves.png"} <= set(
        os.listdir(run)
    )
    with open(os.path.join(run, "history.csv")) as handle:
        lines = handle.read().strip().splitlines()
    assert len(lines) == 3  # header + the frozen epoch + the fine-tuning epoch
    for column in ("val_localization_loss", "val_map", "val_map50", "val_map75", "val_voc07_map"):
        assert column in lines[0].split(",")


@pytest.mark.slow  # trains a detector (about 90 s for the module)
def test_best_checkpoint_has_the_best_validation_map_and_its_report_is_evaluate_s(
        run, tmp_path):
    history = read_history(os.path.join(run, "history.csv"))
    state = read_checkpoint_state(os.path.join(run, "best.keras"))
    # Chosen by validation COCO AP (the first of equal values), not by loss.
    assert state["logs"]["val_map"] == pytest.approx(max(history["val_map"]), abs=1e-9)
    assert state["epoch"] == 1 + int(np.argmax(history["val_map"]))
    # Every evaluation's metrics.json content, numbered by epoch.
    for epoch, value in enumerate(history["val_map"], 1):
        per_epoch = json.loads(open(os.path.join(
            run, "evaluation", "epochs", f"epoch-{epoch:04d}.json")).read())
        assert per_epoch["epoch"] == epoch and per_epoch["AP"] == pytest.approx(value, abs=1e-9)
        assert per_epoch["seconds"] > 0 and len(per_epoch["per_class"]) == 6
    # After training: best.keras's validation report, which `detector evaluate` writes alike.
    report = os.path.join(run, "evaluation", "valid")
    assert {"metrics.json", "pr_curves.png", "confusion_matrix.png", "f1_curve.png"} <= set(
        os.listdir(report))
    trained = json.loads(open(os.path.join(report, "metrics.json")).read())
    assert trained["AP"] == pytest.approx(state["logs"]["val_map"], abs=1e-9)
    assert main(["detector", "evaluate", os.path.join(run, "best.keras"), "--data", "shapes",
                 "--split", "valid", "--images", "32", "--report-dir", str(tmp_path)]) == 0
    evaluated = json.loads((tmp_path / "metrics.json").read_text())
    assert evaluated == trained


@pytest.mark.slow  # trains a detector (about 90 s for the module)
def test_head_first_then_backbone_at_its_own_rate(run):
    model, state = load_checkpoint(os.path.join(run, "last.keras"))
    assert state["epoch"] == 2
    # Phase 2 unfroze the backbone and trained it through a grouped optimizer.
    assert not model.freeze_backbone
    assert isinstance(model.optimizer, GroupedOptimizer)
    assert model.optimizer.patterns == [model.backbone_variable_pattern()]
    shapes = MobileNetV2(alpha=0.35, input_shape=(SIZE, SIZE, 3), include_top=False,
                         weights="shapes")
    moved = [
        np.abs(a - b).max()
        for a, b in zip(model.backbone.get_weights(), shapes.get_weights())
    ]
    assert max(moved) > 0  # the backbone trained in phase 2
    backbone_rate = float(model.optimizer.optimizers[0].learning_rate)
    head_rate = float(model.optimizer.optimizers[1].learning_rate)
    np.testing.assert_allclose(backbone_rate, 0.3 * head_rate, rtol=1e-5)


@pytest.mark.slow  # trains a detector (about 90 s for the module)
def test_evaluate_prints_the_ap_table(run, capsys):
    capsys.readouterr()
    code = main(["detector", "evaluate", os.path.join(run, "best.keras"), "--data", "shapes",
                 "--split", "test", "--images", "32"])
    assert code == 0
    out = capsys.readouterr().out
    for name in ("circle", "cross", "ring", "square", "star", "triangle", "mean", "AP50"):
        assert name in out
    match = re.search(r"VOC07 mAP@0.5 ([0-9.]+) \(32 images\)", out)
    assert match and 0.0 <= float(match.group(1)) <= 1.0
    # The report beside the checkpoint: the numbers printed, per class, and three pictures.
    report = os.path.join(run, "evaluation", "test")
    assert {"metrics.json", "pr_curves.png", "confusion_matrix.png", "f1_curve.png"} <= set(
        os.listdir(report))
    metrics = json.loads(open(os.path.join(report, "metrics.json")).read())
    assert metrics["voc07_map"] == pytest.approx(float(match.group(1)), abs=1e-4)
    assert len(metrics["per_class"]) == 6 and metrics["num_images"] == 32


@pytest.mark.slow  # trains a detector (about 90 s for the module)
def test_predict_prints_boxes_names_and_scores(run, tmp_path, capsys):
    image = generate_shapes(1, image_size=128, seed=5)["images"][0]
    path = str(tmp_path / "scene.png")
    Image.fromarray(image).save(path)
    capsys.readouterr()
    code = main(["detector", "predict", path, os.path.join(run, "best.keras"),
                 "--score-threshold", "0.0"])
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:2] == ["class", "score"]
    rows = [line.split() for line in lines[1:-1]]
    assert rows and re.match(r"\d+ detections above 0.0", lines[-1])
    for name, score, *box in rows:
        assert name in ("circle", "cross", "ring", "square", "star", "triangle")
        x1, y1, x2, y2 = map(float, box)
        assert 0 <= x1 <= x2 <= 128 and 0 <= y1 <= y2 <= 128  # pixels of the 128 px file
    scores = [float(r[1]) for r in rows]
    assert scores == sorted(scores, reverse=True)


def test_bad_data_spec_is_a_clear_error(tmp_path, capsys):
    code = main(["detector", "train", "--data", "pascal", "--save-dir", str(tmp_path),
                 "--image-size", "64", "--alpha", "0.35", "--weights", "shapes"])
    assert code == 2
    assert "Received: spec='pascal'" in capsys.readouterr().err


def test_mosaic_without_augmentation_and_a_bad_close_mosaic_are_clear_errors(tmp_path, capsys):
    common = ["detector", "train", "--data", "shapes", "--save-dir", str(tmp_path),
              "--image-size", "64", "--alpha", "0.35", "--weights", "shapes", "--epochs", "2"]
    assert main(common + ["--mosaic", "0.5", "--no-augment"]) == 2
    assert "need augment=True" in capsys.readouterr().err
    assert main(common + ["--mosaic", "0.5", "--close-mosaic", "3"]) == 2
    assert "close_mosaic=3" in capsys.readouterr().err
    assert main(common + ["--mosaic", "1.5"]) == 2
    assert "1.5" in capsys.readouterr().err
    assert main(common + ["--monitor", "map", "--eval-every", "0"]) == 2
    assert "eval_every" in capsys.readouterr().err
    assert not os.listdir(tmp_path)  # refused before anything is written


@pytest.mark.slow  # trains a detector (about 90 s for the module)
def test_predict_a_folder_in_batches_writes_coco_json_yolo_txt_and_pictures(run, tmp_path,
                                                                            capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, image in enumerate(generate_shapes(3, image_size=96, seed=7)["images"]):
        Image.fromarray(image).save(folder / f"{i}.png")
    (folder / "broken.jpg").write_bytes(b"no jpeg")
    capsys.readouterr()
    checkpoint = os.path.join(run, "best.keras")
    with pytest.warns(UserWarning, match="broken.jpg"):
        code = main(["detector", "predict", str(folder), checkpoint, "--batch-size", "2",
                     "--score-threshold", "0.0", "--save-json", str(tmp_path / "results.json"),
                     "--save-txt", str(tmp_path / "labels"), "--save-conf",
                     "--save-images", str(tmp_path / "drawn")])
    assert code == 0
    out = capsys.readouterr().out
    assert "3 images," in out and "1 files skipped" in out
    results = json.loads((tmp_path / "results.json").read_text())
    assert {r["file_name"] for r in results} == {str(folder / f"{i}.png") for i in range(3)}
    assert all(1 <= r["category_id"] <= 6 and len(r["bbox"]) == 4 for r in results)
    lines = [line.split() for i in range(3)
             for line in (tmp_path / "labels" / f"{i}.txt").read_text().splitlines()]
    assert len(lines) == len(results) and all(len(line) == 6 for line in lines)
    assert sorted(os.listdir(tmp_path / "drawn")) == ["0.png", "1.png", "2.png"]
    assert main(["detector", "predict", str(folder), checkpoint, "--plot", "x.png"]) == 2
    assert "--save-images" in capsys.readouterr().err
