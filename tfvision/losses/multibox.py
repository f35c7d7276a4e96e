"""SSD's multibox loss: localisation over positives plus classification.

Everything is vectorised over the batch and the anchors (no per-image loop,
no boolean-mask indexing), so the loss traces with static shapes and compiles
under XLA. Targets come from `tfvision.ops.match_anchors` and an encoding such
as `tfvision.ops.encode_ssd`.
"""

from keras import ops

from tfvision.losses.focal import sigmoid_focal_loss

LOCALIZATION_LOSSES = ("smooth_l1", "l1")
CLASSIFICATION_LOSSES = ("bce", "focal", "softmax")


def localization_loss(pred_deltas, target_deltas, positive, kind="smooth_l1", delta=1.0):
    """Box regression loss summed over the positive anchors of each image.

    Args:
        pred_deltas: `[B, N, 4]` predicted box codes.
        target_deltas: `[B, N, 4]` encoded matched ground truth.
        positive: `[B, N]` bool or 0/1, anchors matched to an object.
        kind: `"smooth_l1"` (SSD, Huber with `delta`) or `"l1"` (the fast.ai
            lecture). Defaults to `"smooth_l1"`.
        delta: float. Smooth-L1 transition point. Defaults to `1.0`.

    Returns:
        `[B]` float32 sums.
    """
    if kind not in LOCALIZATION_LOSSES:
        raise ValueError(f"`kind` must be one of {LOCALIZATION_LOSSES}. Received: kind={kind!r}")
    diff = ops.abs(ops.cast(pred_deltas, "float32") - ops.cast(target_deltas, "float32"))
    if kind == "smooth_l1":
        diff = ops.where(diff < delta, 0.5 * diff * diff / delta, diff - 0.5 * delta)
    per_anchor = ops.sum(diff, axis=-1)  # [B, N]
    return ops.sum(per_anchor * ops.cast(positive, "float32"), axis=-1)


def classification_loss(
    logits, matched_labels, positive, kind="bce", alpha=0.25, gamma=2.0, negative_ratio=3
):
    """Classification loss of every image, summed over its anchors.

    - `"bce"`: sigmoid binary cross-entropy against one-hot targets with no
      background column; a background anchor's target is all zeros (the
      fast.ai lecture). `logits` is `[B, N, C]`.
    - `"focal"`: the same targets with `sigmoid_focal_loss` (RetinaNet).
    - `"softmax"`: softmax cross-entropy over `C + 1` columns, column 0
      being background, with hard-negative mining (SSD §2.2): all positives
      and, per image, the `negative_ratio` x positives highest-loss
      negatives. `logits` is `[B, N, C + 1]`.

    Args:
        logits: float `[B, N, C]` or `[B, N, C + 1]` (softmax).
        matched_labels: int `[B, N]`, the class of each anchor's ground truth
            in `0..C-1`; ignored where `positive` is false.
        positive: `[B, N]` bool or 0/1.
        kind: `"bce"`, `"focal"` or `"softmax"`. Defaults to `"bce"`.
        alpha: float. Focal alpha. Defaults to `0.25`.
        gamma: float. Focal gamma. Defaults to `2.0`.
        negative_ratio: int. Negatives kept per positive with `"softmax"`.
            Defaults to `3`.

    Returns:
        `[B]` float32 sums.
    """
    if kind not in CLASSIFICATION_LOSSES:
        raise ValueError(
            f"`kind` must be one of {CLASSIFICATION_LOSSES}. Received: kind={kind!r}"
        )
    logits = ops.cast(logits, "float32")
    positive = ops.cast(positive, "float32")  # [B, N]
    labels = ops.where(positive > 0, ops.cast(matched_labels, "int32"), 0)
    if kind == "softmax":
        return _softmax_with_hard_negatives(logits, labels, positive, negative_ratio)
    num_classes = ops.shape(logits)[-1]
    targets = ops.one_hot(labels, num_classes) * positive[..., None]  # [B, N, C]
    if kind == "focal":
        per_element = sigmoid_focal_loss(targets, logits, alpha, gamma)
    else:
        per_element = ops.binary_crossentropy(targets, logits, from_logits=True)
    return ops.sum(per_element, axis=(1, 2))


def _softmax_with_hard_negatives(logits, labels, positive, negative_ratio):
    # Column 0 is background: positives target label + 1, negatives target 0.
    targets = ops.where(positive > 0, labels + 1, 0)  # [B, N]
    per_anchor = ops.sparse_categorical_crossentropy(targets, logits, from_logits=True)
    negative = 1.0 - positive
    # Rank the negatives by loss within each image (positives sort last).
    negative_loss = ops.where(negative > 0, per_anchor, -1.0)
    order = ops.argsort(-negative_loss, axis=-1)
    rank = ops.argsort(order, axis=-1)  # [B, N], 0 = hardest negative
    num_negatives = ops.minimum(
        negative_ratio * ops.sum(positive, axis=-1), ops.sum(negative, axis=-1)
    )  # [B]
    hard_negative = ops.cast(ops.cast(rank, "float32") < num_negatives[:, None], "float32")
    selected = positive + negative * hard_negative
    return ops.sum(per_anchor * selected, axis=-1)


def multibox_loss(
    pred_deltas,
    logits,
    target_deltas,
    matched_labels,
    positive,
    localization="smooth_l1",
    classification="bce",
    total_positives=None,
    **classification_kwargs,
):
    """Localisation plus classification, divided by the number of positives.

    The sum over the batch is divided by the batch's number of positive
    anchors (SSD's `1/N`), or by 1 when there are none, so a batch without
    any object gives a finite loss (classification of background only).

    Under a distribution strategy each replica sees a slice of the global
    batch; pass the positives of the whole global batch as
    `total_positives` (see `tfvision.losses.replica_sum`) and the replicas'
    losses add up to the loss of the global batch on one device.

    Args:
        pred_deltas, logits: the head's outputs, `[B, N, 4]` and
            `[B, N, C]` (`[B, N, C + 1]` with `classification="softmax"`).
        target_deltas, matched_labels, positive: the encoded targets, see
            `localization_loss` and `classification_loss`.
        localization: `"smooth_l1"` or `"l1"`. Defaults to `"smooth_l1"`.
        classification: `"bce"`, `"focal"` or `"softmax"`. Defaults to `"bce"`.
        total_positives: scalar float or `None`, the count to divide by;
            `None` uses this batch's positives. Defaults to `None`.
        **classification_kwargs: `alpha`, `gamma`, `negative_ratio`.

    Returns:
        Dict of scalars: `"loss"`, `"localization"`, `"classification"`,
        `"num_positives"` (of this batch).

    References:
        - [Liu et al., 2016. SSD: Single Shot MultiBox Detector](
          https://arxiv.org/abs/1512.02325), §2.2 "Training objective".
    """
    box = localization_loss(pred_deltas, target_deltas, positive, localization)
    cls = classification_loss(
        logits, matched_labels, positive, classification, **classification_kwargs
    )
    num_positives = ops.sum(ops.cast(positive, "float32"))
    if total_positives is None:
        total_positives = num_positives
    normalizer = ops.maximum(ops.cast(total_positives, "float32"), 1.0)
    box, cls = ops.sum(box) / normalizer, ops.sum(cls) / normalizer
    return {
        "loss": box + cls,
        "localization": box,
        "classification": cls,
        "num_positives": num_positives,
    }
