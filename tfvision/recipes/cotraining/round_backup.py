"""The co-training backup: everything a killed run needs to go on from its last epoch.

After every epoch (and after every round's pseudo-label exchange) the backup
folder receives, in this order: `arrays-<n>.npz`, every variable training
changes (both models' weights, the dropout layers' random-generator states,
both optimizers' state) and the per-view early-stopping best weights; then
`state.json`, which names that file and holds the rest as JSON: round and
epoch, whether the round's training stopped early, the patience counters,
each model's training set (sample indices and labels, pseudo-labels
included), the unlabelled pool, the round history and a log of every epoch.
The folder is a `tfvision.training.backup.BackupFolder`, the mechanism every
tfvision backup uses: each file is written beside its name and renamed over
it, and the file of the older state is deleted only once the new
`state.json` is in place, so a kill at any moment leaves the last complete
state. Nothing is pickled (`np.load(..., allow_pickle=False)`).
"""

import csv
import json
import os

import keras
import numpy as np

from tfvision.training.atomic_write import atomic_write
from tfvision.training.backup import BackupFolder
# The run settings a backup must share with the run that resumes it.
CONFIG_KEYS = ("rounds", "epochs_per_round", "k", "batch_size", "image_size",
               "steps_per_epoch", "seed", "class_balanced", "oversample", "num_samples", "data")


class RoundBackup(BackupFolder):
    """Reads and writes a co-training backup folder (see the module docstring).

    Args:
        directory: str. The backup folder; created on the first write.
        epoch_log_path: optional str. A CSV rewritten from the state's epoch
            log after each write: one row per epoch trained, each once.
            Defaults to `None`.

    Example:
    >>> backup = RoundBackup("/tmp/cotraining_run/backup")
    >>> backup.clear(); backup.read() is None
    True
    """

    def __init__(self, directory, epoch_log_path=None):
        super().__init__(directory)
        self.epoch_log_path = epoch_log_path

    def read(self, config=None):
        """The last state written, or `None` if there is none or the run it saved finished.

        Args:
            config: optional dict of the `CONFIG_KEYS` of the run about to
                resume. A backup of a run with other settings is refused.

        Returns:
            The state dict (see `write`), with `"run"` counting the runs so far.
        """
        try:
            state = self.read_state()
        except (OSError, ValueError) as error:
            raise ValueError(f"{self.state_path} is not a readable co-training backup "
                             f"({error}). Start again with --no-resume.") from error
        if state is None or state.get("complete"):
            return None
        if config is not None:
            saved = state.get("config", {})
            changed = {key: (saved.get(key), _jsonable(config[key])) for key in CONFIG_KEYS
                       if saved.get(key) != _jsonable(config[key])}
            if changed:
                details = ", ".join(f"{key}={old!r} in the backup, {new!r} now"
                                    for key, (old, new) in changed.items())
                raise ValueError(
                    f"The co-training backup in {self.directory} belongs to a run with other "
                    f"settings ({details}). Run the same command to resume it, or start "
                    "again with --no-resume or another --save-dir.")
        return state

    def write(self, cotraining, state, best_weights=None):
        """Saves the models, optimizers and `state`, atomically, `state.json` last.

        Args:
            cotraining: the `CoTraining` being trained.
            state: JSON-able dict: `config`, `run`, `round` (the round in
                progress, 1-based), `epoch` (its completed epochs), `stopped`,
                `complete`, `plateau`, `train_sets`, `pool`, `history`,
                `epoch_log`.
            best_weights: optional pair of weight lists, `PerViewPlateau`'s
                best weights of each model.
        """
        serial = int(state.get("serial", 0)) + 1
        arrays = {f"variable_{j:05d}": keras.ops.convert_to_numpy(variable)
                  for j, variable in enumerate(_training_variables(cotraining))}
        for i, model_weights in enumerate(best_weights or ()):
            arrays.update({f"best{i}_{j:05d}": np.asarray(array)
                           for j, array in enumerate(model_weights)})
        name = f"arrays-{serial:06d}.npz"
        state = {**state, "serial": serial, "arrays": name,
                 "has_best_weights": best_weights is not None}

        def write_arrays(path):
            with open(path, "wb") as handle:
                np.savez(handle, **arrays)

        self.commit(name, write_arrays, state)
        if self.epoch_log_path:
            write_epoch_log(state.get("epoch_log", []), self.epoch_log_path)
        return state

    def restore(self, cotraining, state):
        """Loads the state's weights, optimizer and generator states into `cotraining`.

        Returns:
            The pair of best-weight lists of the state, or `None`.
        """
        cotraining.build()  # the optimizers' variables must exist to be loaded
        path = os.path.join(self.directory, state["arrays"])
        with np.load(path, allow_pickle=False) as arrays:
            names = sorted(arrays.files)
            values = [arrays[name] for name in names if name.startswith("variable_")]
            variables = _training_variables(cotraining)
            shapes = [tuple(v.shape) for v in variables]
            if [value.shape for value in values] != shapes:
                raise ValueError(
                    f"{path} does not fit this model ({len(values)} saved arrays for "
                    f"{len(variables)} variables, or other shapes). Start again with "
                    "--no-resume or another --save-dir.")
            for variable, value in zip(variables, values):
                variable.assign(value)
            if not state.get("has_best_weights"):
                return None
            return tuple([arrays[name] for name in names if name.startswith(f"best{i}_")]
                         for i in range(2))


def write_epoch_log(epoch_log, path):
    """Writes the per-epoch log (`round`, `epoch`, `run`, metrics) as a CSV, atomically."""
    if not epoch_log:
        return
    fields = list(dict.fromkeys(key for row in epoch_log for key in row))
    with atomic_write(path, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(epoch_log)


def training_sets_to_json(train_sets):
    return [[np.asarray(indices).tolist(), np.asarray(labels).tolist()]
            for indices, labels in train_sets]


def training_sets_from_json(rows):
    return tuple((np.asarray(indices, np.int64), np.asarray(labels, np.int64))
                 for indices, labels in rows)


def _training_variables(cotraining):
    """Every variable training changes, in a fixed order: both models' weights, the
    layers' random-generator states (dropout masks; Keras' weight files leave them
    out), the metrics and both optimizers' state (step, learning rate, moments)."""
    variables, seen = [], set()
    for variable in (*cotraining.variables, *cotraining.optimizer0.variables,
                     *cotraining.optimizer1.variables):
        if id(variable) not in seen:
            seen.add(id(variable))
            variables.append(variable)
    return variables


def _jsonable(value):
    return json.loads(json.dumps(value))

