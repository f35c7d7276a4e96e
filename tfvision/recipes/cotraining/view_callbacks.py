"""Early stopping and reduce-LR-on-plateau for each model of a `CoTraining`, separately."""

import math

import keras
import numpy as np

# What `PerViewPlateau` carries from one epoch to the next (besides the best weights).
_STATE_KEYS = ("best_losses", "waits", "lr_waits", "stopped_epochs", "resume_rates")


class PerViewPlateau(keras.callbacks.Callback):
    """Reduces each model's learning rate, and stops each model, on its own validation loss.

    Keras' `EarlyStopping` and `ReduceLROnPlateau` watch one metric and act on
    the whole `fit`; here model `i` watches `val_loss{i}`. When it has not
    improved for `reduce_lr_patience` epochs its optimizer's learning rate is
    multiplied by `factor`; after `early_stopping_patience` epochs the model
    takes back its best weights and stops learning: its learning rate is set
    to 0, so the compiled step keeps its shape (no retracing) while the other
    model trains on. When both have stopped, `fit` stops. At the end of `fit`
    each model holds its best weights of the run and stopped models get their
    learning rate back, for the next round.

    Args:
        early_stopping_patience: int or None. Epochs without improvement
            before a model stops; `None` never stops. Defaults to `3`.
        reduce_lr_patience: int or None. Epochs without improvement before
            the learning rate is reduced; `None` never reduces. Defaults to `2`.
        factor: float in (0, 1). Learning-rate multiplier. Defaults to `0.2`.
        min_learning_rate: float. Floor of the reduced rate. Defaults to `1e-6`.
        min_delta: float. Smallest decrease that counts as an improvement.
            Defaults to `0.0`.

    Attributes:
        stopped_epochs: list of two ints or None: the epoch (1-based) each
            model stopped at in the last `fit`.
        best_losses: list of two floats: each model's best validation loss.
    """

    def __init__(self, early_stopping_patience=3, reduce_lr_patience=2, factor=0.2,
                 min_learning_rate=1e-6, min_delta=0.0):
        super().__init__()
        if not 0.0 < factor < 1.0:
            raise ValueError(f"`factor` must be in (0, 1). Received: factor={factor}")
        self.early_stopping_patience = early_stopping_patience
        self.reduce_lr_patience = reduce_lr_patience
        self.factor = float(factor)
        self.min_learning_rate = float(min_learning_rate)
        self.min_delta = float(min_delta)
        self._restored = None

    def on_train_begin(self, logs=None):
        self.best_losses = [math.inf, math.inf]
        self.best_weights = [model.get_weights() for model in self.model.models]
        self.waits = [0, 0]
        self.lr_waits = [0, 0]
        self.stopped_epochs = [None, None]
        self.resume_rates = [None, None]
        if self._restored is not None:  # A resumed `fit`: carry on where the last one was.
            state, self.best_weights = self._restored
            for key in _STATE_KEYS:
                setattr(self, key, list(state[key]))
            self._restored = None

    def get_state(self):
        """`(state, best_weights)`: the counters (JSON-able) and each model's best weights."""
        return {key: list(getattr(self, key)) for key in _STATE_KEYS}, self.best_weights

    def restore_state(self, state, best_weights):
        """Makes the next `fit` start from `get_state()`'s values instead of afresh.

        A co-training round resumed after its `k`-th epoch (`fit(initial_epoch=k)`)
        then keeps each model's best loss, best weights, patience counters and
        stop epoch.
        """
        self._restored = ({key: state[key] for key in _STATE_KEYS}, list(best_weights))

    def learning_rate(self, i):
        """Model `i`'s current learning rate."""
        return float(keras.ops.convert_to_numpy(self.model.optimizers[i].learning_rate))

    def _set_rate(self, i, value):
        self.model.optimizers[i].learning_rate.assign(value)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        for i, model in enumerate(self.model.models):
            value = logs.get(f"val_loss{i}")
            if self.stopped_epochs[i] is not None or value is None or not np.isfinite(value):
                continue
            if value < self.best_losses[i] - self.min_delta:
                self.best_losses[i] = float(value)
                self.best_weights[i] = model.get_weights()
                self.waits[i] = self.lr_waits[i] = 0
                continue
            self.waits[i] += 1
            self.lr_waits[i] += 1
            if self.reduce_lr_patience is not None and self.lr_waits[i] >= self.reduce_lr_patience:
                self._set_rate(i, max(self.learning_rate(i) * self.factor, self.min_learning_rate))
                self.lr_waits[i] = 0
            if (self.early_stopping_patience is not None
                    and self.waits[i] >= self.early_stopping_patience):
                self.stopped_epochs[i] = epoch + 1
                self.resume_rates[i] = self.learning_rate(i)
                model.set_weights(self.best_weights[i])
                self._set_rate(i, 0.0)
        if all(stopped is not None for stopped in self.stopped_epochs):
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        for i, model in enumerate(self.model.models):
            if math.isfinite(self.best_losses[i]):  # no validation: keep the last weights
                model.set_weights(self.best_weights[i])
            if self.resume_rates[i] is not None:
                self._set_rate(i, self.resume_rates[i])
