"""Matching anchors (default boxes) to padded ground truth, batched."""

from keras import ops

from tfvision.ops.iou import iou_matrix

# `matched_labels` of an anchor that matches no ground truth.
BACKGROUND = -1


def match_anchors(anchors, gt_boxes, gt_labels, iou_threshold=0.5):
    """Assigns each anchor a ground-truth box or background, for a batch.

    Two rules, as in SSD's matching strategy and the fast.ai SSD lecture:

    1. Every anchor takes the ground truth it overlaps most if that IoU is at
       least `iou_threshold`; otherwise it is background.
    2. Every valid ground truth is then forced onto the anchor it overlaps
       most, even below the threshold, overriding that anchor's match from
       rule 1. So each ground truth gets at least one anchor. When several
       ground truths share a best anchor, the one with the largest index
       wins (the lecture's `for i, o in enumerate(prior_idx): gt_idx[o] = i`),
       and a ground truth that overlaps no anchor at all (IoU 0, e.g. zero
       area) cannot be forced anywhere.

    Padded ground truth (label `-1`) never matches, by either rule; an image
    with no valid ground truth is all background. Ties go to the lowest
    index. Everything is dense (`argmax`, gathers, a segment max), so it
    traces under `tf.function` and compiles under XLA.

    Args:
        anchors: float tensor `[N, 4]`, relative `yxyx`.
        gt_boxes: float tensor `[B, M, 4]`, relative `yxyx`, padded.
        gt_labels: int tensor `[B, M]`, `-1` marks padding.
        iou_threshold: float, the IoU from which an anchor is positive.
            Defaults to `0.5` (SSD §2.2).

    Returns:
        dict of tensors:

            - `"matched_gt_index"`: int32 `[B, N]`, index into `M` of the matched
              ground truth (for background anchors: the best valid one, or 0 —
              mask with `"positive"`).
            - `"positive"`: bool `[B, N]`, the anchor matches a ground truth.
            - `"matched_boxes"`: float32 `[B, N, 4]`, the matched box; a
              background anchor gets the anchor itself, so encoding it gives
              finite zero offsets.
            - `"matched_labels"`: int32 `[B, N]`, the matched label or
              `BACKGROUND` (`-1`).
            - `"matched_iou"`: float32 `[B, N]`, IoU of the anchor with its
              matched box (for background: its best valid IoU, 0 if none).

    References:
        Liu et al., "SSD: Single Shot MultiBox Detector", ECCV 2016, §2.2
        ("Matching strategy"); fast.ai 2018 part 2, lesson 9 (`map_to_ground_truth`).

    Example:
    >>> anchors = [[0., 0., .5, .5], [.5, .5, 1., 1.]]
    >>> out = match_anchors(anchors, [[[0., 0., .5, .4], [0., 0., 0., 0.]]],
    ...                     [[3, -1]])
    >>> out["matched_labels"].numpy().tolist()
    [[3, -1]]
    """
    anchors = ops.convert_to_tensor(anchors, "float32")
    gt_boxes = ops.convert_to_tensor(gt_boxes, "float32")
    gt_labels = ops.cast(ops.convert_to_tensor(gt_labels), "int32")
    batch_size = ops.shape(gt_boxes)[0]
    num_anchors = ops.shape(anchors)[0]
    num_gt = ops.shape(gt_boxes)[1]

    valid = gt_labels >= 0  # [B, M]
    iou = iou_matrix(anchors, gt_boxes)  # [N, 4] with [B, M, 4] -> [B, N, M]
    # Padding gets IoU -1 so it is never an anchor's best nor has a best anchor.
    iou = ops.where(valid[:, None, :], iou, -1.0)
    # Only the argmaxes pass over [B, N, M]; every other gather reads the
    # flattened tensors at computed indices (exact, XLA-friendly, and much
    # faster than `take_along_axis` or one-hot sums on TensorFlow).
    flat_iou = ops.reshape(iou, (-1,))  # [B * N * M]
    anchor_row = ops.arange(batch_size * num_anchors, dtype="int32")  # [B * N]
    anchor_row = ops.reshape(anchor_row, (batch_size, num_anchors))  # [B, N]
    gt_row = ops.reshape(ops.arange(batch_size * num_gt, dtype="int32"), (batch_size, num_gt))

    # Rule 1: each anchor's best ground truth.
    best_gt = ops.cast(ops.argmax(iou, axis=-1), "int32")  # [B, N]
    best_gt_iou = ops.take(flat_iou, anchor_row * num_gt + best_gt)  # [B, N]
    positive = best_gt_iou >= iou_threshold

    # Rule 2: each valid ground truth's best anchor.
    best_anchor = ops.cast(ops.argmax(iou, axis=1), "int32")  # [B, M]
    batch_row = gt_row // num_gt  # [B, M], the image of each ground truth
    best_anchor_iou = ops.take(
        flat_iou, ((batch_row * num_anchors + best_anchor) * num_gt) + gt_row % num_gt
    )  # [B, M]
    can_force = ops.logical_and(valid, best_anchor_iou > 0.0)  # [B, M]
    # The largest forcing index wins, encoded as index + 1 (0 = none): a
    # segment max over the anchors of the whole batch.
    gt_rank = ops.where(can_force, gt_row % num_gt + 1, 0)  # [B, M]
    forced_rank = ops.segment_max(
        ops.reshape(gt_rank, (-1,)),
        ops.reshape(batch_row * num_anchors + best_anchor, (-1,)),
        num_segments=batch_size * num_anchors,
    )  # [B * N]; empty segments hold the lowest int32
    forced_gt = ops.reshape(ops.maximum(forced_rank, 0), (batch_size, num_anchors)) - 1
    is_forced = forced_gt >= 0

    matched_gt_index = ops.where(is_forced, forced_gt, best_gt)  # [B, N]
    positive = ops.logical_or(positive, is_forced)

    flat_match = ops.reshape(anchor_row // num_anchors * num_gt + matched_gt_index, (-1,))
    matched_boxes = ops.take(ops.reshape(gt_boxes, (-1, 4)), flat_match, axis=0)  # [B * N, 4]
    matched_boxes = ops.reshape(matched_boxes, (batch_size, num_anchors, 4))
    matched_boxes = ops.where(positive[..., None], matched_boxes, anchors[None])  # [B, N, 4]
    matched_labels = ops.take(ops.reshape(gt_labels, (-1,)), flat_match)
    matched_labels = ops.reshape(matched_labels, (batch_size, num_anchors))
    matched_labels = ops.where(positive, matched_labels, BACKGROUND)  # [B, N]
    matched_iou = ops.take(flat_iou, anchor_row * num_gt + matched_gt_index)  # [B, N]
    matched_iou = ops.maximum(matched_iou, 0.0)
    return {
        "matched_gt_index": matched_gt_index,
        "positive": positive,
        "matched_boxes": matched_boxes,
        "matched_labels": matched_labels,
        "matched_iou": matched_iou,
    }
