"""The classifier learns the built-in dataset; checkpoints give identical predictions."""

import keras
import numpy as np
import pytest

from tfvision.data import synthetic_images
from tfvision.export.deployment import export_formats
from tfvision.export.predictor import Predictor
from tfvision.models.classifier import ImageClassifier
from tfvision.training import load_checkpoint, save_checkpoint

IMAGE_SIZE = 64


@pytest.fixture(scope="module")
def splits():
    keras.utils.set_random_seed(0)
    return (
        synthetic_images(1200, "train", image_size=IMAGE_SIZE, batch_size=32),
        synthetic_images(300, "valid", image_size=IMAGE_SIZE, batch_size=100),
    )


@pytest.fixture(scope="module")
def trained(splits):
    train, valid = splits
    model = ImageClassifier(train.class_names, alpha=0.35, image_size=IMAGE_SIZE,
                            backbone_weights="shapes", hidden_units=(128,))
    model.compile(learning_rate=2e-3)
    history = model.fit(train.dataset, validation_data=valid.dataset, epochs=3, verbose=0)
    return model, history.history


def test_frozen_pretrained_backbone_learns_to_90_percent(trained):
    model, history = trained
    assert not model.backbone.trainable
    assert max(history["val_accuracy"]) >= 0.90, history["val_accuracy"]


def test_checkpoint_reload_predicts_identically_and_keeps_training(trained, splits, tmp_path):
    model, _ = trained
    train, valid = splits
    images = next(iter(valid.dataset))[0]
    path = str(tmp_path / "classifier.keras")
    save_checkpoint(model, path, epoch=3)
    restored, state = load_checkpoint(path)
    assert state["epoch"] == 3 and restored.class_names == model.class_names
    np.testing.assert_array_equal(restored.predict(images, verbose=0), model.predict(images, verbose=0))
    assert int(restored.optimizer.iterations) == int(model.optimizer.iterations)
    restored.fit(train.dataset.take(2), verbose=0)  # the reloaded model keeps training
    assert int(restored.optimizer.iterations) == int(model.optimizer.iterations) + 2


@pytest.mark.slow  # two int8 conversions with calibration, about a minute
def test_int8_exports_keep_test_top1_within_one_point(trained, tmp_path):
    pytest.importorskip("onnxruntime")
    model, _ = trained
    checkpoint = str(tmp_path / "classifier.keras")
    save_checkpoint(model, checkpoint, epoch=3)
    test = synthetic_images(300, "test", image_size=IMAGE_SIZE, batch_size=100)
    images = np.concatenate([batch.numpy() for batch, _ in test.dataset])
    labels = np.concatenate([batch_labels.numpy() for _, batch_labels in test.dataset])
    keras_top1 = (model.predict(images, verbose=0).argmax(-1) == labels).mean()
    written = export_formats(checkpoint, "int8", 1, ["litert", "onnx"],
                             exports_root=str(tmp_path / "exports"), quantize="int8",
                             calibration="shapes")
    for kind, path in written.items():
        probabilities = Predictor.open(path).predict_on_batch(images)["probabilities"]
        top1 = (probabilities.argmax(-1) == labels).mean()
        assert abs(top1 - keras_top1) <= 0.01, (kind, top1, keras_top1)
    assert keras_top1 >= 0.9


def test_multi_label_mode_learns_the_shapes_present():
    keras.utils.set_random_seed(0)
    train = synthetic_images(1200, "train", image_size=IMAGE_SIZE, multi_label=True)
    valid = synthetic_images(300, "valid", image_size=IMAGE_SIZE, multi_label=True, batch_size=100)
    model = ImageClassifier(train.class_names, alpha=0.35, image_size=IMAGE_SIZE,
                            backbone_weights="shapes", hidden_units=(128,), multi_label=True)
    model.compile(learning_rate=2e-3)
    history = model.fit(train.dataset, validation_data=valid.dataset, epochs=3, verbose=0).history
    # Predicting "absent" everywhere scores the fraction of zeros in the targets.
    labels = np.concatenate([y for _, y in valid.dataset])
    baseline = 1.0 - labels.mean()
    assert max(history["val_accuracy"]) > baseline + 0.1, (baseline, history["val_accuracy"])
