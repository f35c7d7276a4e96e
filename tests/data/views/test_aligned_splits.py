"""Aligned splits: the reference sizes, disjoint and covering, seeded, validated."""

import numpy as np
import pytest

from tfvision.data.views.aligned_splits import aligned_splits


def test_reference_sizes_4303_samples():
    splits = aligned_splits(4303, labelled_fraction=0.25, test_fraction=0.2, valid_fraction=0.125)
    assert splits.sizes() == {"train": 754, "valid": 107, "test": 215, "unlabelled": 3227}
    everything = np.concatenate([splits.train, splits.valid, splits.test, splits.unlabelled])
    np.testing.assert_array_equal(np.sort(everything), np.arange(4303))  # disjoint, covering


def test_same_seed_same_splits_other_seed_other_splits():
    a, b = aligned_splits(500, seed=3), aligned_splits(500, seed=3)
    c = aligned_splits(500, seed=4)
    np.testing.assert_array_equal(a.train, b.train)
    np.testing.assert_array_equal(a.unlabelled, b.unlabelled)
    assert not np.array_equal(a.train, c.train)


def test_samples_without_labels_always_join_the_pool():
    labels = np.array([0, 1, 2] * 100 + [-1] * 40)
    splits = aligned_splits(labels, labelled_fraction=0.5, seed=0)
    assert set(range(300, 340)) <= set(splits.unlabelled.tolist())
    assert (labels[splits.train] >= 0).all() and (labels[splits.test] >= 0).all()
    assert len(splits.train) + len(splits.valid) + len(splits.test) == 150


@pytest.mark.parametrize("kwargs, match", [
    ({"labelled_fraction": 0.0}, "labelled_fraction=0.0"),
    ({"labelled_fraction": 1.5}, "labelled_fraction=1.5"),
    ({"test_fraction": 1.0}, "test_fraction=1.0"),
    ({"valid_fraction": -0.1}, "valid_fraction=-0.1"),
    ({"labelled_fraction": 0.01}, "each split needs at least one"),
])
def test_bad_fractions_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        aligned_splits(100, **kwargs)
