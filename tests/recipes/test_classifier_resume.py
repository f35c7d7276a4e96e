"""A training run killed after an epoch resumes there when started again."""

import csv
import os

import keras
import pytest

from tfvision.data import write_image_folder
from tfvision.recipes import classifier as recipe
from tfvision.training import read_checkpoint_state


class Killed(Exception):
    pass


class KillAfterEpoch(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise Killed  # the process dies once epoch `self.epoch` is fully saved


@pytest.mark.slow  # tests/reliability kills the real command with SIGKILL instead
def test_killed_run_resumes_at_the_next_epoch(tmp_path, monkeypatch):
    data = str(tmp_path / "shapes")
    write_image_folder(data, {"train": 48, "valid": 24}, image_size=48, seed=5)
    save_dir = str(tmp_path / "run")
    kwargs = dict(alpha=0.35, image_size=48, weights="shapes", hidden_units=(8,),
                  epochs=3, batch_size=16, seed=0, verbose=0)

    original = recipe.training_callbacks
    monkeypatch.setattr(recipe, "training_callbacks",
                        lambda *a, **k: original(*a, **k) + [KillAfterEpoch(1)])
    with pytest.raises(Killed):
        recipe.train_classifier(data, save_dir, **kwargs)
    assert read_checkpoint_state(os.path.join(save_dir, "last.keras"))["epoch"] == 2

    monkeypatch.setattr(recipe, "training_callbacks", original)
    _, history = recipe.train_classifier(data, save_dir, **kwargs)
    assert len(history["loss"]) == 1  # only the third epoch ran again
    with open(os.path.join(save_dir, "history.csv")) as handle:
        epochs = [int(row["epoch"]) for row in csv.DictReader(handle)]
    assert epochs == [0, 1, 2]  # no epoch repeated or lost
    assert read_checkpoint_state(os.path.join(save_dir, "last.keras"))["epoch"] == 3


def test_fine_tuning_phase_unfreezes_top_layers_and_continues_the_epochs(tmp_path):
    data = str(tmp_path / "shapes")
    write_image_folder(data, {"train": 32, "valid": 16}, image_size=48, seed=6)
    save_dir = str(tmp_path / "run")
    model, history = recipe.train_classifier(
        data, save_dir, alpha=0.35, image_size=48, weights="shapes", hidden_units=(8,),
        epochs=1, fine_tune_layers=2, fine_tune_epochs=1, batch_size=16, seed=0, verbose=0,
    )
    assert len(history["loss"]) == 2
    assert model.trainable_backbone_layers == 2
    assert {w.path.split("/")[0] for w in model.trainable_weights} >= {"block_16", "Conv_1"}
    assert model.optimizer.learning_rate.numpy() == pytest.approx(1e-4)
    with open(os.path.join(save_dir, "history.csv")) as handle:
        assert [int(row["epoch"]) for row in csv.DictReader(handle)] == [0, 1]
