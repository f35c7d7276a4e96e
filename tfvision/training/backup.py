"""A resumable backup of a training run, written so that a kill never breaks it.

`BackupFolder` is the mechanism: a folder holding one data file and
`state.json`, the state that names it. A new state is committed by writing
its data file under a new name, then `state.json` (each atomically, see
`tfvision.training.atomic_write`), and only then deleting the older data
file: `state.json` is the commit point, so a run killed at any moment leaves
a state that names a whole data file of the moment it records. Both
`TrainingBackup` (any `fit`) and co-training's `RoundBackup` keep their
state this way.

`TrainingBackup` replaces Keras' `BackupAndRestore` in tfvision's runs. At the
end of every epoch it commits the weights (model and optimizer) and a small
JSON state naming them to its `BackupFolder`. Keras' backup writes its weights and
its epoch number as two files without that ordering, so a kill between them
resumes at the earlier epoch with the later weights.

The state also carries what `model.save_weights` leaves out, so that a resumed
run continues exactly where the interrupted one was: the states of the
callbacks that count epochs (early stopping, the learning-rate plateau), the
layers' random-seed generators (dropout). The training data's per-epoch
randomness follows the epoch number (`tfvision.data.epoch_seeds`).
"""

import json
import math
import os
import shutil

import keras
import numpy as np

from tfvision.training.atomic_write import atomic_path, atomic_write

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


class BackupFolder:
    """A folder holding one committed state: a data file and `state.json` naming it.

    Args:
        directory: str. The folder; created on the first commit.

    Example:
    >>> import tempfile
    >>> folder = BackupFolder(tempfile.mkdtemp())
    >>> def write_data(path):
    ...     with open(path, "w") as handle:
    ...         _ = handle.write("weights")
    >>> folder.commit("data-1.txt", write_data, {"data": "data-1.txt", "epoch": 1})
    >>> folder.read_state()["epoch"], sorted(os.listdir(folder.directory))
    (1, ['data-1.txt', 'state.json'])
    """

    def __init__(self, directory):
        self.directory = str(directory)

    @property
    def state_path(self):
        return os.path.join(self.directory, STATE_FILE)

    def read_state(self):
        """The committed state, or `None` if there is none.

        Raises:
            OSError, ValueError: `state.json` is unreadable or not JSON.
        """
        if not os.path.isfile(self.state_path):
            return None
        with open(self.state_path) as handle:
            return json.load(handle)

    def commit(self, name, write_data, state):
        """Writes the data file `name`, then `state`, then deletes every other file.

        Args:
            name: str. The data file's name, new for each commit (the state
                being replaced names the old one).
            write_data: callable taking the path to write the data to.
            state: JSON-able dict; it should name `name`.
        """
        os.makedirs(self.directory, exist_ok=True)
        with atomic_path(os.path.join(self.directory, name)) as temporary:
            write_data(temporary)
        with atomic_write(self.state_path) as handle:
            json.dump(state, handle)
        # Only now is the previous data file no longer needed.
        self.clear(keep=(STATE_FILE, name))

    def clear(self, keep=()):
        """Deletes the folder's files (but those named in `keep`); the folder stays."""
        if not os.path.isdir(self.directory):
            return
        for entry in os.listdir(self.directory):
            path = os.path.join(self.directory, entry)
            if entry not in keep and os.path.isfile(path):
                os.remove(path)


def read_backup_epoch(backup_dir):
    """Epochs completed according to the backup in `backup_dir` (0 if none)."""
    state = BackupFolder(backup_dir).read_state()
    return 0 if state is None else int(state["epoch"])


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
        folder = BackupFolder(self.backup_dir)
        try:
            state = folder.read_state()
            if state is None:
                return
            weights = os.path.join(self.backup_dir, state["weights"])
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(
                f"The training backup {folder.state_path} is unreadable ({error}). Delete "
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
        name = f"epoch-{epoch + 1:04d}.weights.h5"
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
        BackupFolder(self.backup_dir).commit(
            name, lambda path: self.model.save_weights(path, overwrite=True), state
        )

    def on_train_end(self, logs=None):
        self.model._initial_epoch = None
        if self.delete_on_end:
            shutil.rmtree(self.backup_dir, ignore_errors=True)
