"""The co-training command survives `kill -9` mid-round and ends as an uninterrupted run does.

The end-to-end test runs real `tfvision cotrain` processes on the built-in
two-view data; the others check the backup folder itself.

The models use the small CNN backbone (`small_cnn`), not MobileNetV2: what is
checked here (the backup, resuming) does not depend on the backbone, and
MobileNetV2's tracing and checkpoint writing took most of these tests' time.
The command's backbone is frozen and loaded from a weights file, as
`--weights shapes` is for MobileNetV2, so the run takes the same path (frozen
batch norm, the views' default augmentation); the in-process models train
their backbones, so a restore must bring back more state.
"""

import csv
import json
import os
import signal
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.reliability.commands import finish, tfvision
from tfvision.data import aligned_splits, shapes_two_views
from tfvision.models.classifier import ImageClassifier
from tfvision.models.cotraining import CoTraining
from tfvision.models.moco import SmallCNN
from tfvision.recipes.cotraining.round_backup import RoundBackup
from tfvision.recipes.cotraining.rounds import fit_rounds
from tfvision.recipes.cotraining.view_callbacks import PerViewPlateau
from tfvision.training import load_checkpoint, read_checkpoint_state

ROUNDS, EPOCHS = 2, 3
COTRAIN = [
    "cotrain", "shapes", "--num-shapes", "60", "--labelled-fraction", "0.5",
    "--test-fraction", "0.2", "--valid-fraction", "0.2", "--k", "4",
    "--rounds", str(ROUNDS), "--epochs-per-round", str(EPOCHS), "--steps-per-epoch", "2",
    "--arch", "small_cnn", "--image-size", "32", "--hidden-units", "8",
    "--batch-size", "8", "--seed", "0", "--deterministic",
]


@pytest.fixture(scope="module")
def backbone_weights(tmp_path_factory):
    """A `small_cnn` weights file: the command's pretrained, frozen backbone (`--weights`)."""
    path = str(tmp_path_factory.mktemp("backbone") / "small_cnn.weights.h5")
    keras.utils.set_random_seed(1)
    SmallCNN((32, 32, 3)).save_weights(path)
    return path


def read_state(save_dir):
    path = os.path.join(save_dir, "backup", "state.json")
    if not os.path.isfile(path):
        return None
    with open(path) as handle:  # replaced atomically: always a whole file
        return json.load(handle)


def epoch_rows(save_dir):
    with open(os.path.join(save_dir, "epochs.csv")) as handle:
        return [(int(r["round"]), int(r["epoch"]), int(r["run"])) for r in csv.DictReader(handle)]


def view_weights(save_dir):
    return [load_checkpoint(os.path.join(save_dir, f"view{i}.keras"))[0].get_weights()
            for i in range(2)]


def test_kill_9_mid_round_then_the_same_command_resumes_and_matches_a_fresh_run(
    backbone_weights, tmp_path
):
    save_dir = str(tmp_path / "run")
    command = [*COTRAIN, "--weights", backbone_weights]
    process = tfvision(*command, "--save-dir", save_dir)
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline and process.poll() is None:
        state = read_state(save_dir)
        if state and (state["round"] - 1) * EPOCHS + state["epoch"] >= 2:
            break  # two epochs done: round 1 is cut short, or round 2 is under way
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed = read_state(save_dir)
    done = (killed["round"] - 1) * EPOCHS + killed["epoch"]  # epochs saved before the kill
    assert 2 <= done < ROUNDS * EPOCHS and not killed["complete"]

    output = finish(tfvision(*command, "--save-dir", save_dir))
    assert (f"Resuming the run in {save_dir} at round {killed['round']} after epoch "
            f"{killed['epoch']}") in output
    every_epoch = [(r, e) for r in range(1, ROUNDS + 1) for e in range(1, EPOCHS + 1)]
    rows = epoch_rows(save_dir)
    # Each epoch trained once: the first run's up to the kill, the second run's after it.
    assert [(r, e) for r, e, _ in rows] == every_epoch
    assert [run for _, _, run in rows] == [1] * done + [2] * (ROUNDS * EPOCHS - done)
    with open(os.path.join(save_dir, "history.json")) as handle:
        resumed_history = json.load(handle)
    assert [record["round"] for record in resumed_history] == list(range(1, ROUNDS + 1))
    final = read_state(save_dir)
    assert final["complete"] and len(final["history"]) == ROUNDS
    assert read_checkpoint_state(os.path.join(save_dir, "cotraining.keras"))["epoch"] == ROUNDS
    cotraining, _ = load_checkpoint(os.path.join(save_dir, "cotraining.keras"))
    assert isinstance(cotraining, CoTraining)
    resumed = view_weights(save_dir)

    # --no-resume starts again from round 1; with the seed it is the uninterrupted
    # run, and the resumed run ended with exactly its weights and history.
    output = finish(tfvision(*command, "--save-dir", save_dir, "--no-resume"))
    assert "Resuming" not in output
    assert epoch_rows(save_dir) == [(r, e, 1) for r, e in every_epoch]
    with open(os.path.join(save_dir, "history.json")) as handle:
        assert json.load(handle) == resumed_history
    for resumed_model, fresh_model in zip(resumed, view_weights(save_dir)):
        assert len(resumed_model) == len(fresh_model)
        for a, b in zip(resumed_model, fresh_model):
            np.testing.assert_array_equal(a, b)


@pytest.fixture(scope="module")
def cotraining():
    keras.utils.set_random_seed(3)
    model = CoTraining(_classifier(), _classifier())
    model.compile(learning_rate=1e-2)
    images = np.random.default_rng(0).random((4, 32, 32, 3), dtype=np.float32)
    labels = np.array([0, 1] * 2)
    batches = tf.data.Dataset.from_tensors(((images, images), (labels, labels))).repeat(2)
    model.fit(batches, epochs=1, verbose=0)  # two steps: optimizer state and dropout seeds move
    return model


def _classifier(class_names=("a", "b")):
    return ImageClassifier(list(class_names), backbone="small_cnn", image_size=32,
                           backbone_weights=None, freeze_backbone=False, hidden_units=(4,),
                           dropout=0.5)


CONFIG = {"rounds": 3, "epochs_per_round": 2, "k": 4, "batch_size": 8, "image_size": 32,
          "steps_per_epoch": None, "seed": 0, "class_balanced": True, "oversample": True,
          "num_samples": 60,
          "data": "0123456789abcdef"}


def test_the_backup_restores_weights_optimizers_dropout_state_and_best_weights(cotraining,
                                                                               tmp_path):
    backup = RoundBackup(str(tmp_path / "backup"), str(tmp_path / "epochs.csv"))
    best = [[w * 0 + 7 for w in model.get_weights()] for model in cotraining.models]
    state = {"config": CONFIG, "run": 1, "round": 2, "epoch": 1, "stopped": False,
             "complete": False, "epoch_log": [{"round": 2, "epoch": 1, "run": 1, "loss0": 0.5}]}
    backup.write(cotraining, state, best)
    state = backup.write(cotraining, backup.read(CONFIG), best)  # a second epoch
    # Only the newest files stay; state.json names them.
    assert sorted(os.listdir(backup.directory)) == sorted(["state.json", state["arrays"]])
    assert state["serial"] == 2
    with open(tmp_path / "epochs.csv") as handle:
        assert list(csv.DictReader(handle)) == [
            {"round": "2", "epoch": "1", "run": "1", "loss0": "0.5"}]

    keras.utils.set_random_seed(4)  # other initial weights and generator seeds
    fresh = CoTraining(_classifier(), _classifier())
    fresh.compile(learning_rate=1e-2)
    restored_best = backup.restore(fresh, backup.read(CONFIG))
    seeds = [v for v in fresh.variables if v.path.endswith("seed_generator_state")]
    assert len(seeds) == 2  # the dropout masks go on as they would have
    for a, b in zip(cotraining.variables, fresh.variables):  # weights and generator states
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a),
                                      keras.ops.convert_to_numpy(b))
    for old, new in zip(cotraining.optimizers, fresh.optimizers):
        assert int(new.iterations.numpy()) == int(old.iterations.numpy()) == 2
        for a, b in zip(old.variables, new.variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    for expected, got in zip(best, restored_best):
        for a, b in zip(expected, got):
            np.testing.assert_array_equal(a, b)


def test_a_backup_of_other_settings_a_finished_one_and_a_broken_one(cotraining, tmp_path):
    backup = RoundBackup(str(tmp_path / "backup"))
    state = {"config": CONFIG, "run": 1, "round": 2, "epoch": 1, "stopped": False,
             "complete": False}
    backup.write(cotraining, state)
    with pytest.raises(ValueError, match=r"rounds=3 in the backup, 5 now.*--no-resume"):
        backup.read({**CONFIG, "rounds": 5})
    backup.write(cotraining, {**state, "complete": True})
    assert backup.read(CONFIG) is None  # a finished run starts again
    state = backup.write(cotraining, state)
    np.savez(os.path.join(backup.directory, state["arrays"]), variable_00000=np.zeros(3))
    with pytest.raises(ValueError, match="does not fit this model"):
        backup.restore(cotraining, backup.read(CONFIG))
    with open(backup.state_path, "w") as handle:
        handle.write('{"round": ')
    with pytest.raises(ValueError, match="state.json is not a readable co-training backup"):
        backup.read(CONFIG)
    backup.clear()
    assert os.listdir(backup.directory) == [] and backup.read() is None


def test_the_plateau_goes_on_from_a_restored_state(cotraining):
    plateau = PerViewPlateau(early_stopping_patience=3, reduce_lr_patience=None)
    plateau.set_model(cotraining)
    plateau.on_train_begin()
    plateau.on_epoch_end(0, {"val_loss0": 1.0, "val_loss1": 1.0})
    plateau.on_epoch_end(1, {"val_loss0": 2.0, "val_loss1": 0.5})
    state, best_weights = plateau.get_state()
    assert state["best_losses"] == [1.0, 0.5] and state["waits"] == [1, 0]
    json.dumps(state)

    resumed = PerViewPlateau(early_stopping_patience=3, reduce_lr_patience=None)
    resumed.set_model(cotraining)
    resumed.restore_state(json.loads(json.dumps(state)), best_weights)
    resumed.on_train_begin()
    assert resumed.get_state()[0] == state
    # Two more epochs without improvement: model 0 reaches its patience of 3 at epoch 4.
    resumed.on_epoch_end(2, {"val_loss0": 2.0, "val_loss1": 0.4})
    resumed.on_epoch_end(3, {"val_loss0": 2.0, "val_loss1": 0.3})
    assert resumed.stopped_epochs == [4, None]
    resumed.on_train_end()
    resumed.on_train_begin()  # the next round's fit starts afresh
    assert resumed.get_state()[0]["best_losses"] == [float("inf")] * 2


class _Interrupted(Exception):
    pass


class _InterruptAfter(keras.callbacks.Callback):
    """Raises at the end of the `n`-th epoch of the run (after the backup is written)."""

    def __init__(self, n):
        super().__init__()
        self.n, self.seen = n, 0

    def on_epoch_end(self, epoch, logs=None):
        self.seen += 1
        if self.seen == self.n:
            raise _Interrupted()


@pytest.mark.slow  # three in-process runs (~30 s CPU); the kill -9 test covers the main path
def test_a_round_both_models_stopped_early_in_resumes_without_training_more(tmp_path):
    samples = shapes_two_views(40, image_size=48, seed=2)
    splits = aligned_splits(samples.labels, labelled_fraction=0.5, test_fraction=0.2,
                            valid_fraction=0.2, seed=2)

    def run(backup=None, callbacks=None):
        keras.utils.set_random_seed(5)
        cotraining = CoTraining(_classifier(samples.class_names), _classifier(samples.class_names))
        cotraining.compile(learning_rate=1e-2)
        # Only a fall of 1e9 counts as progress: both models stop at epoch 2 of 3.
        plateau = PerViewPlateau(early_stopping_patience=1, reduce_lr_patience=None,
                                 min_delta=1e9)
        result = fit_rounds(cotraining, samples, splits, rounds=2, epochs_per_round=3, k=2,
                            batch_size=4, image_size=32, steps_per_epoch=1, seed=0,
                            plateau=plateau, backup=backup, callbacks=callbacks)
        return cotraining, result

    straight, straight_result = run()
    backup = RoundBackup(str(tmp_path / "backup"))
    with pytest.raises(_Interrupted):
        run(backup, [_InterruptAfter(2)])  # round 1, epoch 2: both models have just stopped
    state = backup.read()
    assert (state["round"], state["epoch"], state["stopped"]) == (1, 2, True)
    assert state["plateau"]["stopped_epochs"] == [2, 2]
    resumed, resumed_result = run(backup)
    assert [r["epochs0"] for r in resumed_result.history] == [2, 2]
    assert json.dumps(resumed_result.history) == json.dumps(straight_result.history)
    with open(backup.state_path) as handle:
        final = json.load(handle)  # finished: `read()` would start again
    assert final["complete"]
    assert [(row["round"], row["epoch"], row["run"]) for row in final["epoch_log"]] == [
        (1, 1, 1), (1, 2, 1), (2, 1, 2), (2, 2, 2)]
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
