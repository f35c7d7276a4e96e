"""The callbacks every tfvision training run uses."""

import csv
import os
import shutil

import keras

from tfvision.data.epoch_seeds import epoch_seeds_callbacks
from tfvision.training.atomic_write import atomic_write
from tfvision.training.backup import TrainingBackup
from tfvision.training.checkpoints import CheckpointCallback
from tfvision.training.precise_batch_norm import PreciseBatchNorm
from tfvision.visualization.training_curves import plot_training_curves


class TrainingCurvesCallback(keras.callbacks.Callback):
    """Redraws the training curves PNG from the CSV history after each epoch."""

    def __init__(self, csv_path, png_path):
        super().__init__()
        self.csv_path = csv_path
        self.png_path = png_path

    def on_epoch_end(self, epoch, logs=None):
        if os.path.isfile(self.csv_path):
            plot_training_curves(self.csv_path, self.png_path)


class HistoryCSVLogger(keras.callbacks.CSVLogger):
    """`CSVLogger` appending across resumed runs, without repeating an epoch.

    A run killed after an epoch's row was written but before its backup was
    saved does that epoch again when resumed. So, when a run starts at epoch
    `e`, rows for epochs `>= e` left by an earlier run are dropped first (the
    file is rewritten beside itself and renamed over it).

    Args:
        filename: str. The CSV file.
        keys: log keys that get a column even when the first epoch lacks
            them (validation mAP evaluated every N epochs); an epoch without
            a value writes `NA`. Defaults to `()`.
    """

    def __init__(self, filename, keys=()):
        super().__init__(filename, append=True)
        self._first_epoch_seen = False
        self.extra_keys = tuple(keys)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._first_epoch_seen = False

    def on_epoch_begin(self, epoch, logs=None):
        if self._first_epoch_seen or not os.path.isfile(self.filename):
            self._first_epoch_seen = True
            return
        self._first_epoch_seen = True
        with open(self.filename, newline="") as handle:
            rows = list(csv.reader(handle))
        if len(rows) < 2 or all(int(row[0]) < epoch for row in rows[1:] if row):
            return
        kept = [rows[0]] + [row for row in rows[1:] if row and int(row[0]) < epoch]
        self.csv_file.close()
        with atomic_write(self.filename, newline="") as handle:
            csv.writer(handle).writerows(kept)
        self.csv_file = open(self.filename, "a", newline="")
        self.append_header = False

    def on_epoch_end(self, epoch, logs=None):
        if self.keys is None and self.extra_keys:
            self.keys = sorted(set(logs or {}) | set(self.extra_keys))
        super().on_epoch_end(epoch, logs)


class EarlyStopping(keras.callbacks.EarlyStopping):
    """Keras' `EarlyStopping`, counting only the epochs whose logs hold `monitor`.

    Validation mAP (`DetectionEvaluation`) may be computed every N epochs:
    the epochs between are neither an improvement nor a wait, so `patience`
    counts evaluations. Keras' own warns at every epoch without the value.
    """

    def get_monitor_value(self, logs):
        return (logs or {}).get(self.monitor)


def training_callbacks(
    save_dir,
    monitor="val_accuracy",
    mode="max",
    early_stopping_patience=5,
    reduce_lr_patience=2,
    tensorboard=True,
    resume=True,
    datasets=(),
    precise_batch_norm=None,
    evaluation=None,
):
    """Checkpoints, resume, early stopping, LR on plateau, logs and plots.

    Everything is written under `save_dir`: `best.keras` and `last.keras`
    (see `save_checkpoint`), `backup/` (`TrainingBackup`: a killed run started
    again resumes from its last completed epoch, exactly), `logs/`
    (TensorBoard), `history.csv` (appended across resumed runs) and
    `training_curves.png`.

    Args:
        save_dir: str. Output folder; created if missing.
        monitor: str. Metric for the best checkpoint, early stopping and the
            learning-rate schedule. Defaults to `"val_accuracy"`.
        mode: `"max"` or `"min"`, the better direction of `monitor`.
            Defaults to `"max"`.
        early_stopping_patience: int or None. Epochs without improvement
            before stopping; `None` disables it. Defaults to `5`.
        reduce_lr_patience: int or None. Epochs without improvement before
            the learning rate is divided by 5; `None` disables it.
            Defaults to `2`.
        tensorboard: bool. Write TensorBoard logs. Defaults to `True`.
        resume: bool. Continue from the backup in `save_dir` when there is
            one; `False` deletes it, so training starts again at epoch 0.
            Defaults to `True`.
        datasets: the training datasets given to `fit`. Their shuffle and
            augmentation follow the epoch number `fit` is at (see
            `tfvision.data.epoch_seeds`), so a resumed run sees the batches an
            uninterrupted one would have. Defaults to `()`.
        precise_batch_norm: optional training `tf.data.Dataset`: after every
            epoch, before validation, batch norm's moving statistics are
            recomputed on its first batches with the epoch's final weights
            (see `PreciseBatchNorm`). Defaults to `None`.
        evaluation: optional callback adding validation metrics to the
            epoch's logs (`tfvision.training.DetectionEvaluation`); it runs
            after the batch-norm recomputation and before everything that
            reads the logs, and its `log_keys` get history columns.
            Defaults to `None`.

    Returns:
        A list of `keras.callbacks.Callback`.
    """
    os.makedirs(save_dir, exist_ok=True)
    backup_dir = os.path.join(save_dir, "backup")
    if not resume:
        shutil.rmtree(backup_dir, ignore_errors=True)
    csv_path = os.path.join(save_dir, "history.csv")
    stateful = []
    if early_stopping_patience is not None:
        stateful.append(
            EarlyStopping(
                monitor=monitor,
                mode=mode,
                patience=early_stopping_patience,
                restore_best_weights=False,
            )
        )
    if reduce_lr_patience is not None:
        stateful.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=monitor, mode=mode, factor=0.2, patience=reduce_lr_patience
            )
        )
    # Before validation, checkpoints and backups: they all see the recomputed statistics.
    precise = [] if precise_batch_norm is None else [PreciseBatchNorm(precise_batch_norm)]
    evaluations = [] if evaluation is None else [evaluation]
    keys = tuple(getattr(evaluation, "log_keys", ()))
    callbacks = epoch_seeds_callbacks(datasets) + precise + evaluations + [
        # The epoch's row is written before the epoch counts as done (backup),
        # so a kill between the two repeats the epoch and replaces the row.
        HistoryCSVLogger(csv_path, keys=keys),
        *stateful,
        # Before the backup commits the epoch: a run killed between the two
        # does the epoch again rather than lose a best epoch.
        CheckpointCallback(save_dir, monitor=monitor, mode=mode, save_last=False),
        # After the callbacks whose state it saves (and restores after their
        # own `on_train_begin` reset it); before `last.keras`, so the backup is
        # never behind the checkpoint a resumed run reads its phase from.
        TrainingBackup(backup_dir, callbacks=stateful),
        CheckpointCallback(save_dir, monitor=monitor, mode=mode, save_best=False),
        TrainingCurvesCallback(csv_path, os.path.join(save_dir, "training_curves.png")),
    ]
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(os.path.join(save_dir, "logs")))
    return callbacks
