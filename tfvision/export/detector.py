"""Exports an SSD detector as a TF Serving-ready SavedModel, NMS inside the graph."""

import numpy as np
import tensorflow as tf

from tfvision.data.image_decoding import decode_image
from tfvision.export.inference import RESIZE_SQUARE, InferenceGraph, resize_square
from tfvision.export.layout import version_dir
from tfvision.export.litert_postprocess import center_size_anchors, detection_postprocess
from tfvision.export.registry import register_exporter, register_inference
from tfvision.export.serving_signatures import (
    frozen_network,
    names_to_return,
    write_saved_model,
)
from tfvision.export.warmup_requests import shape_image_examples
from tfvision.layers.box_coder import SSDBoxCoder


@register_exporter("SSDDetector")
def export_detector(model, root, name, version, class_names=None, warmup=True):
    """Writes `root/name/version/` with decoding, box decoding and NMS in the graph.

    Signatures:
    - `serving_default(image_bytes: string [N])`: encoded JPEG / PNG / GIF /
      BMP / WebP images (`{"b64": ...}` over REST). Each is decoded to RGB and
      resized to the model's square input, as in evaluation.
    - `predict_images(images: float32 [N, H, W, 3])`: RGB pixels in 0..255 of
      one size, resized the same way.

    Both return, with `K` the model's maximum number of detections and
    padding past `num_detections` (class `-1`, score 0, box 0):
    - `boxes [N, K, 4]`: relative `yxyx` (0..1);
    - `boxes_xyxy [N, K, 4]`: pixel `xyxy` in the original image;
    - `scores [N, K]`, `classes [N, K]` (int32 class ids),
      `class_names [N, K]` (strings, `""` at padding), `num_detections [N]`.

    The SavedModel loads with `tf.saved_model.load` in a process without
    tfvision or Keras. `assets.extra/tf_serving_warmup_requests` holds
    `serving_default` requests with generated shape images.

    Args:
        model: an `SSDDetector`.
        root: str. The model root (for example `saved_models`).
        name: str. Model name.
        version: int. Version number, >= 1.
        class_names: list of str. Names to return; defaults to the model's.
        warmup: bool. Write the TF Serving warm-up file. Defaults to `True`.

    Returns:
        The path written.
    """
    path = version_dir(root, name, version)
    names = names_to_return(class_names, model.class_names)
    size = int(model.image_size)
    # Index -1 (padding) gathers the trailing "".
    name_table = tf.constant(names + [""])

    network = frozen_network(model, lambda images: model.postprocess(model(images, training=False)),
                             tf.TensorSpec([None, size, size, 3], tf.float32))

    def detect(images, original_sizes):
        # images [N, S, S, 3]; original_sizes float32 [N, 2] (height, width).
        detections = network(images)
        boxes = tf.cast(detections["boxes"], tf.float32)  # [N, K, 4] relative yxyx
        classes = tf.cast(detections["classes"], tf.int32)
        height, width = original_sizes[:, 0, None], original_sizes[:, 1, None]  # [N, 1]
        y1, x1, y2, x2 = tf.unstack(boxes, axis=-1)
        pixels = tf.stack([x1 * width, y1 * height, x2 * width, y2 * height], axis=-1)
        return {
            "boxes": boxes,
            "boxes_xyxy": pixels,
            "scores": tf.cast(detections["scores"], tf.float32),
            "classes": classes,
            "class_names": tf.gather(name_table, tf.where(classes >= 0, classes, len(names))),
            "num_detections": tf.cast(detections["num_detections"], tf.int32),
        }

    def decode(image_bytes):
        image = decode_image(image_bytes)
        original_size = tf.cast(tf.shape(image)[:2], tf.float32)
        return resize_square(image, size), original_size

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def serve_bytes(image_bytes):
        images, original_sizes = tf.map_fn(
            decode,
            image_bytes,
            fn_output_signature=(
                tf.TensorSpec([size, size, 3], tf.float32),
                tf.TensorSpec([2], tf.float32),
            ),
        )
        return detect(images, original_sizes)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name="images")])
    def serve_images(images):
        shape = tf.shape(images)
        original_sizes = tf.tile(tf.cast(shape[1:3], tf.float32)[None], [shape[0], 1])
        return detect(resize_square(images, size), original_sizes)

    warmup_examples = shape_image_examples(size) if warmup else None
    return write_saved_model(model, path, serve_bytes, serve_images, name, warmup_examples)



@register_inference("SSDDetector")
def detector_inference(model, target="litert", quantize="none"):
    """The detector on preprocessed pixels, box decoding and NMS inside.

    Outputs, `K` the model's maximum detections, padded past
    `num_detections` (class -1, score 0, box 0): `boxes [N, K, 4]` relative
    `ymin, xmin, ymax, xmax` (0..1 of the original image: the input is the
    whole image resized to the square), `scores [N, K]`, `classes [N, K]`
    (int32), `num_detections [N]` (int32). See `InferenceGraph`.

    `target="litert"`: one image per call, the NMS as LiteRT's
    `TFLite_Detection_PostProcess` operator (see `_litert_graph`).
    `target="onnx"`: the NMS as ONNX's `NonMaxSuppression` operator (see
    `_onnx_graph`). Both give Keras' detections in float32.
    """
    size = int(model.image_size)
    nms = model.non_max_suppression
    if target == "litert":
        infer = _litert_graph(model, size, codes=quantize == "int8")
    else:
        infer = _onnx_graph(model, size)

    return InferenceGraph(
        infer, "detector", ["images"], ["boxes", "scores", "classes", "num_detections"], [size],
        {"resize": RESIZE_SQUARE, "antialias": True}, class_names=list(model.class_names),
        batch_size=1 if target == "litert" else None,
        details={"max_detections": int(nms.max_detections),
                 "score_threshold": float(nms.score_threshold),
                 "nms_iou_threshold": float(nms.iou_threshold),
                 "box_format": "relative yxyx"},
        model=model,
    )


def _detection_outputs(boxes, scores, classes, num_detections):
    return {
        "boxes": tf.cast(boxes, tf.float32),
        "scores": tf.cast(scores, tf.float32),
        "classes": tf.cast(classes, tf.int32),
        "num_detections": tf.cast(num_detections, tf.int32),
    }


def _litert_graph(model, size, codes=False):
    """The detector for LiteRT, ending in `TFLite_Detection_PostProcess`, one image per call.

    See `tfvision.export.litert_postprocess`. With `codes=False` the operator
    gets tfvision's decoded, clipped boxes and the per-class top-k scores, and
    gives Keras' detections; with `codes=True` (int8) it gets the SSD box codes
    and decodes them itself. Boxes are clipped to the image and padding
    follows tfvision's convention (class -1, score 0, box 0).
    """
    nms = model.non_max_suppression
    anchors = np.asarray(model.anchors, np.float32)
    decoded = _decoded_candidates(model)
    if codes:
        coder = getattr(model.box_decoder, "box_coder", None)
        if not isinstance(coder, SSDBoxCoder):
            raise ValueError("LiteRT int8 of a detector needs SSD box coding (the default); this "
                             "model decodes otherwise. Use --quantize dynamic or float16 for "
                             "LiteRT, or --format onnx --quantize int8.")
        postprocess = detection_postprocess(nms, len(model.class_names),
                                            [1.0 / v for v in coder.variances_yxhw])
        operator_anchors = tf.constant(center_size_anchors(anchors))
    else:
        postprocess = detection_postprocess(nms, len(model.class_names))
        operator_anchors = tf.constant(np.tile([[0.0, 0.0, 1.0, 1.0]], (len(anchors), 1)),
                                       tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([1, size, size, 3], tf.float32, name="images")])
    def infer(images):
        raw = model(images, training=False)
        if codes:
            inputs = tf.cast(raw["boxes"], tf.float32)
            scores = tf.cast(model.class_scores(raw["classes"]), tf.float32)
        else:
            boxes, scores = decoded(raw)
            inputs = tf.concat([(boxes[..., :2] + boxes[..., 2:]) / 2.0,
                                tf.math.log(boxes[..., 2:] - boxes[..., :2])], axis=-1)
        boxes, classes, scores, count = postprocess(inputs, scores, operator_anchors)
        return _padded(nms, tf.clip_by_value(boxes, 0.0, 1.0), scores, classes, count)

    return infer


def _onnx_graph(model, size):
    """The detector for ONNX, ending in ONNX's `NonMaxSuppression` operator.

    tf2onnx converts `tf.image.combined_non_max_suppression` over boxes shared
    by the classes into `NonMaxSuppression` and a top-k over its survivors. It
    is given tfvision's decoded, clipped boxes and the per-class top-k scores,
    so its detections are Keras'. No control flow is left, so ONNX Runtime's
    int8 calibration runs the graph as it is.
    """
    nms = model.non_max_suppression
    decoded = _decoded_candidates(model)
    per_class = nms.max_detections_per_class or nms.max_detections

    @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32,
                                                name="images")])
    def infer(images):
        boxes, scores = decoded(model(images, training=False))
        found = tf.image.combined_non_max_suppression(
            boxes[:, :, None, :], scores, per_class, nms.max_detections,
            iou_threshold=nms.iou_threshold, score_threshold=nms.score_threshold,
            clip_boxes=False)
        return _padded(nms, found.nmsed_boxes, found.nmsed_scores, found.nmsed_classes,
                       found.valid_detections)

    return infer


def _decoded_candidates(model):
    """`raw outputs -> (boxes [N, A, 4], scores [N, A, C])`, what tfvision's NMS sees.

    The boxes are decoded and clipped as in `model.postprocess`; each class's
    scores outside its best `pre_nms_top_k` are set to 0, below any score
    threshold, since an NMS operator would otherwise consider them.
    """
    nms = model.non_max_suppression
    anchors = np.asarray(model.anchors, np.float32)
    grid = np.asarray(model.anchor_grid_sizes)
    k = min(nms.pre_nms_top_k, len(anchors))

    def decoded(raw):  # constants made inside the trace: converters take no captured tensor
        boxes = model.box_decoder(raw["boxes"], tf.constant(anchors), tf.constant(grid))
        boxes = tf.cast(boxes, tf.float32)
        scores = tf.cast(model.class_scores(raw["classes"]), tf.float32)
        kth = tf.math.top_k(tf.transpose(scores, [0, 2, 1]), k).values[..., -1]
        return boxes, tf.where(scores >= kth[:, None, :], scores, 0.0)

    return decoded


def _padded(nms, boxes, scores, classes, count):
    """Detections padded past `count` as tfvision pads them (class -1, score 0, box 0)."""
    count = tf.cast(count, tf.int32)
    valid = tf.range(nms.max_detections)[None, :] < count[:, None]
    return _detection_outputs(
        tf.where(valid[..., None], boxes, 0.0),
        tf.where(valid, scores, 0.0),
        tf.where(valid, tf.cast(classes, tf.int32), -1),
        count,
    )
