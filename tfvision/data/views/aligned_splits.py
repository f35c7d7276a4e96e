"""Aligned co-training splits: the same sample indices in both views.

Co-training needs every split (labelled train, validation, test, unlabelled
pool) to hold the same samples in view 0 and view 1, so a split is a set of
*sample indices* shared by both views rather than two independently shuffled
lists. Sizes follow the reference recipe: the labelled part is
`round(labelled_fraction · N)`, then `floor(test_fraction · labelled)` of it is
the test set and `floor(valid_fraction · rest)` of the rest the validation set.
"""

import dataclasses

import numpy as np


@dataclasses.dataclass
class AlignedSplits:
    """Sample indices of each split, sorted, shared by both views.

    Attributes:
        train: int64 `[n_train]`, labelled training samples.
        valid: int64 `[n_valid]`, labelled validation samples.
        test: int64 `[n_test]`, labelled test samples.
        unlabelled: int64 `[n_unlabelled]`, the pool whose labels are not used.
    """

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    unlabelled: np.ndarray

    def sizes(self):
        """`{split: number of samples}`."""
        return {name: len(getattr(self, name)) for name in ("train", "valid", "test", "unlabelled")}


def _check_fraction(name, value, include_one=False):
    if not (0.0 < value < 1.0 or (include_one and value == 1.0)):
        interval = "(0, 1]" if include_one else "(0, 1)"
        raise ValueError(f"`{name}` must be in {interval}. Received: {name}={value}")


def aligned_splits(labels, labelled_fraction=0.25, test_fraction=0.2, valid_fraction=0.125,
                   seed=0):
    """Splits samples into labelled train / validation / test and an unlabelled pool.

    Samples whose label is unknown (`-1`) always go to the pool; the labelled
    fraction is drawn from the samples with a label. The draw is seeded: the
    same labels and arguments give the same splits.

    Args:
        labels: int array `[N]`, class ids, `-1` for samples without a label.
            An int `N` means `N` labelled samples.
        labelled_fraction: float in (0, 1]. Share of the labelled samples
            whose labels are used. Defaults to `0.25`.
        test_fraction: float in (0, 1). Share of the used labelled samples held
            out for testing. Defaults to `0.2`.
        valid_fraction: float in (0, 1). Share of the rest held out for
            validation. Defaults to `0.125` (with 0.2: 70/10/20).
        seed: int. Defaults to `0`.

    Returns:
        An `AlignedSplits` of sorted index arrays.

    Example:
    >>> aligned_splits(4303, 0.25).sizes()
    {'train': 754, 'valid': 107, 'test': 215, 'unlabelled': 3227}
    """
    _check_fraction("labelled_fraction", labelled_fraction, include_one=True)
    _check_fraction("test_fraction", test_fraction)
    _check_fraction("valid_fraction", valid_fraction)
    labels = np.full(int(labels), 0) if np.ndim(labels) == 0 else np.asarray(labels)
    known = np.flatnonzero(labels >= 0)
    rng = np.random.default_rng(seed)
    order = rng.permutation(known)
    num_labelled = int(round(labelled_fraction * len(known)))
    num_test = int(np.floor(test_fraction * num_labelled))
    num_valid = int(np.floor(valid_fraction * (num_labelled - num_test)))
    if num_labelled - num_test - num_valid < 1 or num_test < 1 or num_valid < 1:
        raise ValueError(
            f"{len(known)} labelled samples with labelled_fraction={labelled_fraction}, "
            f"test_fraction={test_fraction}, valid_fraction={valid_fraction} leave "
            f"{num_labelled - num_test - num_valid} training, {num_valid} validation and "
            f"{num_test} test samples; each split needs at least one."
        )
    labelled, hidden = order[:num_labelled], order[num_labelled:]
    test = labelled[:num_test]
    valid = labelled[num_test : num_test + num_valid]
    train = labelled[num_test + num_valid :]
    unlabelled = np.concatenate([hidden, np.flatnonzero(labels < 0)])
    return AlignedSplits(*(np.sort(s).astype(np.int64) for s in (train, valid, test, unlabelled)))
