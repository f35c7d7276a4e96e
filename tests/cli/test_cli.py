"""The `tfvision` command end to end on a generated image folder."""

import contextlib
import io
import json
import os
import re
import subprocess
import sys

import pytest
from PIL import Image

from tfvision.cli.main import main


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("cli") / "shapes")
    assert main(["data", "synthetic", root, "--train", "60", "--valid", "20", "--test", "20",
                 "--image-size", "48", "--seed", "3"]) == 0
    return root


@pytest.fixture(scope="module")
def training_run(folder, tmp_path_factory):
    """The one pretrained run the tests below share: `(save_dir, what it printed)`.

    No --image-size: the 48 px images give the automatic size, 64 px.
    """
    save_dir = str(tmp_path_factory.mktemp("run"))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main([
            "classifier", "train", folder, "--save-dir", save_dir, "--arch", "mobilenet_v2",
            "--alpha", "0.35", "--weights", "shapes",
            "--hidden-units", "16", "--epochs", "2", "--batch-size", "16", "--seed", "0",
            "--learning-rate", "0.001", "0.01", "--sweep-epochs", "1",
        ])
    assert code == 0
    return save_dir, printed.getvalue()


@pytest.fixture(scope="module")
def checkpoint(training_run):
    return training_run[0]


def test_train_writes_checkpoints_logs_and_plots(training_run):
    checkpoint, printed = training_run
    names = set(os.listdir(checkpoint))
    assert {"best.keras", "last.keras", "history.csv", "training_curves.png", "logs"} <= names
    with open(os.path.join(checkpoint, "history.csv")) as handle:
        assert len(handle.read().strip().splitlines()) == 3  # header + 2 epochs
    assert "Learning-rate sweep" in printed  # the two rates were swept first


def test_evaluate_prints_loss_and_accuracy(folder, checkpoint, capsys):
    assert main(["classifier", "evaluate", folder, os.path.join(checkpoint, "best.keras")]) == 0
    out = capsys.readouterr().out
    assert "test: loss" in out and "accuracy" in out and "(20 images)" in out


def test_predict_prints_top_k_table_and_plot(folder, checkpoint, capsys, tmp_path):
    image = os.path.join(folder, "test", sorted(os.listdir(os.path.join(folder, "test")))[0])
    image = os.path.join(image, sorted(os.listdir(image))[0])
    names = tmp_path / "names.json"
    classes = sorted(os.listdir(os.path.join(folder, "train")))
    names.write_text(json.dumps({c: f"the {c}" for c in classes}))
    plot = tmp_path / "plot.png"
    assert main(["classifier", "predict", image, os.path.join(checkpoint, "best.keras"),
                 "--top-k", "3", "--category-names", str(names), "--plot", str(plot)]) == 0
    rows = capsys.readouterr().out.strip().splitlines()
    assert rows[0].split() == ["rank", "class", "probability"]
    table = [re.match(r"^\s*(\d+)  (.+?)\s+([0-9.]+)$", row).groups() for row in rows[1:4]]
    assert [rank for rank, _, _ in table] == ["1", "2", "3"]
    assert rows[4] == f"Plot written to {plot}"
    probabilities = [float(p) for _, _, p in table]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1.0001
    assert {name for _, name, _ in table} <= {f"the {c}" for c in classes}
    with Image.open(plot) as figure:
        assert figure.format == "PNG"


def test_export_writes_a_saved_model(checkpoint, tmp_path, capsys):
    out = str(tmp_path / "saved_models")
    assert main(["export", os.path.join(checkpoint, "best.keras"), "--name", "shapes",
                 "--version", "2", "--out", out]) == 0
    assert os.path.isfile(os.path.join(out, "shapes", "2", "saved_model.pb"))
    # A version is never overwritten.
    assert main(["export", os.path.join(checkpoint, "best.keras"), "--name", "shapes",
                 "--version", "2", "--out", out]) == 2
    assert "already holds a model" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["classifier", "train", "/nonexistent/dir", "--save-dir", "x"], "/nonexistent/dir"),
        (["classifier", "predict", "missing.jpg", "missing.keras"], "missing.keras"),
        (["classifier", "evaluate", "/nonexistent/dir", "missing.keras"], "missing.keras"),
    ],
)
def test_user_errors_are_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tfvision: error:") and message in err
    assert "\n" not in err and "Traceback" not in err


def test_empty_class_folder_and_bad_checkpoint(folder, tmp_path, capsys):
    data = tmp_path / "data"
    for split in ("train", "valid"):
        (data / split / "a").mkdir(parents=True)
        (data / split / "b").mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(data / split / "a" / "x.png")
    assert main(["classifier", "train", str(data), "--save-dir", str(tmp_path / "r"),
                 "--weights", "none"]) == 2
    assert "b" in capsys.readouterr().err
    bad = tmp_path / "bad.keras"
    bad.write_text("garbage")
    image = tmp_path / "i.png"
    Image.new("RGB", (8, 8)).save(image)
    assert main(["classifier", "predict", str(image), str(bad)]) == 2
    assert "bad.keras" in capsys.readouterr().err


def test_console_script_runs():
    result = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "tfvision"), "--help"],
        capture_output=True, text=True, check=True,
    )
    for command in ("classifier", "export", "data"):
        assert command in result.stdout


def test_train_options_set_the_augmentation_schedule_and_weight_decay(folder, tmp_path):
    import keras

    from tfvision.training import load_checkpoint

    save_dir = str(tmp_path / "scratch")
    # The options reach the model and its optimizer whatever the backbone: the
    # small CNN keeps this run (the whole backbone trains) cheap to trace.
    with pytest.warns(UserWarning, match="image_size=64"):
        code = main([
            "classifier", "train", folder, "--save-dir", save_dir, "--arch", "small_cnn",
            "--weights", "none", "--train-backbone", "--image-size", "48", "--hidden-units",
            "--epochs", "2", "--batch-size", "16", "--seed", "0", "--augment", "light",
            "--no-flip", "--crop-scale", "0.6", "1.0", "--schedule", "cosine",
            "--warmup-epochs", "1", "--weight-decay", "0.01", "--learning-rate", "0.002",
        ])
    assert code == 0
    model, _ = load_checkpoint(os.path.join(save_dir, "last.keras"))
    assert model.crop_fraction == 1.0  # `light` evaluates the whole image
    assert not model.freeze_batch_norm and model.hidden_units == ()
    optimizer = model.optimizer
    assert isinstance(optimizer, keras.optimizers.AdamW)
    assert optimizer.weight_decay == pytest.approx(0.01)
    schedule = optimizer._learning_rate  # the schedule object behind the rate
    steps = int(optimizer.iterations)  # 4 steps of 16 per epoch: 60 images
    assert steps == 8
    # Warm-up to 0.002 over the first epoch, then a cosine to 0 at the last step.
    assert float(schedule(0)) < 0.002 / 2
    assert float(schedule(4)) == pytest.approx(0.002, rel=1e-3)
    assert float(schedule(steps)) == pytest.approx(0.0, abs=1e-6)


def test_the_default_image_size_follows_the_training_images(training_run):
    from tfvision.training import load_checkpoint

    save_dir, printed = training_run  # trained without --image-size
    assert "Image size: 64 px (auto" in printed  # 48 px images: 64, not 224
    model, _ = load_checkpoint(os.path.join(save_dir, "last.keras"))
    assert model.image_size == 64
