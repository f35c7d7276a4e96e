"""Box clean-up after the transforms: clip, drop and compact, pad or truncate to `M`.

Same conventions as `tfvision.data.detection.transforms`: boxes `[M, 4]`
relative `yxyx`, labels `[M]` with `-1` at padding.
"""

import tensorflow as tf

DEFAULT_MIN_BOX_AREA = 1e-4  # of the image area
DEFAULT_MIN_VISIBLE_FRACTION = 0.25  # of a box's area left inside the image


def sanitize_boxes(
    boxes,
    labels,
    min_area=DEFAULT_MIN_BOX_AREA,
    min_visible_fraction=DEFAULT_MIN_VISIBLE_FRACTION,
):
    """Clips boxes to [0, 1], drops bad ones and compacts the valid ones to the front.

    A box is dropped (label -> -1, box -> 0) when it has a NaN or infinite
    coordinate, is inverted or of zero area, keeps less than
    `min_visible_fraction` of its area after clipping (it left the image), or
    its clipped area is below `min_area`. Valid boxes keep their order.

    Args:
        boxes: float `[..., M, 4]` relative `yxyx`.
        labels: int `[..., M]`, `-1` at padding.
        min_area: float, smallest clipped area, relative to the image. Defaults
            to `1e-4`.
        min_visible_fraction: float, smallest clipped / original area. Defaults
            to `0.25`.

    Returns:
        `(boxes float32 [..., M, 4], labels int32 [..., M], num_dropped int32 [...])`;
        `num_dropped` counts non-padding boxes dropped.

    Example:
    >>> boxes, labels, dropped = sanitize_boxes(
    ...     [[0.5, 0.5, 0.2, 0.9], [0.1, 0.1, 0.4, 0.4]], [3, 1])
    >>> labels.numpy().tolist(), int(dropped)
    ([1, -1], 1)
    """
    boxes = tf.cast(boxes, tf.float32)
    labels = tf.cast(labels, tf.int32)
    y1, x1, y2, x2 = tf.unstack(boxes, axis=-1)
    area = (y2 - y1) * (x2 - x1)
    finite = tf.reduce_all(tf.math.is_finite(boxes), axis=-1)
    safe = tf.where(finite[..., None], boxes, tf.zeros_like(boxes))
    clipped = tf.clip_by_value(safe, 0.0, 1.0)
    cy1, cx1, cy2, cx2 = tf.unstack(clipped, axis=-1)
    clipped_area = (cy2 - cy1) * (cx2 - cx1)
    valid = (
        (labels >= 0)
        & finite
        & (y2 > y1)
        & (x2 > x1)
        & (clipped_area > 0.0)
        & (clipped_area >= min_area)
        & (clipped_area >= min_visible_fraction * area)
    )
    num_dropped = tf.reduce_sum(tf.cast((labels >= 0) & ~valid, tf.int32), axis=-1)
    # A stable sort on "invalid" moves valid boxes to the front in their order.
    order = tf.argsort(tf.cast(~valid, tf.int32), axis=-1, stable=True)  # [..., M]
    batch_dims = labels.shape.rank - 1
    valid = tf.gather(valid, order, batch_dims=batch_dims)
    clipped = tf.gather(clipped, order, batch_dims=batch_dims)
    labels = tf.gather(labels, order, batch_dims=batch_dims)
    boxes = tf.where(valid[..., None], clipped, tf.zeros_like(clipped))
    labels = tf.where(valid, labels, -tf.ones_like(labels))
    return boxes, labels, num_dropped


def pad_or_truncate_boxes(boxes, labels, max_boxes):
    """Pads (label -1, box 0) or truncates one example's boxes to exactly `max_boxes`.

    Args:
        boxes: float32 `[M, 4]`, valid boxes first (see `sanitize_boxes`).
        labels: int32 `[M]`.
        max_boxes: int.

    Returns:
        `(boxes float32 [max_boxes, 4], labels int32 [max_boxes])`, static shapes.
    """
    boxes = tf.cast(boxes, tf.float32)[:max_boxes]
    labels = tf.cast(labels, tf.int32)[:max_boxes]
    missing = max_boxes - tf.shape(labels)[0]
    boxes = tf.pad(boxes, [[0, missing], [0, 0]])
    labels = tf.pad(labels, [[0, missing]], constant_values=-1)
    return tf.ensure_shape(boxes, (max_boxes, 4)), tf.ensure_shape(labels, (max_boxes,))
