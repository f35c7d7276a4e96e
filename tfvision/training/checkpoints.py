"""`.keras` checkpoints that also carry the training state, written atomically."""

import json
import os
import zipfile

import keras

from tfvision.training.atomic_write import atomic_path

# The entry tfvision adds to the `.keras` zip; Keras ignores entries it does
# not know, so the file stays a plain Keras model file.
STATE_ENTRY = "tfvision_state.json"


def save_checkpoint(model, path, epoch, logs=None):
    """Saves `model` (weights, config, optimizer state) and its training state.

    The file is written beside `path` and renamed over it (`atomic_path`), so
    a job killed while saving never leaves a broken checkpoint behind.

    Args:
        model: a `keras.Model`.
        path: str. Destination, ending in `.keras`.
        epoch: int. Number of completed epochs.
        logs: dict. The epoch's metrics. Defaults to `None`.
    """
    if not str(path).endswith(".keras"):
        raise ValueError(f"A checkpoint path must end in .keras. Received: path={path}")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    state = {
        "epoch": int(epoch),
        "logs": {key: float(value) for key, value in (logs or {}).items()},
        "class_names": list(getattr(model, "class_names", []) or []),
    }
    with atomic_path(path) as temporary:
        model.save(temporary)
        with zipfile.ZipFile(temporary, "a") as archive:
            archive.writestr(STATE_ENTRY, json.dumps(state, indent=2))


def read_checkpoint_state(path):
    """The training state stored in a checkpoint: epoch, logs, class names."""
    try:
        with zipfile.ZipFile(path) as archive:
            if STATE_ENTRY not in archive.namelist():
                return {"epoch": None, "logs": {}, "class_names": []}
            return json.loads(archive.read(STATE_ENTRY))
    except (OSError, zipfile.BadZipFile, ValueError) as error:
        raise ValueError(f"{path} is not a readable .keras checkpoint ({error}).") from error


def load_checkpoint(path, compile=True, allow_unsafe_code=False):
    """Rebuilds a model from a checkpoint, ready to keep training or predict.

    Loading is `keras.saving.load_model(..., safe_mode=True)`: a checkpoint
    that would run arbitrary code (a `Lambda` layer holding Python bytecode) is
    refused unless the caller opts in.

    Args:
        path: str. A `.keras` file written by `save_checkpoint` or `model.save`.
        compile: bool. Restore the optimizer state. Defaults to `True`.
        allow_unsafe_code: bool. Load a file whose layers carry Python code;
            only for files from a source you trust. Defaults to `False`.

    Returns:
        `(model, state)` with `state` as `read_checkpoint_state` returns it.
    """
    import tfvision.models  # noqa: F401  (registers tfvision's classes with Keras)

    if not os.path.isfile(path):
        raise FileNotFoundError(f"No checkpoint at {path}.")
    state = read_checkpoint_state(path)
    try:
        model = keras.saving.load_model(path, compile=compile, safe_mode=not allow_unsafe_code)
    except ValueError as error:
        if "safe_mode" not in str(error):
            raise
        raise ValueError(
            f"{path} holds Python code (a Lambda layer) that would run on loading; "
            "refused. Load it with allow_unsafe_code=True only if you trust its source."
        ) from error
    return model, state


class CheckpointCallback(keras.callbacks.Callback):
    """Saves `last.keras` every epoch and `best.keras` when `monitor` improves.

    Args:
        save_dir: str. Folder for the checkpoints.
        monitor: str. Metric that decides the best epoch. Defaults to
            `"val_accuracy"`.
        mode: `"max"` or `"min"`. Defaults to `"max"`.
        save_last: bool, write `last.keras`. Defaults to `True`.
        save_best: bool, write `best.keras`. Defaults to `True`.
    """

    def __init__(self, save_dir, monitor="val_accuracy", mode="max", save_last=True,
                 save_best=True):
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(f"`mode` must be 'max' or 'min'. Received: mode={mode!r}")
        self.save_dir = save_dir
        self.monitor = monitor
        self.mode = mode
        self.save_last = bool(save_last)
        self.save_best = bool(save_best)
        self.best = None
        best = os.path.join(save_dir, "best.keras")
        if os.path.isfile(best):  # A resumed run keeps the best so far.
            self.best = read_checkpoint_state(best)["logs"].get(monitor)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_last:
            save_checkpoint(self.model, os.path.join(self.save_dir, "last.keras"), epoch + 1,
                            logs)
        value = logs.get(self.monitor)
        if value is None or not self.save_best:
            return
        if self.best is None or (value > self.best if self.mode == "max" else value < self.best):
            self.best = float(value)
            save_checkpoint(self.model, os.path.join(self.save_dir, "best.keras"), epoch + 1, logs)
