"""Exact greedy non-maximum suppression on padded, score-sorted candidates.

Static shapes only (XLA-compilable, SavedModel-traceable): the candidates
are decided a tile at a time, each tile by a small fixed point, and the
tiles that cannot reach the output are skipped.
"""

from keras import ops


TILE = 32  # candidates decided together; see `greedy_nms`


def _suppression(corners, area, rows, columns, iou_threshold):
    """Which candidates of `rows` overlap which candidates of `columns`.

    Args:
        corners: `(ymin, xmin, ymax, xmax)`, each `[..., k]`.
        area: `[..., k]` box areas.
        rows, columns: slices of the `k` candidates.
        iou_threshold: float.

    Returns:
        `[..., len(rows), len(columns)]` float32, 1 where IoU > threshold.
        A box of zero area has IoU 0 (or NaN, 0 / 0) with everything, which
        never exceeds the threshold, as in `tf.image.non_max_suppression`.
    """

    def extent(low, high):  # [..., n, m] overlap along one axis
        overlap = ops.minimum(high[..., rows, None], high[..., None, columns])
        overlap = overlap - ops.maximum(low[..., rows, None], low[..., None, columns])
        return ops.maximum(overlap, 0.0)

    ymin, xmin, ymax, xmax = corners
    inter = extent(ymin, ymax) * extent(xmin, xmax)  # [..., n, m]
    union = area[..., rows, None] + area[..., None, columns] - inter
    return ops.cast(inter / union > iou_threshold, "float32")


def _resolve_tile(corners, area, valid, keep_before, start, end, iou_threshold):
    """Greedy NMS decisions for the candidates `start:end`.

    Args:
        corners, area: as in `_suppression`, for all `k` candidates.
        valid: `[..., k]` bool, candidates above the score threshold.
        keep_before: `[..., start]` bool, the decisions on earlier
            candidates, or `None` when `start` is 0.
        start, end: int, the tile.
        iou_threshold: float.

    Returns:
        `[..., end - start]` bool, the tile's boxes greedy NMS keeps.
    """
    n = end - start
    # Overlaps of all candidates up to the tile's end with the tile's.
    overlap = _suppression(corners, area, slice(0, end), slice(start, end), iou_threshold)
    alive = valid[..., start:end]  # [..., n]
    if keep_before is not None:  # suppressed by a kept box of an earlier tile
        hits = ops.matmul(ops.cast(keep_before, "float32")[..., None, :], overlap[..., :start, :])
        alive = ops.logical_and(alive, hits[..., 0, :] == 0.0)
    inner = overlap[..., start:, :] * ops.triu(ops.ones((n, n), "float32"), 1)  # i < j

    def step(keep):
        hits = ops.matmul(ops.cast(keep, "float32")[..., None, :], inner)  # [..., 1, n]
        return ops.logical_and(alive, hits[..., 0, :] == 0.0)

    def cond(keep, previous, i):
        return ops.logical_and(ops.any(ops.not_equal(keep, previous)), i < n)

    def body(keep, previous, i):
        return step(keep), keep, i + 1

    keep, _, _ = ops.while_loop(cond, body, (step(alive), alive, ops.convert_to_tensor(1)))
    return keep


def rest_is_irrelevant(keep, scores, valid, per_class, max_detections):
    """Whether no candidate after the first `m` can reach the output, `[]` bool.

    A later candidate of an image can only be output if it is valid, its
    class has kept fewer than `per_class` boxes, and fewer than
    `max_detections` kept boxes (within their class's limit) score strictly
    above it. Candidates come in descending score order, so the next one of
    each class bounds all later ones.

    Args:
        keep: `[B, C, m]` bool, the decisions on the first `m` candidates.
        scores: `[B, C, k]` descending candidate scores, `k > m`.
        valid: `[B, C, k]` bool, candidates above the score threshold.
        per_class, max_detections: int, the output limits.
    """
    m = keep.shape[-1]
    kept = ops.sum(ops.cast(keep, "int32"), axis=-1)  # [B, C]
    open_class = ops.logical_and(valid[..., m], kept < per_class)
    best_rest = ops.max(ops.where(open_class, scores[..., m], float("-inf")), axis=-1)  # [B]
    above = ops.logical_and(keep, scores[..., :m] > best_rest[:, None, None])
    above = ops.minimum(ops.sum(ops.cast(above, "int32"), axis=-1), per_class)  # [B, C]
    done = ops.logical_or(
        ops.sum(above, axis=-1) >= max_detections, best_rest == float("-inf")
    )
    return ops.all(done)


def greedy_nms(
    boxes, scores, valid, iou_threshold, per_class, max_detections, keep=None, tile=TILE,
    skip_tiles=True,
):
    """Exact greedy NMS over score-sorted candidates, a tile at a time.

    The candidates are decided in tiles of `tile`, best first. A tile's
    valid candidates that no kept box of an earlier tile overlaps (one
    matrix-vector product) are resolved by a fixed point on the tile's own
    overlaps: `keep[j] = alive[j] and not any(keep[i] and overlap[i, j] for
    i < j in the tile)`; iteration `n` fixes the first `n` candidates, so it
    ends after at most `tile` steps, in practice a few. Only overlaps with
    earlier candidates are computed (half the `k x k` IoU matrix, a
    `tile`-wide block at a time), and the remaining tiles are skipped as
    soon as none of their candidates can reach the output
    (`rest_is_irrelevant`), so usually only the first tiles are computed.

    Args:
        boxes: `[B, C, k, 4]` boxes sorted by descending score.
        scores: `[B, C, k]` their scores, descending.
        valid: `[B, C, k]` bool, candidates above the score threshold.
        iou_threshold: float, IoU above which a later box is suppressed.
        per_class: int, detections kept per class.
        max_detections: int, detections kept per image.
        keep: `[B, C, m]` bool, the decisions on the first `m` candidates
            (a multiple of `tile`), already made. Defaults to `None`.
        tile: int, candidates per tile. Defaults to `32`.
        skip_tiles: bool. Skip the tiles that cannot reach the output (a `cond`
            per tile). `False` decides every tile, with no branch in the
            graph, for converters that cannot follow shapes into branches
            (tf2onnx). The output is the same. Defaults to `True`.

    Returns:
        `[B, C, k]` bool, the boxes greedy NMS keeps, except that candidates
        of skipped tiles (which cannot be output) are `False`.

    References:
        - The tiling follows `tf.image.non_max_suppression_padded`.
    """
    k = boxes.shape[-2]
    y1, x1, y2, x2 = ops.unstack(boxes, 4, axis=-1)  # each [B, C, k]
    ymin, ymax = ops.minimum(y1, y2), ops.maximum(y1, y2)
    xmin, xmax = ops.minimum(x1, x2), ops.maximum(x1, x2)
    corners, area = (ymin, xmin, ymax, xmax), (ymax - ymin) * (xmax - xmin)

    def decide(keep, start):
        """`keep` `[B, C, start]` and the decisions from `start` on, `[B, C, k]`."""
        if start >= k:
            return keep
        end = min(start + tile, k)

        def resolve():
            tile_keep = _resolve_tile(corners, area, valid, keep, start, end, iou_threshold)
            return decide(tile_keep if keep is None else ops.concatenate([keep, tile_keep], -1), end)

        if keep is None or not skip_tiles:
            return resolve()

        def skip():  # once the rest is irrelevant it stays so: no more checks
            return ops.concatenate([keep, ops.zeros_like(valid[..., start:])], axis=-1)

        done = rest_is_irrelevant(keep, scores, valid, per_class, max_detections)
        return ops.cond(done, skip, resolve)

    return decide(keep, 0 if keep is None else keep.shape[-1])
