"""Per-class loss weights that balance a long-tailed training set."""

import numpy as np


def class_balance_weights(class_counts, power=0.5):
    """Per-class loss weights from the boxes of each class, rarer classes heavier.

    `w_c = k (max_count / count_c) ** power`, with `k` chosen so that the mean
    weight over the training boxes is 1: `sum_c count_c w_c = sum_c count_c`.
    A loss weighted per box (as `MultiboxLoss(class_weights=...)` weights each
    positive anchor) then keeps its scale, and the learning rate its meaning.
    `power=1` is inverse frequency, `power=0.5` its square root (milder; the
    square-root re-sampling of Mahajan et al. 2018), `power=0` no balancing.
    A class without boxes takes the weight of the rarest class that has boxes
    (the largest weight); it has no positive anchor to weight, so this only
    matters if the counts were taken on other data than the training's.

    Args:
        class_counts: sequence of `C` non-negative numbers, the boxes of each
            class (`DetectionData.class_counts`).
        power: float >= 0. Defaults to `0.5`.

    Returns:
        list of `C` floats; all `1.0` when no class has a box.

    References:
        - [Mahajan et al., 2018. Exploring the Limits of Weakly Supervised
          Pretraining](https://arxiv.org/abs/1805.00932), §2 (square-root sampling).
        - [Cui et al., 2019. Class-Balanced Loss Based on Effective Number of
          Samples](https://arxiv.org/abs/1901.05555), §3 (weights normalised to keep
          the loss's scale).

    Example:
    >>> class_balance_weights([300, 300, 75])  # a class 4x rarer weighs 2x more
    [0.9, 0.9, 1.8]
    """
    counts = np.asarray(class_counts, dtype=np.float64)
    if (counts.ndim != 1 or counts.size == 0 or not np.all(np.isfinite(counts))
            or np.any(counts < 0)):
        raise ValueError(
            "`class_counts` must be a non-empty list of non-negative numbers. "
            f"Received: class_counts={class_counts!r}"
        )
    if not power >= 0:
        raise ValueError(f"`power` must be >= 0. Received: power={power!r}")
    present = counts > 0
    if not present.any():
        return [1.0] * counts.size
    weights = np.ones_like(counts)
    weights[present] = (counts.max() / counts[present]) ** float(power)
    weights[~present] = weights[present].max()
    weights *= counts.sum() / np.sum(counts * weights)
    return weights.tolist()
