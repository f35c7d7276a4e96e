"""`tfvision moco` end to end on the built-in shapes, and the transfer contract."""

import csv
import os
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvision.cli.main import main
from tfvision.models.classifier import ImageClassifier
from tfvision.models.mobilenet_v2 import MobileNetV2
from tfvision.models.moco import MoCo
from tfvision.recipes.moco.recipe import pretrain_moco
from tfvision.training import load_checkpoint, read_checkpoint_state

PRETRAIN = ["moco", "pretrain", "shapes", "--arch", "small_cnn", "--image-size", "32",
            "--num-images", "96", "--batch-size", "32", "--queue-size", "64",
            "--hidden-dim", "32", "--projection-dim", "16", "--bn-splits", "2", "--symmetric",
            "--knn-k", "20", "--seed", "0"]


class StopAfterFirstEpoch(keras.callbacks.Callback):
    """Ends the run after one epoch, as a killed job would."""

    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = True


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    save_dir = str(tmp_path_factory.mktemp("moco"))
    pretrain_moco("shapes", save_dir, arch="small_cnn", image_size=32, num_images=96,
                  batch_size=32, queue_size=64, hidden_dims=(32,), projection_dim=16,
                  bn_splits=2, symmetric=True, knn_k=20, seed=0, epochs=2,
                  callbacks=[StopAfterFirstEpoch()], verbose=0)
    return save_dir


def test_pretrain_writes_checkpoints_logs_and_resumes(run_dir, capsys):
    names = set(os.listdir(run_dir))
    assert {"last.keras", "best.keras", "history.csv", "logs", "backbone.weights.h5",
            "training_curves.png"} <= names
    assert read_checkpoint_state(os.path.join(run_dir, "last.keras"))["epoch"] == 1
    # Started again, the run goes on from epoch 1.
    assert main(PRETRAIN + ["--epochs", "2", "--save-dir", run_dir]) == 0
    assert "Last kNN accuracy" in capsys.readouterr().out
    assert read_checkpoint_state(os.path.join(run_dir, "last.keras"))["epoch"] == 2
    with open(os.path.join(run_dir, "history.csv")) as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["0", "1"]
    assert {"loss", "positive_similarity", "key_similarity", "learning_rate",
            "knn_accuracy"} <= set(rows[0])
    # Cosine decay over 2 epochs of 3 steps, continued from the restored optimizer step.
    assert float(rows[0]["learning_rate"]) == pytest.approx(0.03, rel=1e-4)
    assert float(rows[1]["learning_rate"]) == pytest.approx(0.0, abs=1e-7)
    tags = set()
    for root, _, files in os.walk(os.path.join(run_dir, "logs")):
        for name in files:
            for event in tf.compat.v1.train.summary_iterator(os.path.join(root, name)):
                tags.update(value.tag for value in event.summary.value)
    # TensorBoard scalars per batch and per epoch, the kNN curve per epoch.
    assert {"batch_loss", "batch_positive_similarity", "batch_learning_rate", "epoch_loss",
            "epoch_knn_accuracy"} <= tags


def test_knn_and_linear_probe_commands(run_dir, capsys):
    checkpoint = os.path.join(run_dir, "last.keras")
    assert main(["moco", "knn", checkpoint, "shapes", "--num-images", "60", "--k", "10"]) == 0
    accuracy = float(re.search(r"kNN accuracy ([0-9.]+)", capsys.readouterr().out).group(1))
    assert 0.0 <= accuracy <= 1.0
    assert main(["moco", "linear-probe", checkpoint, "shapes", "--num-images", "60",
                 "--label-fraction", "0.5", "--classes", "0,1", "--epochs", "5"]) == 0
    out = capsys.readouterr().out
    assert "Linear probe on circle, cross" in out and "(10 training labels" in out
    assert main(["moco", "linear-probe", checkpoint, "shapes", "--classes", "0,9"]) == 2
    assert "Classes must be ids in [0, 6)" in capsys.readouterr().err


def test_bad_arguments_exit_with_a_message(tmp_path, capsys):
    code = main(["moco", "pretrain", "shapes", "--save-dir", str(tmp_path), "--bn-splits", "2",
                 "--epochs", "1", "--num-images", "8", "--batch-size", "4"])
    assert code == 2 and "bn_splits=2" in capsys.readouterr().err
    code = main(["moco", "pretrain", str(tmp_path / "missing"), "--save-dir", str(tmp_path)])
    assert code == 2 and "Image folder not found" in capsys.readouterr().err
    for flag, value in (("--crop-scale", ["0.9", "0.3"]), ("--grayscale-probability", ["2"])):
        code = main(["moco", "pretrain", "shapes", "--save-dir", str(tmp_path), flag, *value])
        assert code == 2 and flag[2:].replace("-", "_") in capsys.readouterr().err


def test_pretrained_backbone_loads_into_mobilenet_the_classifier_and_the_detector(tmp_path):
    from tfvision.models.ssd import ssdlite_mobilenet_v2

    backbone = MobileNetV2(0.35, (32, 32, 3), include_top=False, pooling="avg")
    model = MoCo(backbone, queue_size=16, hidden_dims=(16,), projection_dim=8)
    for weight in model.backbone.weights:  # distinguishable from any initialisation
        weight.assign(np.random.default_rng(len(weight.path)).normal(size=weight.shape))
    path = str(tmp_path / "backbone.weights.h5")
    model.save_backbone_weights(path)
    reloaded = MobileNetV2(0.35, (32, 32, 3), include_top=False, weights=path)
    classifier = ImageClassifier(["a", "b"], image_size=32, alpha=0.35, backbone_weights=path)
    detector = ssdlite_mobilenet_v2(["a", "b"], alpha=0.35, image_size=64, backbone_weights=path)
    for target in (reloaded, classifier.backbone, detector.backbone):
        assert len(target.weights) == len(model.backbone.weights)
        for a, b in zip(target.weights, model.backbone.weights):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        model.save_backbone_weights(str(tmp_path / "backbone.h5"))


def test_pretrain_on_tfds_cifar10_with_mock_data(tmp_path, capsys):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=64):
        code = main(["moco", "pretrain", "tfds:cifar10", "--save-dir", str(tmp_path),
                     "--arch", "small_cnn", "--image-size", "32", "--batch-size", "32",
                     "--queue-size", "32", "--hidden-dim", "16", "--epochs", "1",
                     "--knn-k", "10", "--seed", "0"])
    assert code == 0
    assert re.search(r"Last kNN accuracy [0-9.]+", capsys.readouterr().out.replace(":", ""))
    assert read_checkpoint_state(str(tmp_path / "last.keras"))["epoch"] == 1


def test_feature_grid_and_grey_views_reach_the_model_and_its_export(tmp_path):
    save_dir = str(tmp_path / "run")
    assert main(PRETRAIN + ["--epochs", "1", "--save-dir", save_dir, "--feature-grid", "2",
                            "--grayscale-probability", "1", "--knn-every", "0"]) == 0
    model, _ = load_checkpoint(os.path.join(save_dir, "last.keras"))
    assert model.feature_grid == 2 and model.grayscale
    images = np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 3)).astype("float32")
    assert model(images).shape == (3, 4 * 128)  # small_cnn's 2x2 last map at 32 px
    assert main(["export", os.path.join(save_dir, "last.keras"), "--name", "encoder",
                 "--out", str(tmp_path / "saved")]) == 0
    serve = tf.saved_model.load(str(tmp_path / "saved" / "encoder" / "1")).signatures[
        "serving_default"]
    encoded = tf.stack([tf.io.encode_png(tf.cast(image, tf.uint8)) for image in images])
    grey = tf.tile(tf.image.rgb_to_grayscale(tf.cast(images, tf.uint8)), [1, 1, 1, 3])
    encoded_grey = tf.stack([tf.io.encode_png(image) for image in grey])
    # The export turns colour grey in its graph: a colour image embeds as its grey version
    # (up to the grey PNG's rounding to whole levels).
    np.testing.assert_allclose(serve(image_bytes=encoded)["features"],
                               serve(image_bytes=encoded_grey)["features"], rtol=0.05, atol=0.05)
    assert serve(image_bytes=encoded)["features"].shape == (3, 512)
