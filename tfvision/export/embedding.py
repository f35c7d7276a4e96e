"""Exports a MoCo encoder as a TF Serving-ready image-embedding SavedModel."""

import tensorflow as tf

from tfvision.data.transforms import DEFAULT_CROP_FRACTION, resize_short_side_and_center_crop
from tfvision.export.inference import RESIZE_CENTER_CROP, InferenceGraph
from tfvision.export.layout import version_dir
from tfvision.export.registry import register_exporter, register_inference
from tfvision.export.serving_signatures import (
    decode_image_batch,
    frozen_network,
    write_saved_model,
)
from tfvision.export.warmup_requests import shape_image_examples


@register_exporter("MoCo")
def export_embedding(model, root, name, version, warmup=True):
    """Writes `root/name/version/`: images in, the encoder's embeddings out.

    The query encoder (normalisation and backbone) of a `MoCo` model maps
    each image to its pooled features, the representation the kNN monitor and
    the linear probe use. Images are decoded and resized as in evaluation
    (short side, then centre crop) inside the graph.

    Signatures:
    - `serving_default(image_bytes: string [N])`: encoded images
      (`{"b64": ...}` over REST).
    - `predict_images(images: float32 [N, H, W, 3])`: RGB pixels in 0..255.

    Both return `features [N, D]` and `embeddings [N, D]` (the features
    L2-normalised: their dot products are cosine similarities). The
    SavedModel loads with `tf.saved_model.load` in a process without tfvision
    or Keras.

    Args:
        model: a `MoCo` model (`model(images)` gives its query features).
        root: str. The model root (for example `saved_models`).
        name: str. Model name.
        version: int. Version number, >= 1.
        warmup: bool. Write the TF Serving warm-up file. Defaults to `True`.

    Returns:
        The path written.
    """
    path = version_dir(root, name, version)
    size = _input_side(model)

    embed = frozen_network(model, lambda images: _embed(model, images),
                           tf.TensorSpec([None, size, size, 3], tf.float32))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def serve_bytes(image_bytes):
        return embed(decode_image_batch(image_bytes, size))

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name="images")])
    def serve_images(images):
        return embed(resize_short_side_and_center_crop(images, size))

    warmup_examples = shape_image_examples(size) if warmup else None
    return write_saved_model(model, path, serve_bytes, serve_images, name, warmup_examples)


def _input_side(model):
    return int(model.backbone.input_shape[1])


def _embed(model, images):
    features = tf.cast(model(images, training=False), tf.float32)  # [N, D]
    return {"features": features, "embeddings": tf.math.l2_normalize(features, axis=-1)}


@register_inference("MoCo")
def embedding_inference(model):
    """The MoCo encoder on preprocessed pixels: `features [N, D]` and `embeddings [N, D]`
    (L2-normalised). See `InferenceGraph`."""
    size = _input_side(model)

    @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32, name="images")])
    def infer(images):
        return _embed(model, images)

    return InferenceGraph(infer, "embedding", ["images"], ["features", "embeddings"], [size],
                          {"resize": RESIZE_CENTER_CROP, "crop_fraction": DEFAULT_CROP_FRACTION},
                          model=model)
