"""Co-training rounds: the exchange moves exactly the expected samples; history is consistent."""

import json

import keras
import numpy as np
import pytest

from tfvision.data import aligned_splits, shapes_two_views
from tfvision.models.classifier import ImageClassifier
from tfvision.models.cotraining import CoTraining
from tfvision.recipes.cotraining.pseudo_labels import exchange_pseudo_labels, resolve_k
from tfvision.recipes.cotraining.rounds import fit_rounds


def _probabilities(confident, pool_size=6):
    """Rows of [P, 2] probabilities: 0.6 for class 0 unless `confident` says otherwise."""
    probabilities = np.tile([0.6, 0.4], (pool_size, 1))
    for row, (label, score) in confident.items():
        probabilities[row] = [score, 1 - score] if label == 0 else [1 - score, score]
    return probabilities


def test_one_exchange_moves_the_other_models_picks_and_shrinks_the_pool():
    pool = np.array([10, 11, 12, 13, 14, 15])
    p0 = _probabilities({0: (0, 0.99), 1: (1, 0.95), 2: (0, 0.9)})
    p1 = _probabilities({2: (1, 0.98), 3: (1, 0.97), 0: (0, 0.96)})
    train_sets = ((np.array([1, 2]), np.array([0, 1])), (np.array([1, 2]), np.array([0, 1])))
    true_labels = np.full(16, -1)
    true_labels[[10, 11, 13]] = [0, 0, 1]
    (set0, set1), new_pool, record = exchange_pseudo_labels(p0, p1, pool, train_sets, 3,
                                                            true_labels)
    # Sample 12: model 0 says 0, model 1 says 1 -> dropped from both, stays in the pool.
    assert record["conflicts"] == 1 and record["conflict_samples"] == [[12, 0, 1]]
    # Model 0 learns model 1's picks with model 1's labels, and the reverse.
    assert set0[0].tolist() == [1, 2, 13, 10] and set0[1].tolist() == [0, 1, 1, 0]
    assert set1[0].tolist() == [1, 2, 10, 11] and set1[1].tolist() == [0, 1, 0, 1]
    assert new_pool.tolist() == [12, 14, 15]
    assert (record["moved_to_view0"], record["moved_to_view1"], record["pool_after"]) == (2, 2, 3)
    assert record["pseudo_accuracy0"] == 0.5 and record["pseudo_accuracy1"] == 1.0
    json.dumps(record)  # the record goes to the JSON history as it is


def test_resolve_k():
    assert resolve_k(0.01, 3227) == 32 and resolve_k(7, 5) == 5 and resolve_k(0.001, 10) == 1
    with pytest.raises(ValueError, match="k=1.5"):
        resolve_k(1.5, 10)


def _small_cotraining(num_samples, fractions, seed, **classifier_options):
    """Built-in two views at 48 px, their splits, and an eager `CoTraining` of 32 px models."""
    samples = shapes_two_views(num_samples, image_size=48, seed=seed)
    labelled, test, valid = fractions
    splits = aligned_splits(samples.labels, labelled_fraction=labelled, test_fraction=test,
                            valid_fraction=valid, seed=seed)
    keras.utils.set_random_seed(seed)
    make = lambda: ImageClassifier(samples.class_names, image_size=32, alpha=0.35,  # noqa: E731
                                   **classifier_options)
    cotraining = CoTraining(make(), make())
    # Eager steps: the rounds' bookkeeping is under test, not the (traced) step,
    # and two MobileNetV2s cost far more to trace than to run a few batches.
    cotraining.compile(learning_rate=2e-3, run_eagerly=True)
    return samples, splits, cotraining


@pytest.fixture(scope="module")
def short_run():
    """Two rounds of two epochs, shared by the tests below (one run of two models per file).

    Its plateau never sees an improvement of 10 in the validation loss, so it
    cuts each model's rate by 10 after every round's second epoch; a callback
    records the rates each round's `fit` starts at.
    """
    from tfvision.recipes.cotraining.view_callbacks import PerViewPlateau

    samples, splits, cotraining = _small_cotraining(90, (0.4, 0.3, 0.2), seed=1,
                                                    backbone_weights="shapes", hidden_units=(16,))
    seen, starts = [], []
    record_start = keras.callbacks.LambdaCallback(on_train_begin=lambda logs: starts.append(
        [float(keras.ops.convert_to_numpy(o.learning_rate)) for o in cotraining.optimizers]))
    plateau = PerViewPlateau(early_stopping_patience=None, reduce_lr_patience=1, factor=0.1,
                             min_delta=10.0)
    result = fit_rounds(cotraining, samples, splits, rounds=2, epochs_per_round=2, k=8,
                        batch_size=8, steps_per_epoch=1, seed=1, plateau=plateau,
                        callbacks=[record_start], on_round_end=seen.append)
    return samples, splits, result, seen, starts


def test_history_records_are_consistent(short_run):
    samples, splits, result, seen, _ = short_run
    history = result.history
    assert seen == history and [r["round"] for r in history] == [1, 2]
    assert history[0]["train_size0"] == history[0]["train_size1"] == len(splits.train)
    assert history[0]["pool_size"] == len(splits.unlabelled)
    for before, after in zip(history, history[1:]):
        assert after["train_size0"] == before["train_size0"] + before["moved_to_view0"]
        assert after["train_size1"] == before["train_size1"] + before["moved_to_view1"]
        assert after["pool_size"] == before["pool_after"] < before["pool_size"]
        assert before["moved_to_view0"] == before["picked1"] - before["conflicts"]
    assert history[-1]["moved_to_view0"] == 0 and history[-1]["pool_after"] == len(result.pool)
    for record in history:
        for key in ("val_accuracy0", "test_accuracy1", "test_ensemble_accuracy"):
            assert 0.0 <= record[key] <= 1.0


def test_final_sample_lists_are_aligned_and_disjoint(short_run):
    samples, splits, result, _, _ = short_run
    (indices0, labels0), (indices1, labels1) = result.train_sets
    assert len(indices0) == result.history[-1]["train_size0"] == len(labels0)
    np.testing.assert_array_equal(indices0[: len(splits.train)], splits.train)
    np.testing.assert_array_equal(labels0[: len(splits.train)], samples.labels[splits.train])
    moved = np.union1d(indices0[len(splits.train):], indices1[len(splits.train):])
    assert set(moved.tolist()) <= set(splits.unlabelled.tolist())
    assert not set(moved.tolist()) & set(result.pool.tolist())
    assert len(result.pool) + len(moved) == len(splits.unlabelled)
    # The shrunken pool is one index list for both views: its datasets have equal sizes.
    sizes = [sum(len(b[1]) for b in samples.view_dataset(v, result.pool, image_size=32))
             for v in (0, 1)]
    assert sizes == [len(result.pool)] * 2


def test_view_augmentation_is_none_from_random_weights_and_the_view_crops_otherwise():
    from tfvision.data.classification.augment_presets import PRESETS, VIEW_AUGMENTATION
    from tfvision.recipes.cotraining.recipe import cotraining_augmentation

    assert cotraining_augmentation("auto", 40, None, True) == PRESETS["none"]
    assert cotraining_augmentation("auto", 40, "imagenet", False) == VIEW_AUGMENTATION
    assert cotraining_augmentation("auto", 40, None, False) == VIEW_AUGMENTATION  # a frozen random net
    assert cotraining_augmentation("light", 40, None, True) == PRESETS["light"]
    assert cotraining_augmentation("auto", 40, "imagenet", True, flip=False).flip is False
    with pytest.raises(ValueError, match="augment=.bogus."):
        cotraining_augmentation("bogus")


def test_every_round_starts_at_the_runs_learning_rate_after_the_plateau_cut_it(short_run):
    _, _, result, _, starts = short_run
    np.testing.assert_allclose(starts, [[2e-3, 2e-3]] * 2, rtol=1e-6)
    for record in result.history:  # each round ended one cut down
        np.testing.assert_allclose([record["learning_rate0"], record["learning_rate1"]],
                                   [2e-4, 2e-4], rtol=1e-5)


def test_oversampling_repeats_every_class_up_to_the_largest_and_keeps_pairs():
    from tfvision.recipes.cotraining.rounds import oversampled

    indices = np.array([10, 11, 12, 13, 14, 15, 16])
    labels = np.array([2, 0, 2, 2, 2, 1, 0])
    new_indices, new_labels = oversampled(indices, labels)
    assert np.bincount(new_labels).tolist() == [4, 4, 4]
    assert sorted(set(new_indices.tolist())) == indices.tolist()  # nothing lost, nothing new
    lookup = dict(zip(indices.tolist(), labels.tolist()))
    assert all(lookup[i] == label for i, label in zip(new_indices.tolist(), new_labels.tolist()))
    # The one sample of class 1 four times; class 0's two samples twice each.
    assert new_indices[new_labels == 1].tolist() == [15] * 4
    assert sorted(new_indices[new_labels == 0].tolist()) == [11, 11, 16, 16]
    empty = oversampled(np.array([], np.int64), np.array([], np.int64))
    assert len(empty[0]) == len(empty[1]) == 0
