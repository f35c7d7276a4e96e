"""Validation mAP during training: the callback's schedule, its logs, and the callbacks reading them."""

import json
import os

import keras
import pytest

from tfvision.data.detection.pipeline import synthetic_detection
from tfvision.metrics import evaluate_detections
from tfvision.models.ssd import ssdlite_mobilenet_v2
from tfvision.training.callbacks import EarlyStopping, HistoryCSVLogger
from tfvision.training.detection_evaluation import DetectionEvaluation
from tfvision.visualization.training_curves import read_history_epochs


@pytest.fixture(scope="module")
def detector_and_data():
    keras.utils.set_random_seed(0)
    data = synthetic_detection(16, "valid", image_size=64, batch_size=8)
    model = ssdlite_mobilenet_v2(data.class_names, alpha=0.35, image_size=64,
                                 backbone_weights="shapes", extra_channels=(32, 32, 32, 32))
    return model, data


def test_every_second_epoch_and_the_last_one_get_map_logs_and_a_metrics_file(
        detector_and_data, tmp_path):
    model, data = detector_and_data
    evaluation = DetectionEvaluation(data.dataset, data.class_names, every=2,
                                     metrics_dir=str(tmp_path))
    evaluation.set_model(model)
    evaluation.set_params({"epochs": 5, "steps": 1, "verbose": 0})
    logged = []
    for epoch in range(5):
        logs = {"loss": 1.0}
        evaluation.on_epoch_end(epoch, logs)
        logged.append(logs)
    assert [sorted(logs) == ["loss"] for logs in logged] == [True, False, True, False, False]
    assert sorted(logged[1]) == ["loss", "val_map", "val_map50", "val_map75", "val_voc07_map"]
    assert sorted(os.listdir(tmp_path)) == ["epoch-0002.json", "epoch-0004.json",
                                             "epoch-0005.json"]
    assert len(evaluation.seconds) == 3
    # The numbers are pycocotools' on the same detections.
    evaluator, count = evaluate_detections(model, data.dataset)
    result = evaluator.result()
    assert count == 16
    saved = json.loads((tmp_path / "epoch-0004.json").read_text())
    assert saved["epoch"] == 4 and saved["num_images"] == 16
    for key, name in (("val_map", "AP"), ("val_map50", "AP50"), ("val_voc07_map", "voc07_map")):
        assert logged[3][key] == pytest.approx(result[name], abs=1e-12)
        assert saved[name] == pytest.approx(result[name], abs=1e-12)
    with pytest.raises(ValueError, match="every"):
        DetectionEvaluation(data.dataset, data.class_names, every=0)


def test_history_has_na_between_evaluations_and_early_stopping_counts_evaluations(tmp_path):
    path = str(tmp_path / "history.csv")
    logger = HistoryCSVLogger(path, keys=DetectionEvaluation.log_keys)
    stopping = EarlyStopping(monitor="val_map", mode="max", patience=2)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    for callback in (logger, stopping):
        callback.set_model(model)
        callback.on_train_begin()
    maps = [None, 0.5, None, 0.4, None, 0.3]  # evaluated every second epoch
    for epoch, value in enumerate(maps):
        logs = {"loss": 1.0 / (epoch + 1)}
        if value is not None:
            logs.update(val_map=value, val_map50=value, val_map75=value, val_voc07_map=value)
        logger.on_epoch_begin(epoch)
        logger.on_epoch_end(epoch, logs)
        stopping.on_epoch_end(epoch, logs)
        if epoch == 3:
            # One evaluation without improvement: a wait of 1, not of 3 epochs.
            assert stopping.wait == 1 and not getattr(model, "stop_training", False)
    logger.on_train_end()
    assert stopping.best == 0.5 and stopping.wait == 2 and model.stop_training
    columns = read_history_epochs(path)
    assert columns["val_map"] == ([2, 4, 6], [0.5, 0.4, 0.3])
    assert columns["loss"][0] == [1, 2, 3, 4, 5, 6]


def test_best_checkpoint_follows_val_map_where_validation_loss_disagrees(tmp_path):
    from tfvision.training.callbacks import training_callbacks
    from tfvision.training.checkpoints import read_checkpoint_state

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    callbacks = training_callbacks(str(tmp_path), monitor="val_map", mode="max",
                                   early_stopping_patience=None, reduce_lr_patience=None,
                                   tensorboard=False)
    for callback in callbacks:
        callback.set_model(model)
        callback.set_params({"epochs": 3, "steps": 1, "verbose": 0})
        callback.on_train_begin()
    # The loss is lowest after epoch 1; the mAP is highest after epoch 2.
    for epoch, (loss, value) in enumerate([(0.5, 0.1), (0.9, 0.4), (0.7, 0.2)]):
        logs = {"loss": loss, "val_loss": loss, "val_map": value}
        for callback in callbacks:
            callback.on_epoch_begin(epoch)
        for callback in callbacks:
            callback.on_epoch_end(epoch, logs)
    best = read_checkpoint_state(str(tmp_path / "best.keras"))
    assert best["epoch"] == 2 and best["logs"]["val_map"] == pytest.approx(0.4)
