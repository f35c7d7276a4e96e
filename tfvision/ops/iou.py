"""Box area and the pairwise Jaccard overlap (IoU) of two sets of boxes."""

from keras import ops

# The smallest normal float32: a floor for the union that only zero unions reach.
_TINY = 1.1754944e-38


def box_area(boxes):
    """Area of `yxyx` boxes; inverted boxes count as area 0.

    Args:
        boxes: float tensor `[..., 4]`, `[y_min, x_min, y_max, x_max]`.

    Returns:
        float tensor `[...]`.

    Example:
    >>> box_area([[0.0, 0.0, 0.5, 0.2]]).numpy().tolist()
    [0.1]
    """
    boxes = ops.convert_to_tensor(boxes, "float32")
    height = ops.maximum(boxes[..., 2] - boxes[..., 0], 0.0)
    width = ops.maximum(boxes[..., 3] - boxes[..., 1], 0.0)
    return height * width


def iou_matrix(boxes_a, boxes_b):
    """Pairwise intersection over union (Jaccard overlap) of two box sets.

    `iou[..., i, j] = |a_i ∩ b_j| / |a_i ∪ b_j|`, and 0 where the union is 0
    (two zero-area boxes). Leading dimensions broadcast, so a shared set of
    anchors `[N, 4]` pairs with a batch of ground truth `[B, M, 4]` once it is
    given a batch axis (`anchors[None]`).

    Args:
        boxes_a: float tensor `[..., N, 4]`, `yxyx`.
        boxes_b: float tensor `[..., M, 4]`, `yxyx`, same coordinate frame.

    Returns:
        float32 tensor `[..., N, M]` in `[0, 1]`.

    References:
        Liu et al., "SSD: Single Shot MultiBox Detector", ECCV 2016, §2.2
        (matching default boxes by Jaccard overlap).

    Example:
    >>> iou_matrix([[0., 0., 1., 1.]], [[0., 0., 1., 0.5], [2., 2., 3., 3.]]).numpy().tolist()
    [[0.5, 0.0]]
    """
    a = ops.convert_to_tensor(boxes_a, "float32")
    b = ops.convert_to_tensor(boxes_b, "float32")
    # One coordinate at a time: [..., N, 1] against [..., 1, M] broadcasts to
    # [..., N, M] without a trailing axis of 2 (half the memory traffic).
    ay1, ax1, ay2, ax2 = (a[..., :, None, i] for i in range(4))  # [..., N, 1]
    by1, bx1, by2, bx2 = (b[..., None, :, i] for i in range(4))  # [..., 1, M]
    height = ops.maximum(ops.minimum(ay2, by2) - ops.maximum(ay1, by1), 0.0)
    width = ops.maximum(ops.minimum(ax2, bx2) - ops.maximum(ax1, bx1), 0.0)
    intersection = height * width  # [..., N, M]
    area_a = ops.maximum(ay2 - ay1, 0.0) * ops.maximum(ax2 - ax1, 0.0)
    area_b = ops.maximum(by2 - by1, 0.0) * ops.maximum(bx2 - bx1, 0.0)
    union = area_a + area_b - intersection
    # A zero union has a zero intersection: 0 / tiny = 0, with no NaN.
    return intersection / ops.maximum(union, _TINY)
