"""A resumable backup of a training run, written so that a kill never breaks it.

`TrainingBackup` replaces Keras' `BackupAndRestore` in tfvision's runs. At the
end of every epoch it writes the weights (model and optimizer) to a new file,
then a small JSON state naming that file, each beside its destination and
renamed over it; only then are older weight files deleted. The state file is
the commit point: a run killed at any moment leaves a state that names a whole
weights file of the epoch it records. Keras' backup writes its weights and
its epoch number as two files without that ordering, so a kill between them
resumes at the earlier epoch with the later weights.

The state also carries what `model.save_weights` leaves out, so that a resumed
run continues exactly where the interrupted one was: the states of the
callbacks that count epochs (early stopping, the learning-rate plateau), the
layers' random-seed generators (dropout). The training data's per-epoch
randomness follows the epoch number (`tfvision.data.epoch_seeds`).
"""

import glob
import json
import math
import os
import shutil

import keras
import numpy as np

STATE_FILE = "state.json"
# Attributes of Keras' epoch-counting callbacks that decide what they do next.
CALLBACK_STATE = ("wait", "best", "cooldown_counter", "stopped_epoch", "best_epoch")


def _json_number(value):
    if isinstance(value, (int, np.integer)):
        return int(value)
    value = float(value)
    return value if math.isfinite(value) else repr(value)  # "inf", "-inf", "nan"


def _from_json_number(value):
    return float(value) if isinstance(value, str) else value


def read_backup_epoch(backup_dir):
    """Epochs completed according to the backup in `backup_dir` (0 if none)."""
    path = os.path.join(backup_dir, STATE_FILE)
    if not os.path.isfile(path):
        return 0
    with open(path) as handle:
        return int(json.load(handle)["epoch"])


class TrainingBackup(keras.callbacks.Callback):
    """Saves the run after every epoch and restores it when training starts.

    Args:
        backup_dir: str. Folder of the backup; created when first written.
        callbacks: callbacks whose epoch-counting state (see `CALLBACK_STATE`)
            is saved and restored, e.g. `EarlyStopping`, `ReduceLROnPlateau`.
            Defaults to `()`.
        delete_on_end: bool. Delete the backup when `fit` ends normally.
            Defaults to `True`.

    Example:
    >>> import numpy as np, tempfile
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> backup = TrainingBackup(tempfile.mkdtemp(), delete_on_end=False)
    >>> _ = model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=2, callbacks=[backup], verbose=0)
    >>> read_backup_epoch(backup.backup_dir)
    2
    """

    def __init__(self, backup_dir, callbacks=(), delete_on_end=True):
        super().__init__()
        self.backup_dir = str(backup_dir)
        self.stateful_callbacks = list(callbacks)
        self.delete_on_end = bool(delete_on_end)

    def _random_state_variables(self):
        # Seed-generator states are model variables that `save_weights` skips.
        saved = {id(v) for v in self.model.weights}
        return [v for v in self.model.variables if id(v) not in saved]

    def on_train_begin(self, logs=None):
        # Keras keeps a restored start epoch on the model after `fit`; a later
        # `fit` of the same model (the next training phase) must not inherit it.
        self.model._initial_epoch = None
        path = os.path.join(self.backup_dir, STATE_FILE)
        if not os.path.isfile(path):
            return
        try:
            with open(path) as handle:
                state = json.load(handle)
            weights = os.path.join(self.backup_dir, state["weights"])
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(
                f"The training backup {path} is unreadable ({error}). Delete "
                f"{self.backup_dir} (or pass --no-resume) to start again."
            ) from error
        if not self.model.built:
            raise ValueError("A resumed model must be built before `fit` (call it on a batch).")
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(weights)
        random_states = state.get("random_states", [])
        for variable, value in zip(self._random_state_variables(), random_states):
            variable.assign(np.asarray(value, dtype=variable.dtype))
        for callback, values in zip(self.stateful_callbacks, state.get("callbacks", [])):
            for name, value in values.items():
                setattr(callback, name, _from_json_number(value))
        self.model._initial_epoch = int(state["epoch"])  # What Keras' BackupAndRestore sets.

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.backup_dir, exist_ok=True)
        name = f"epoch-{epoch + 1:04d}.weights.h5"
        partial = os.path.join(self.backup_dir, f".partial.{name}")
        self.model.save_weights(partial, overwrite=True)
        os.replace(partial, os.path.join(self.backup_dir, name))
        state = {
            "epoch": epoch + 1,
            "weights": name,
            "random_states": [
                np.asarray(keras.ops.convert_to_numpy(v)).tolist()
                for v in self._random_state_variables()
            ],
            "callbacks": [
                {
                    attribute: _json_number(getattr(callback, attribute))
                    for attribute in CALLBACK_STATE
                    if isinstance(getattr(callback, attribute, None), (int, float, np.number))
                }
                for callback in self.stateful_callbacks
            ],
        }
        partial_state = os.path.join(self.backup_dir, f".partial.{STATE_FILE}")
        with open(partial_state, "w") as handle:
            json.dump(state, handle)
        os.replace(partial_state, os.path.join(self.backup_dir, STATE_FILE))
        # Only now is the previous epoch's file no longer needed.
        for old in glob.glob(os.path.join(self.backup_dir, "*.weights.h5")):
            if os.path.basename(old) != name:
                os.remove(old)

    def on_train_end(self, logs=None):
        self.model._initial_epoch = None
        if self.delete_on_end:
            shutil.rmtree(self.backup_dir, ignore_errors=True)
