"""Training targets of a detector: match anchors, then encode the matches."""

from keras import ops

from tfvision.ops.box_coding import encode_ssd
from tfvision.ops.matching import match_anchors


def assign_targets(anchors, gt_boxes, gt_labels, iou_threshold=0.5, encode=encode_ssd):
    """Dense regression and class targets for every anchor of every image.

    Args:
        anchors: `[N, 4]` relative yxyx.
        gt_boxes: `[B, M, 4]` relative yxyx, padded.
        gt_labels: `[B, M]` int, `-1` at padding.
        iou_threshold: float. See `match_anchors`. Defaults to `0.5`.
        encode: `(boxes [B, N, 4], anchors [N, 4]) -> deltas [B, N, 4]`.
            Defaults to `encode_ssd`; pass for example
            `lambda b, a: encode_bounded(b, a, grid_size)` for the lecture's
            coding.

    Returns:
        Dict with `"deltas"` `[B, N, 4]` (zero on background anchors),
        `"labels"` int32 `[B, N]` (`BACKGROUND` = -1 on background anchors)
        and `"positive"` bool `[B, N]`: the arguments `multibox_loss` takes.

    Example:

    >>> anchors = ops.convert_to_tensor([[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]])
    >>> targets = assign_targets(anchors, [[[0.0, 0.0, 0.4, 0.5]]], [[3]])
    >>> targets["labels"].numpy().tolist()
    [[3, -1]]
    """
    match = match_anchors(anchors, gt_boxes, gt_labels, iou_threshold)
    positive = match["positive"]
    deltas = encode(match["matched_boxes"], anchors)
    deltas = ops.where(positive[..., None], deltas, ops.zeros_like(deltas))
    return {"deltas": deltas, "labels": match["matched_labels"], "positive": positive}
