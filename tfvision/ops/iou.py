"""Box area and the pairwise Jaccard overlap (IoU) of two sets of boxes."""

from keras import ops


def box_area(boxes):
    """Area of `yxyx` boxes; inverted boxes count as area 0.

    Args:
        boxes: float tensor `[..., 4]`, `[y_min, x_min, y_max, x_max]`.

    Returns:
        float tensor `[...]`.

    Example:
    >>> box_area([[0.0, 0.0, 0.5, 0.2]])  # [0.1]
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
    >>> iou_matrix([[0., 0., 1., 1.]], [[0., 0., 1., 0.5], [2., 2., 3., 3.]])
    ... # [[0.5, 0.0]]
    """
    a = ops.convert_to_tensor(boxes_a, "float32")[..., :, None, :]  # [..., N, 1, 4]
    b = ops.convert_to_tensor(boxes_b, "float32")[..., None, :, :]  # [..., 1, M, 4]
    top_left = ops.maximum(a[..., :2], b[..., :2])  # [..., N, M, 2]
    bottom_right = ops.minimum(a[..., 2:], b[..., 2:])
    hw = ops.maximum(bottom_right - top_left, 0.0)
    intersection = hw[..., 0] * hw[..., 1]  # [..., N, M]
    union = box_area(a) + box_area(b) - intersection
    safe_union = ops.where(union > 0.0, union, 1.0)
    return ops.where(union > 0.0, intersection / safe_union, 0.0)
