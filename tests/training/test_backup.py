"""`TrainingBackup`: atomic, complete, and exact when a run resumes."""

import json
import os

import keras
import numpy as np
import pytest

from tfvision.training.backup import STATE_FILE, TrainingBackup, read_backup_epoch
from tfvision.training.callbacks import training_callbacks


class StopAfter(keras.callbacks.Callback):
    """Interrupts `fit` after `epochs` epochs, as a kill would (no `on_train_end`)."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            raise KeyboardInterrupt


def make_model():
    keras.utils.set_random_seed(3)
    inputs = keras.Input((4,))
    hidden = keras.layers.Dropout(0.5)(keras.layers.Dense(8, activation="relu")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    model.compile(keras.optimizers.Adam(0.05), "mse")
    return model


def data():
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


def test_an_interrupted_and_resumed_fit_ends_where_an_uninterrupted_one_does(tmp_path):
    x, y = data()
    full = make_model()
    full.fit(x, y, epochs=5, batch_size=8, shuffle=False, verbose=0)

    model = make_model()
    backup = TrainingBackup(str(tmp_path / "backup"))
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=5, batch_size=8, shuffle=False, verbose=0,
                  callbacks=[backup, StopAfter(2)])
    assert read_backup_epoch(backup.backup_dir) == 2
    # One whole weights file, named by the state written after it.
    state = json.load(open(os.path.join(backup.backup_dir, STATE_FILE)))
    weight_files = [f for f in os.listdir(backup.backup_dir) if f.endswith(".weights.h5")]
    assert weight_files == [state["weights"]] == ["epoch-0002.weights.h5"]

    resumed = make_model()  # a new process: fresh weights, optimizer and dropout state
    history = resumed.fit(x, y, epochs=5, batch_size=8, shuffle=False, verbose=0,
                          callbacks=[TrainingBackup(backup.backup_dir)])
    assert history.epoch == [2, 3, 4]
    # Weights, Adam's moments and step, and the dropout masks all carried over.
    for a, b in zip(full.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not os.path.exists(backup.backup_dir)  # deleted once training ends
    # The next `fit` of the same model (a second phase) starts where it is told.
    assert resumed.fit(x, y, initial_epoch=5, epochs=6, verbose=0).epoch == [5]


def test_early_stopping_and_plateau_state_survive_a_resume(tmp_path):
    x, y = data()
    stateful = [keras.callbacks.EarlyStopping("loss", patience=50),
                keras.callbacks.ReduceLROnPlateau("loss", patience=50)]
    model = make_model()
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=4, verbose=0, callbacks=[
            *stateful, TrainingBackup(str(tmp_path), callbacks=stateful), StopAfter(3)])
    saved_best = [c.best for c in stateful]
    fresh = [keras.callbacks.EarlyStopping("loss", patience=50),
             keras.callbacks.ReduceLROnPlateau("loss", patience=50)]
    restoring = TrainingBackup(str(tmp_path), callbacks=fresh)
    restoring.set_model(make_model())
    for callback in fresh:
        callback.set_model(restoring.model)
        callback.on_train_begin()  # resets them; the backup restores after
    restoring.on_train_begin()
    assert [c.best for c in fresh] == saved_best
    assert np.isfinite(saved_best).all()


def test_an_unreadable_backup_is_refused_naming_it(tmp_path):
    backup = tmp_path / "backup"
    backup.mkdir()
    (backup / STATE_FILE).write_text('{"epoch": 2, "weig')
    callback = TrainingBackup(str(backup))
    callback.set_model(make_model())
    with pytest.raises(ValueError, match=r"state\.json.*--no-resume"):
        callback.on_train_begin()


def test_no_resume_discards_the_backup(tmp_path):
    state = tmp_path / "backup" / STATE_FILE
    state.parent.mkdir()
    state.write_text('{"epoch": 3, "weights": "epoch-0003.weights.h5"}')
    training_callbacks(str(tmp_path), tensorboard=False, resume=True)
    assert state.exists()
    training_callbacks(str(tmp_path), tensorboard=False, resume=False)
    assert not state.exists()
