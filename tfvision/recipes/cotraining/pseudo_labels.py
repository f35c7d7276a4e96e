"""Pseudo-label exchange: each model's most confident picks, conflicts removed, swapped.

References:
    Blum & Mitchell, "Combining labeled and unlabeled data with co-training",
    COLT 1998.
"""

import math

import numpy as np

from tfvision.models.cotraining.selection import remove_conflicts, top_k_confident


def resolve_k(k, pool_size):
    """Picks per model: an int count, or a float fraction of the pool (at least 1).

    Example:
    >>> resolve_k(0.01, 3227), resolve_k(50, 20), resolve_k(0.001, 10)
    (32, 20, 1)
    """
    if isinstance(k, float):
        if not 0.0 < k <= 1.0:
            raise ValueError(f"A fractional `k` must be in (0, 1]. Received: k={k}")
        return min(pool_size, max(1, int(math.floor(k * pool_size))))
    if int(k) < 0:
        raise ValueError(f"`k` must be >= 0. Received: k={k}")
    return min(int(k), pool_size)


def exchange_pseudo_labels(probabilities0, probabilities1, pool, train_sets, k,
                           true_labels=None, class_balanced=False):
    """One round's pseudo-labelling: pick, drop conflicts, move, shrink the pool.

    Args:
        probabilities0: float `[P, C]`, model 0's predictions on `pool` (view 0).
        probabilities1: float `[P, C]`, model 1's predictions on `pool` (view 1).
        pool: int `[P]`, sample indices of the unlabelled pool.
        train_sets: pair of `(indices, labels)`, each model's training set.
        k: int count or float fraction (see `resolve_k`).
        true_labels: optional int `[N]`, every sample's true label (`-1`
            unknown), to score the pseudo-labels.
        class_balanced: bool. At most `ceil(k / C)` picks per label (see
            `top_k_confident`). Defaults to `False`.

    Returns:
        `(train_sets, pool, record)`: the new training sets (model 0's gets
        model 1's kept picks with model 1's labels, and the reverse), the pool
        without the kept picks, and a dict with `k`, `picked0`, `picked1`,
        `conflicts`, `conflict_samples` (`[sample, label0, label1]` rows),
        `moved_to_view0`, `moved_to_view1`, `moved_labels_to_view0` and
        `moved_labels_to_view1` (picks per class), `pseudo_accuracy0`,
        `pseudo_accuracy1` (NaN when no true label is known) and `pool_after`.
    """
    pool = np.asarray(pool, dtype=np.int64)
    num_classes = np.shape(probabilities0)[1]
    k = resolve_k(k, len(pool))
    _, labels0, rows0 = top_k_confident(probabilities0, k, class_balanced)
    _, labels1, rows1 = top_k_confident(probabilities1, k, class_balanced)
    picks0, picks1, conflicts = remove_conflicts(rows0, labels0, rows1, labels1)
    (indices0, set_labels0), (indices1, set_labels1) = train_sets
    new_sets = (
        (np.concatenate([indices0, pool[picks1.indices]]), np.concatenate([set_labels0, picks1.labels])),
        (np.concatenate([indices1, pool[picks0.indices]]), np.concatenate([set_labels1, picks0.labels])),
    )
    taken = np.union1d(picks0.indices, picks1.indices)
    record = {
        "k": k,
        "picked0": len(rows0),
        "picked1": len(rows1),
        "conflicts": len(conflicts.indices),
        "conflict_samples": np.stack([pool[conflicts.indices], conflicts.labels0,
                                      conflicts.labels1], axis=1).tolist(),
        "moved_to_view0": len(picks1.indices),
        "moved_to_view1": len(picks0.indices),
        "moved_labels_to_view0": np.bincount(picks1.labels, minlength=num_classes).tolist(),
        "moved_labels_to_view1": np.bincount(picks0.labels, minlength=num_classes).tolist(),
        "pseudo_accuracy0": _pseudo_accuracy(true_labels, pool[picks0.indices], picks0.labels),
        "pseudo_accuracy1": _pseudo_accuracy(true_labels, pool[picks1.indices], picks1.labels),
        "pool_after": len(pool) - len(taken),
    }
    return new_sets, np.delete(pool, taken), record


def _pseudo_accuracy(true_labels, samples, labels):
    if true_labels is None:
        return float("nan")
    truth = np.asarray(true_labels)[samples]
    known = truth >= 0
    return float(np.mean(truth[known] == labels[known])) if known.any() else float("nan")
