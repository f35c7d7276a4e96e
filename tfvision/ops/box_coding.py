"""Box coding: regression targets of boxes relative to their anchors.

Two codings, both on relative `yxyx` boxes and with deltas ordered
`[dy, dx, dh, dw]` (centre offsets, then sizes):

- `encode_ssd` / `decode_ssd`: the SSD / Faster R-CNN coding with variances,
  unbounded, clamped before `exp` on decode like torchvision's `BoxCoder`.
- `encode_bounded` / `decode_bounded`: the fast.ai SSD lecture's `tanh`
  coding, where a box cannot leave the neighbourhood of its anchor.
"""

import math

from keras import ops

# SSD's "variances" (Caffe SSD prior-box variances; torchvision weights 10, 10, 5, 5).
SSD_VARIANCES = (0.1, 0.1, 0.2, 0.2)
# torchvision's `BoxCoder` clamp: no box grows more than 1000/16 times its anchor.
SSD_CLAMP = math.log(1000.0 / 16)
# Keeps `arctanh` finite in `encode_bounded`.
_TANH_LIMIT = 1.0 - 1e-6
# Floor on box sizes in `encode_ssd`, so a zero-size box encodes finitely.
_MIN_SIZE = 1e-8


def _center_size(boxes):
    """`[..., 4]` yxyx → centres `[..., 2]` (cy, cx) and sizes `[..., 2]` (h, w)."""
    boxes = ops.convert_to_tensor(boxes, "float32")
    return (boxes[..., :2] + boxes[..., 2:]) / 2.0, boxes[..., 2:] - boxes[..., :2]


def _corners(center, size):
    """Centres and sizes `[..., 2]` → yxyx `[..., 4]`."""
    return ops.concatenate([center - size / 2.0, center + size / 2.0], axis=-1)


def encode_ssd(boxes, anchors, variances=SSD_VARIANCES):
    """Encodes boxes as SSD offsets from their anchors.

    `dy = (cy - cy_a) / h_a / v0`, `dx = (cx - cx_a) / w_a / v1`,
    `dh = log(h / h_a) / v2`, `dw = log(w / w_a) / v3`. Box sizes are floored
    at 1e-8 so a degenerate box encodes to finite numbers.

    Args:
        boxes: float tensor `[..., N, 4]`, relative `yxyx`.
        anchors: float tensor `[N, 4]` (or broadcastable), relative `yxyx`.
        variances: 4 floats dividing `(dy, dx, dh, dw)`. Defaults to
            `(0.1, 0.1, 0.2, 0.2)` (SSD's prior-box variances).

    Returns:
        float32 tensor `[..., N, 4]`, `[dy, dx, dh, dw]`.

    References:
        Liu et al., "SSD: Single Shot MultiBox Detector", ECCV 2016, §2.2
        (Eq. 2, offsets as in Faster R-CNN); the variances come from the
        authors' Caffe implementation.

    Example:
    >>> encode_ssd([[0.1, 0.1, 0.5, 0.5]], [[0.0, 0.0, 0.4, 0.4]]).numpy().tolist()
    [[2.5, 2.5, 0.0, 0.0]]
    """
    center, size = _center_size(boxes)
    anchor_center, anchor_size = _center_size(anchors)
    variances = ops.convert_to_tensor(variances, "float32")
    offset = (center - anchor_center) / anchor_size / variances[:2]
    log_scale = ops.log(ops.maximum(size, _MIN_SIZE) / anchor_size) / variances[2:]
    return ops.concatenate([offset, log_scale], axis=-1)


def decode_ssd(deltas, anchors, variances=SSD_VARIANCES, clamp=SSD_CLAMP):
    """Decodes SSD offsets back to boxes; the inverse of `encode_ssd`.

    The log size ratios (after multiplying by the variances) are clamped at
    `clamp` before `exp`, as in torchvision's `BoxCoder`, so wild predictions
    early in training give large but finite boxes.

    Args:
        deltas: float tensor `[..., N, 4]`, `[dy, dx, dh, dw]`.
        anchors: float tensor `[N, 4]` (or broadcastable), relative `yxyx`.
        variances: 4 floats, as in `encode_ssd`. Defaults to
            `(0.1, 0.1, 0.2, 0.2)`.
        clamp: float, upper bound on `log(h / h_a)` and `log(w / w_a)`.
            Defaults to `log(1000 / 16)` (torchvision).

    Returns:
        float32 tensor `[..., N, 4]`, relative `yxyx` boxes (not clipped to
        the image).

    References:
        Liu et al., "SSD: Single Shot MultiBox Detector", ECCV 2016, §2.2.

    Example:
    >>> decode_ssd([[2.5, 2.5, 0.0, 0.0]], [[0.0, 0.0, 0.4, 0.4]]).numpy().tolist()
    [[0.1, 0.1, 0.5, 0.5]]
    """
    deltas = ops.convert_to_tensor(deltas, "float32")
    anchor_center, anchor_size = _center_size(anchors)
    variances = ops.convert_to_tensor(variances, "float32")
    center = anchor_center + deltas[..., :2] * variances[:2] * anchor_size
    log_scale = ops.minimum(deltas[..., 2:] * variances[2:], clamp)
    return _corners(center, ops.exp(log_scale) * anchor_size)


def _cell_size(grid_size):
    """Cell size `[..., 2]` (h, w) from a grid size: scalar, `[N]` or `[N, 2]`."""
    grid_size = ops.convert_to_tensor(grid_size, "float32")
    if len(grid_size.shape) < 2 or grid_size.shape[-1] != 2:
        grid_size = ops.stack([grid_size, grid_size], axis=-1)
    return 1.0 / grid_size


def decode_bounded(activations, anchors, grid_size):
    """Decodes `tanh`-bounded activations to boxes near their anchors.

    The fast.ai SSD lecture's `actn_to_bb`: the centre moves by
    `tanh(a) * cell / 2`, at most half a grid cell, where `cell = 1 /
    grid_size` is the size of a cell of the anchor's grid (not the anchor's
    own size); each side is scaled by `2 ** tanh(a)`, a factor in `[0.5, 2]`
    that is symmetric in log space (the lecture uses `tanh(a) / 2 + 1`, in
    `[0.5, 1.5]`).

    Args:
        activations: float tensor `[..., N, 4]`, raw head outputs
            `[ay, ax, ah, aw]`.
        anchors: float tensor `[N, 4]`, relative `yxyx`.
        grid_size: number of cells along each side of each anchor's grid: a
            scalar, `[N]`, or `[N, 2]` as `(rows, columns)`.

    Returns:
        float32 tensor `[..., N, 4]`, relative `yxyx` boxes.

    References:
        fast.ai 2018 part 2, lesson 9 (`actn_to_bb`); Liu et al., "SSD",
        ECCV 2016, for the anchors.

    Example:
    >>> decode_bounded([[0.0, 0.0, 0.0, 0.0]], [[0.0, 0.0, 0.25, 0.25]], 4).numpy().tolist()
    [[0.0, 0.0, 0.25, 0.25]]
    """
    bounded = ops.tanh(ops.convert_to_tensor(activations, "float32"))
    anchor_center, anchor_size = _center_size(anchors)
    center = anchor_center + bounded[..., :2] * _cell_size(grid_size) / 2.0
    size = anchor_size * ops.power(2.0, bounded[..., 2:])
    return _corners(center, size)


def encode_bounded(boxes, anchors, grid_size):
    """Encodes boxes as the activations `decode_bounded` maps back to them.

    The exact inverse of `decode_bounded` through `arctanh`. Boxes outside the
    reachable range (centre more than half a cell away, or a side scaled by
    more than 2 or less than 0.5) are clipped just inside `(-1, 1)` before
    `arctanh`, so they encode to large but finite activations.

    Args:
        boxes: float tensor `[..., N, 4]`, relative `yxyx`.
        anchors: float tensor `[N, 4]`, relative `yxyx`.
        grid_size: as in `decode_bounded`.

    Returns:
        float32 tensor `[..., N, 4]`, activations `[ay, ax, ah, aw]`.

    References:
        fast.ai 2018 part 2, lesson 9 (`actn_to_bb`, inverted).

    Example:
    >>> encode_bounded([[0.0, 0.0, 0.25, 0.25]], [[0.0, 0.0, 0.25, 0.25]], 4).numpy().tolist()
    [[0.0, 0.0, 0.0, 0.0]]
    """
    center, size = _center_size(boxes)
    anchor_center, anchor_size = _center_size(anchors)
    offset = (center - anchor_center) / (_cell_size(grid_size) / 2.0)
    scale = ops.log2(ops.maximum(size, _MIN_SIZE) / anchor_size)
    bounded = ops.concatenate([offset, scale], axis=-1)
    return ops.arctanh(ops.clip(bounded, -_TANH_LIMIT, _TANH_LIMIT))
