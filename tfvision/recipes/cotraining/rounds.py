"""Co-training rounds: train both models, exchange confident pseudo-labels, repeat.

Each round: `fit` both models on their own training sets (early stopping and
reduce-LR per model on its own validation loss), measure validation and test
accuracy, predict the unlabelled pool, pick each model's top `k`, drop
conflicting picks, give model 0's picks (with model 0's labels) to model 1
and the reverse, and take every kept pick out of the pool (in both views:
the pool is one index set). The `tf.data` pipelines are rebuilt from the
sample index lists each round.

References:
    Blum & Mitchell, "Combining labeled and unlabeled data with co-training",
    COLT 1998.
"""

import dataclasses
import hashlib
import math

import keras
import numpy as np
import tensorflow as tf

from tfvision.recipes.cotraining.round_backup import (
    training_sets_from_json,
    training_sets_to_json,
)
from tfvision.recipes.cotraining.pseudo_labels import exchange_pseudo_labels, resolve_k
from tfvision.recipes.cotraining.view_callbacks import PerViewPlateau
from tfvision.training.distribution import shard_by_data
from tfvision.training.precise_batch_norm import PreciseBatchNorm


@dataclasses.dataclass
class CoTrainingResult:
    """What `fit_rounds` returns.

    Attributes:
        history: list of dict, one record per round (see `fit_rounds`).
        train_sets: pair of `(indices int64 [n_i], labels int64 [n_i])`, the
            final training set of each model (true and pseudo labels).
        pool: int64 `[P]`, samples still unlabelled.
    """

    history: list
    train_sets: tuple
    pool: np.ndarray


def _data_digest(labels, splits):
    """A short hash of the labels and the splits: a backup resumes only on the same data."""
    parts = [labels, splits.train, splits.valid, splits.test, splits.unlabelled]
    return hashlib.sha256(b"".join(np.asarray(p, np.int64).tobytes() + b"|" for p in parts)
                          ).hexdigest()[:16]


def aligned_dataset(samples, indices, image_size, batch_size, crop_fraction=1.0):
    """Evaluation batches `((images0, images1), labels)` of the same samples in both views."""
    views = [samples.view_dataset(v, indices, image_size=image_size, batch_size=batch_size,
                                  crop_fraction=crop_fraction) for v in (0, 1)]
    return tf.data.Dataset.zip(*views).map(lambda a, b: ((a[0], b[0]), a[1]))


def training_dataset(samples, train_sets, image_size, batch_size, seed=None,
                     augmentation=None, oversample=False):
    """Endless batches `((images0, images1), (labels0, labels1))`, one training set per view.

    Each view's set is shuffled, augmented and repeated on its own, with full
    batches only (fixed shapes). `augmentation`: an `Augmentation`, or `None`
    for `VIEW_AUGMENTATION`. `oversample=True` repeats each view's smaller
    classes up to its largest one (`oversampled`).
    """
    if oversample:
        train_sets = [oversampled(indices, labels) for indices, labels in train_sets]
    views = [samples.view_dataset(v, indices, labels, image_size=image_size,
                                  batch_size=batch_size, training=True, repeat=True,
                                  seed=None if seed is None else seed + v,
                                  augmentation=augmentation)
             for v, (indices, labels) in enumerate(train_sets)]
    return tf.data.Dataset.zip(*views).map(lambda a, b: ((a[0], b[0]), (a[1], b[1])))


def oversampled(indices, labels):
    """Each class's samples repeated (cyclically) up to the largest class's count.

    Pseudo-labels are picked by confidence, so a round can add many samples
    of the classes the models find easy; without this, the next round learns
    that skew and picks those classes again.

    Args:
        indices: int array `[N]`, sample indices.
        labels: int array `[N]`, their labels.

    Returns:
        `(indices, labels)`, class by class, `C_present * largest` long.

    Example:
    >>> oversampled(np.array([7, 8, 9]), np.array([0, 0, 1]))
    (array([7, 8, 9, 9]), array([0, 0, 1, 1]))
    """
    indices, labels = np.asarray(indices), np.asarray(labels)
    if len(labels) == 0:
        return indices, labels
    classes, counts = np.unique(labels, return_counts=True)
    keep = np.concatenate([np.resize(np.flatnonzero(labels == label), counts.max())
                           for label in classes])
    return indices[keep], labels[keep]


def predict_pool(cotraining, samples, pool, image_size, batch_size=64, crop_fraction=1.0):
    """Both models' probabilities on the pool, in batches: `([P, C], [P, C])`."""
    dataset = aligned_dataset(samples, pool, image_size, batch_size, crop_fraction)
    # Under the multi-worker strategy each worker predicts its share of every
    # batch and `predict` gathers all shares, in order, on every worker.
    dataset = shard_by_data(dataset.map(lambda x, y: (x,)))  # ((x0, x1),)
    outputs = cotraining.predict(dataset, verbose=0)
    return outputs["view0"], outputs["view1"]


def _accuracies(cotraining, dataset, prefix):
    results = cotraining.evaluate(dataset, verbose=0, return_dict=True)
    return {
        f"{prefix}_accuracy0": float(results["accuracy0"]),
        f"{prefix}_accuracy1": float(results["accuracy1"]),
        f"{prefix}_ensemble_accuracy": float(results["ensemble_accuracy"]),
        f"{prefix}_loss0": float(results["loss0"]),
        f"{prefix}_loss1": float(results["loss1"]),
    }


def fit_rounds(cotraining, samples, splits, rounds=10, epochs_per_round=3, k=0.01,
               batch_size=32, image_size=None, steps_per_epoch=None, seed=None,
               class_balanced=False, oversample=True, plateau=None, callbacks=None,
               on_round_end=None, augmentation=None, crop_fraction=1.0, backup=None,
               verbose=0):
    """Runs co-training rounds on a compiled `CoTraining` model.

    Round `r` trains both models for `epochs_per_round` epochs on their
    current training sets, records validation and test accuracy, then (unless
    it is the last round or the pool is empty) exchanges pseudo-labels (see
    `exchange_pseudo_labels`). `k=0` exchanges nothing: the two models train
    on the labelled set alone with the same schedule — the baseline.

    With a `backup`, the whole state is saved after every epoch and every
    exchange, and a run started again on the same backup goes on after the
    last completed epoch: the models, optimizers, patience counters, training
    sets, pool and history come back, and the round's training batches skip
    the ones already used, so no epoch is repeated or lost.

    Args:
        cotraining: a compiled `CoTraining`.
        samples: a `TwoViewSamples`.
        splits: an `AlignedSplits` (train, valid, test, unlabelled indices).
        rounds: int >= 1. Defaults to `10`.
        epochs_per_round: int >= 1. Defaults to `3`.
        k: int picks per model per round, or float fraction of the pool.
            Defaults to `0.01`.
        batch_size: int, the global batch. Defaults to `32`.
        image_size: int. Model input side. Defaults to `model0.image_size`.
        steps_per_epoch: int. Training steps per epoch. Defaults to the
            larger training set divided by `batch_size` (rounded up).
        seed: optional int for shuffling and augmentation.
        class_balanced: bool. At most `ceil(k / C)` picks per label and model
            (Blum & Mitchell's per-class quota). Defaults to `False`: plain
            top-k, whose skew toward easy classes `oversample` evens out.
        oversample: bool. Train each model on its training set with every
            class repeated up to its largest one (`oversampled`); an epoch
            still counts the set's own size. Defaults to `True`.
        plateau: a `PerViewPlateau`, or `None` for `PerViewPlateau()`.
        callbacks: list of extra Keras callbacks for each round's `fit`
            (called after the backup is written).
        on_round_end: callable `(record) -> None` called after each round.
        augmentation: the training augmentation of both views, an `Augmentation`
            (see `augmentation_preset`). Defaults to `VIEW_AUGMENTATION`.
        crop_fraction: evaluation centre-crop fraction. Defaults to `1.0`.
        backup: optional `RoundBackup`: save after every epoch, and resume
            from it when it holds an unfinished run with the same settings.
            Defaults to `None`.
        verbose: int. `fit` verbosity. Defaults to `0`.

    Every round starts at the learning rates the optimizers held when the run
    began: a round retrains on a larger training set, and the reductions of
    the last round's plateau would otherwise carry over (a rate of 1e-3 cut
    on every round's plateau reaches the 1e-6 floor by the fourth round).
    A round resumed after some of its epochs keeps the rate it had reached.

    Returns:
        A `CoTrainingResult`. Each history record has `round`, `train_size0`,
        `train_size1`, `pool_size`, `epochs0`, `epochs1` (epochs each model
        trained), `learning_rate0`, `learning_rate1`, `val_/test_` +
        `accuracy0`, `accuracy1`, `ensemble_accuracy`, `loss0`, `loss1`, and
        the `exchange_pseudo_labels` record (zeros and NaN when nothing was
        exchanged).
    """
    if int(rounds) < 1 or int(epochs_per_round) < 1:
        raise ValueError("`rounds` and `epochs_per_round` must be >= 1. "
                         f"Received: rounds={rounds}, epochs_per_round={epochs_per_round}")
    image_size = image_size or cotraining.model0.image_size
    plateau = plateau or PerViewPlateau()
    true_labels = samples.labels
    config = {"rounds": int(rounds), "epochs_per_round": int(epochs_per_round), "k": k,
              "batch_size": int(batch_size), "image_size": int(image_size),
              "steps_per_epoch": steps_per_epoch, "seed": seed,
              "class_balanced": bool(class_balanced), "oversample": bool(oversample),
              "num_samples": len(true_labels),
              "data": _data_digest(true_labels, splits)}
    state = backup.read(config) if backup is not None else None
    if state is None:
        train_sets = tuple((splits.train.copy(), true_labels[splits.train]) for _ in range(2))
        pool = splits.unlabelled.copy()
        state = {"config": config, "run": 1, "round": 1, "epoch": 0, "stopped": False,
                 "complete": False, "plateau": None, "history": [], "epoch_log": [],
                 "learning_rates": _learning_rates(cotraining)}
    else:
        best_weights = backup.restore(cotraining, state)
        if state["plateau"] is not None:
            plateau.restore_state(state["plateau"], best_weights)
        train_sets = training_sets_from_json(state["train_sets"])
        pool = np.asarray(state["pool"], np.int64)
        state = {**state, "run": state["run"] + 1}
    history = list(state["history"])
    # Every worker builds the same batches and keeps its share of each (one worker: all).
    valid = shard_by_data(aligned_dataset(samples, splits.valid, image_size, 128, crop_fraction))
    test = shard_by_data(aligned_dataset(samples, splits.test, image_size, 128, crop_fraction))

    def save_epoch(epoch, logs):
        if backup is None:
            return
        plateau_state, best_weights = plateau.get_state()
        row = {"round": state["round"], "epoch": epoch + 1, "run": state["run"],
               **{key: float(value) for key, value in (logs or {}).items()}}
        state.update(epoch=epoch + 1, stopped=bool(cotraining.stop_training),
                     plateau=plateau_state, epoch_log=[*state["epoch_log"], row])
        state.update(backup.write(cotraining, state, best_weights))

    for round_number in range(int(state["round"]), int(rounds) + 1):
        done = int(state["epoch"])
        state.update(round=round_number, train_sets=training_sets_to_json(train_sets),
                     pool=pool.tolist(), history=history)
        largest = max(len(indices) for indices, _ in train_sets)
        steps = steps_per_epoch or max(1, math.ceil(largest / batch_size))
        if not done:  # A new round: back to the run's learning rates.
            for optimizer, rate in zip(cotraining.optimizers, state["learning_rates"]):
                optimizer.learning_rate.assign(rate)
        train = training_dataset(samples, train_sets, image_size, batch_size,
                                 None if seed is None else seed + 10 * round_number, augmentation,
                                 oversample)
        # Batch norm is recomputed on the round's first batches after every epoch,
        # in a resumed round too.
        precise_batch_norm = PreciseBatchNorm(train)
        # A resumed round: the batches its first `done` epochs used are skipped.
        train = shard_by_data(train.skip(done * steps) if done else train)
        saver = keras.callbacks.LambdaCallback(on_epoch_end=save_epoch)
        fit = cotraining.fit(train, steps_per_epoch=steps, initial_epoch=done,
                             epochs=done if state["stopped"] else int(epochs_per_round),
                             validation_data=valid,
                             callbacks=[precise_batch_norm, plateau, saver,
                                        *(callbacks or [])], verbose=verbose)
        trained = done + len(fit.history.get("loss0", []))
        record = {
            "round": round_number,
            "train_size0": len(train_sets[0][0]),
            "train_size1": len(train_sets[1][0]),
            "pool_size": len(pool),
            "epochs0": plateau.stopped_epochs[0] or trained,
            "epochs1": plateau.stopped_epochs[1] or trained,
            "learning_rate0": plateau.learning_rate(0),
            "learning_rate1": plateau.learning_rate(1),
            **_accuracies(cotraining, valid, "val"),
            **_accuracies(cotraining, test, "test"),
        }
        last = round_number == int(rounds) or len(pool) == 0
        if last or resolve_k(k, len(pool)) == 0:
            record.update(k=0, picked0=0, picked1=0, conflicts=0, conflict_samples=[],
                          moved_to_view0=0, moved_to_view1=0, moved_labels_to_view0=[],
                          moved_labels_to_view1=[], pseudo_accuracy0=float("nan"),
                          pseudo_accuracy1=float("nan"), pool_after=len(pool))
        else:
            probabilities0, probabilities1 = predict_pool(cotraining, samples, pool, image_size,
                                                          crop_fraction=crop_fraction)
            train_sets, pool, exchange = exchange_pseudo_labels(
                probabilities0, probabilities1, pool, train_sets, k, true_labels, class_balanced)
            record.update(exchange)
        history.append(record)
        if on_round_end is not None:
            on_round_end(record)
        if backup is not None:  # The round is done: the next run starts the next one.
            state.update(round=round_number + 1, epoch=0, stopped=False, complete=last,
                         plateau=None, train_sets=training_sets_to_json(train_sets),
                         pool=pool.tolist(), history=history)
            state.update(backup.write(cotraining, state))
        state.update(epoch=0, stopped=False)
        if last:
            break
    return CoTrainingResult(history, train_sets, pool)


def _learning_rates(cotraining):
    return [float(keras.ops.convert_to_numpy(optimizer.learning_rate))
            for optimizer in cotraining.optimizers]
