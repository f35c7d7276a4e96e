"""Exports an ImageClassifier as a TF Serving-ready SavedModel."""

import tensorflow as tf

from tfvision.data.transforms import resize_short_side_and_center_crop
from tfvision.export.inference import RESIZE_CENTER_CROP, InferenceGraph, top_k_numeric
from tfvision.export.layout import version_dir
from tfvision.export.registry import register_exporter, register_inference
from tfvision.export.serving_signatures import (
    decode_image_batch,
    frozen_network,
    names_to_return,
    top_k_outputs,
    write_saved_model,
)
from tfvision.export.warmup_requests import shape_image_examples


@register_exporter("ImageClassifier")
def export_classifier(model, root, name, version, top_k=5, class_names=None, warmup=True):
    """Writes `root/name/version/` with pre- and post-processing in the graph.

    Signatures:
    - `serving_default(image_bytes: string [N])`: encoded JPEG / PNG / GIF /
      BMP / WebP images (`{"b64": ...}` over REST; the `_bytes` suffix tells TF
      Serving to decode base64). Each image is decoded to upright RGB (EXIF
      orientation applied), its short side resized to
      `image_size / model.crop_fraction` and centre-cropped, as in evaluation.
    - `predict_images(images: float32 [N, H, W, 3])`: RGB pixels in 0..255,
      resized and centre-cropped the same way.

    Both return `probabilities [N, C]`, `scores [N, K]`, `class_ids [N, K]`
    and `classes [N, K]` (names, strings), highest score first. The SavedModel
    loads with `tf.saved_model.load` in a process without tfvision or Keras.
    `assets.extra/tf_serving_warmup_requests` holds `serving_default`
    requests with generated shape images (see `write_warmup_requests`).

    Args:
        model: an `ImageClassifier`.
        root: str. The model root (for example `saved_models`).
        name: str. Model name.
        version: int. Version number, >= 1.
        top_k: int. Classes returned per image. Defaults to `5`.
        class_names: list of str. Names to return; defaults to the model's.
        warmup: bool. Write the TF Serving warm-up file. Defaults to `True`.

    Returns:
        The path written.
    """
    path = version_dir(root, name, version)
    names = names_to_return(class_names, model.class_names)
    size = model.image_size
    crop_fraction = model.crop_fraction
    k = max(1, min(int(top_k), len(names)))
    name_table = tf.constant(names)

    network = frozen_network(model, lambda images: model(images, training=False),
                             tf.TensorSpec([None, size, size, 3], tf.float32))

    def postprocess(images):
        return top_k_outputs(network(images), name_table, k)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def serve_bytes(image_bytes):
        return postprocess(decode_image_batch(image_bytes, size, crop_fraction))

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name="images")])
    def serve_images(images):
        # One batch shares one size: a single batched resize and crop.
        return postprocess(resize_short_side_and_center_crop(images, size, crop_fraction))

    warmup_examples = shape_image_examples(size) if warmup else None
    return write_saved_model(model, path, serve_bytes, serve_images, name, warmup_examples)



@register_inference("ImageClassifier")
def classifier_inference(model, top_k=5):
    """The classifier on preprocessed pixels: `probabilities [N, C]`, `scores [N, K]`,
    `class_ids [N, K]` (int32), highest score first. See `InferenceGraph`."""
    size = int(model.image_size)
    k = max(1, min(int(top_k), len(model.class_names)))

    @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32, name="images")])
    def infer(images):
        return top_k_numeric(model(images, training=False), k)

    return InferenceGraph(
        infer, "classifier", ["images"], ["probabilities", "scores", "class_ids"], [size],
        {"resize": RESIZE_CENTER_CROP, "crop_fraction": float(model.crop_fraction)},
        class_names=list(model.class_names), details={"top_k": k},
        model=model,
    )
