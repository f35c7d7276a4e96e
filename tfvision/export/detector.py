"""Exports an SSD detector as a TF Serving-ready SavedModel, NMS inside the graph."""

import tensorflow as tf

from tfvision.data.image_decoding import decode_image
from tfvision.export.inference import RESIZE_SQUARE, InferenceGraph, resize_square
from tfvision.export.layout import version_dir
from tfvision.export.litert_postprocess import center_size_anchors, detection_postprocess
from tfvision.export.registry import register_exporter, register_inference
from tfvision.export.serving_signatures import names_to_return, write_saved_model
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

    def detect(images, original_sizes):
        # images [N, S, S, 3]; original_sizes float32 [N, 2] (height, width).
        detections = model.postprocess(model(images, training=False))
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

    `target="onnx"` traces the NMS without `cond` (every candidate tile is
    decided; the same detections): tf2onnx loses tensor shapes inside
    branches and cannot convert their slices. int8 traces it without `cond`
    and without `while` (each tile's fixed point unrolled): LiteRT's
    calibrator crashes on control flow.
    """
    size = int(model.image_size)
    nms = model.non_max_suppression
    if target == "litert" and quantize == "int8":
        infer = _litert_postprocess_graph(model, size)
    else:
        @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32,
                                                    name="images")])
        def infer(images):
            nms.trace_mode = ("loop_free" if quantize == "int8" else
                              "branch_free" if target == "onnx" else "default")
            try:
                detections = model.postprocess(model(images, training=False))
            finally:
                nms.trace_mode = "default"
            return _detection_outputs(detections["boxes"], detections["scores"],
                                      detections["classes"], detections["num_detections"])

    return InferenceGraph(
        infer, "detector", ["images"], ["boxes", "scores", "classes", "num_detections"], [size],
        {"resize": RESIZE_SQUARE, "antialias": True}, class_names=list(model.class_names),
        batch_size=1 if target == "litert" and quantize == "int8" else None,
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


def _litert_postprocess_graph(model, size):
    """The detector for LiteRT int8: the quantized network, then `TFLite_Detection_PostProcess`.

    See `tfvision.export.litert_postprocess`. Boxes are clipped to the image
    and padding follows tfvision's convention (class -1, score 0, box 0).
    """
    coder = getattr(model.box_decoder, "box_coder", None)
    if not isinstance(coder, SSDBoxCoder):
        raise ValueError("LiteRT int8 of a detector needs SSD box coding (the default); this "
                         "model decodes otherwise. Use --quantize dynamic or float16 for LiteRT, "
                         "or --format onnx --quantize int8.")
    nms = model.non_max_suppression
    postprocess = detection_postprocess(nms, len(model.class_names), coder.variances_yxhw)
    anchors = tf.constant(center_size_anchors(model.anchors))

    @tf.function(input_signature=[tf.TensorSpec([1, size, size, 3], tf.float32, name="images")])
    def infer(images):
        raw = model(images, training=False)
        scores = model.class_scores(raw["classes"])
        boxes, classes, scores, count = postprocess(tf.cast(raw["boxes"], tf.float32),
                                                    tf.cast(scores, tf.float32), anchors)
        valid = tf.range(nms.max_detections)[None, :] < tf.cast(count, tf.int32)[:, None]
        return _detection_outputs(
            tf.where(valid[..., None], tf.clip_by_value(boxes, 0.0, 1.0), 0.0),
            tf.where(valid, scores, 0.0),
            tf.where(valid, tf.cast(classes, tf.int32), -1),
            count,
        )

    return infer
