"""Per-class non-maximum suppression with padded, XLA-compilable outputs."""

import keras
from keras import ops

from tfvision.ops.greedy_nms import TILE, greedy_nms, rest_is_irrelevant


@keras.saving.register_keras_serializable(package="tfvision")
class NonMaxSuppression(keras.layers.Layer):
    """Per-class greedy non-maximum suppression, padded to `max_detections`.

    For each image and each class: drop candidates whose score is not above
    `score_threshold`, keep the `pre_nms_top_k` best by score, and run greedy
    NMS (a box is suppressed by a kept, higher-scoring box of the same class
    whose IoU with it is above `iou_threshold`). The survivors of all classes
    are ranked by score and the best `max_detections` returned. This is what
    `tf.image.combined_non_max_suppression` computes (when `pre_nms_top_k`
    covers all candidates), but built from static-shape tensor ops, so it
    compiles under XLA and exports in a SavedModel.

    Greedy NMS runs on the score-sorted top-k candidates of each class a
    tile of 32 at a time (`tfvision.ops.greedy_nms.greedy_nms`): each tile is
    resolved by a small fixed point on its boxes' overlaps with each other and
    with the boxes kept before it, and it stops as soon as no later candidate
    can reach the output. Usually the best 32 candidates per class settle the
    output, and then the full top-k is not even computed.

    Args:
        num_classes: int or `None`, the number of classes `C`; when given,
            the last dimension of `scores` is checked against it. Defaults
            to `None`.
        score_threshold: float, candidates must score above it. Defaults to
            `0.01` (SSD paper, section 3).
        iou_threshold: float in `[0, 1]`, IoU above which a box is
            suppressed. Defaults to `0.45` (SSD paper, section 3).
        pre_nms_top_k: int, candidates per class kept by score before NMS.
            Defaults to `200`.
        max_detections: int `K`, detections per image after merging the
            classes. Defaults to `100`.
        max_detections_per_class: int or `None`, detections kept per class
            after NMS. Defaults to `None` (same as `max_detections`).
        **kwargs: Base layer keyword arguments, such as `name`. The dtype
            defaults to `"float32"`: post-processing stays in float32 under
            mixed precision.

    Inputs:
        boxes: float tensor `[B, N, 4]`, relative `yxyx` boxes, one per
            anchor, shared by the classes.
        scores: float tensor `[B, N, C]`, class probabilities (no background
            column).

    Returns:
        A dict of padded tensors, best first:
        `"boxes"` `[B, K, 4]` (zeros at padding), `"scores"` `[B, K]` (zeros
        at padding), `"classes"` `[B, K]` int32 (`-1` at padding) and
        `"num_detections"` `[B]` int32.

    References:
        - [Liu et al., 2016. SSD: Single Shot MultiBox
          Detector](https://arxiv.org/abs/1512.02325), section 3.

    Example:

    ```python
    import numpy as np
    from tfvision.layers.non_max_suppression import NonMaxSuppression

    boxes = np.array([[[0.1, 0.1, 0.5, 0.5], [0.12, 0.1, 0.5, 0.5]]], "float32")
    scores = np.array([[[0.9, 0.0], [0.8, 0.3]]], "float32")
    out = NonMaxSuppression(max_detections=3)(boxes, scores)
    out["classes"]  # [[0, 1, -1]]: box 1 of class 0 is suppressed by box 0
    ```
    """

    def __init__(
        self,
        num_classes=None,
        score_threshold=0.01,
        iou_threshold=0.45,
        pre_nms_top_k=200,
        max_detections=100,
        max_detections_per_class=None,
        **kwargs,
    ):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if num_classes is not None and num_classes < 1:
            raise ValueError(
                f"`num_classes` must be positive. Received: num_classes={num_classes}"
            )
        if not 0.0 <= iou_threshold <= 1.0:
            raise ValueError(
                "`iou_threshold` must be in [0, 1]. "
                f"Received: iou_threshold={iou_threshold}"
            )
        for name, value in (
            ("pre_nms_top_k", pre_nms_top_k),
            ("max_detections", max_detections),
            ("max_detections_per_class", max_detections_per_class),
        ):
            if value is None and name == "max_detections_per_class":
                continue
            if int(value) != value or value < 1:
                raise ValueError(
                    f"`{name}` must be a positive int. Received: {name}={value}"
                )
        self.num_classes = num_classes
        self.score_threshold = float(score_threshold)
        self.iou_threshold = float(iou_threshold)
        self.pre_nms_top_k = int(pre_nms_top_k)
        self.max_detections = int(max_detections)
        self.max_detections_per_class = max_detections_per_class
        # How the next trace builds the NMS (same detections): "default"; or
        # "branch_free", no `cond` (every candidate tile decided), for tf2onnx,
        # which loses shapes inside branches.
        self.trace_mode = "default"
        self.built = True

    def call(self, boxes, scores):
        boxes = ops.cast(boxes, "float32")
        scores = ops.cast(scores, "float32")
        num_boxes, num_classes = scores.shape[1], scores.shape[2]
        if self.num_classes is not None and num_classes != self.num_classes:
            raise ValueError(
                f"`scores` must have {self.num_classes} classes in its last "
                f"dimension. Received: scores.shape={scores.shape}"
            )
        k = min(self.pre_nms_top_k, num_boxes)
        per_class = self.max_detections_per_class or self.max_detections
        nms_args = (self.iou_threshold, per_class, self.max_detections)
        first = min(TILE, k)
        static = self.trace_mode == "branch_free"
        if first == k or static:
            top_scores, top_boxes, valid = self._candidates(boxes, scores, k)
            keep = greedy_nms(top_boxes, top_scores, valid, *nms_args, skip_tiles=not static)
            return self._merge(keep, top_scores, top_boxes)

        # Usually the best `first` candidates of each class decide the
        # output; the next one's score tells. Then the top-k is skipped.
        top_scores, top_boxes, valid = self._candidates(boxes, scores, first + 1)
        keep = greedy_nms(
            top_boxes[:, :, :first], top_scores[..., :first], valid[..., :first], *nms_args
        )  # [B, C, first]

        def from_first():
            return self._merge(keep, top_scores[..., :first], top_boxes[:, :, :first])

        def from_all():
            top_scores, top_boxes, valid = self._candidates(boxes, scores, k)
            # top_k is stable: the first candidates are the same, and so is `keep`.
            all_keep = greedy_nms(top_boxes, top_scores, valid, *nms_args, keep=keep)
            return self._merge(all_keep, top_scores, top_boxes)

        done = rest_is_irrelevant(keep, top_scores, valid, per_class, self.max_detections)
        return ops.cond(done, from_first, from_all)

    def _candidates(self, boxes, scores, k):
        """The best `k` of each class: scores, boxes and validity, `[B, C, k(, 4)]`."""
        class_scores = ops.transpose(scores, (0, 2, 1))  # [B, C, N]
        top_scores, top_index = ops.top_k(class_scores, k)  # [B, C, k]
        # Gather from the flattened batch: one row gather, no broadcast copy.
        num_boxes = boxes.shape[1]
        batch_offset = ops.arange(ops.shape(boxes)[0], dtype="int32") * num_boxes
        flat_index = top_index + batch_offset[:, None, None]  # [B, C, k]
        top_boxes = ops.take(ops.reshape(boxes, (-1, 4)), flat_index, axis=0)  # [B, C, k, 4]
        return top_scores, top_boxes, top_scores > self.score_threshold

    def _merge(self, keep, top_scores, top_boxes):
        """The best `max_detections` kept boxes of all classes, padded."""
        num_classes, k = keep.shape[1], keep.shape[2]
        per_class = self.max_detections_per_class or self.max_detections
        if per_class < k:
            rank = ops.cumsum(ops.cast(keep, "int32"), axis=-1)
            keep = ops.logical_and(keep, rank <= per_class)

        flat_keep = ops.reshape(keep, (-1, num_classes * k))  # [B, C*k]
        flat_scores = ops.reshape(top_scores, (-1, num_classes * k))
        flat_scores = ops.where(flat_keep, flat_scores, float("-inf"))
        flat_boxes = ops.reshape(top_boxes, (-1, num_classes * k, 4))
        num_out = min(self.max_detections, num_classes * k)
        out_scores, out_index = ops.top_k(flat_scores, num_out)  # [B, K']
        out_boxes = ops.take_along_axis(flat_boxes, out_index[..., None], axis=1)
        out_classes = out_index // k
        is_detection = ops.take_along_axis(flat_keep, out_index, axis=1)

        pad = self.max_detections - num_out
        out_boxes = ops.where(is_detection[..., None], out_boxes, 0.0)
        out_scores = ops.where(is_detection, out_scores, 0.0)
        out_classes = ops.where(is_detection, out_classes, -1)
        if pad:
            out_boxes = ops.pad(out_boxes, ((0, 0), (0, pad), (0, 0)))
            out_scores = ops.pad(out_scores, ((0, 0), (0, pad)))
            out_classes = ops.pad(out_classes, ((0, 0), (0, pad)), constant_values=-1)
        return {
            "boxes": out_boxes,
            "scores": out_scores,
            "classes": ops.cast(out_classes, "int32"),
            "num_detections": ops.sum(ops.cast(is_detection, "int32"), axis=1),
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_classes": self.num_classes,
                "score_threshold": self.score_threshold,
                "iou_threshold": self.iou_threshold,
                "pre_nms_top_k": self.pre_nms_top_k,
                "max_detections": self.max_detections,
                "max_detections_per_class": self.max_detections_per_class,
            }
        )
        return config
