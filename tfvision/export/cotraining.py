"""Exports a co-trained pair as one TF Serving SavedModel: the averaged two-view ensemble."""

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
from tfvision.training.checkpoints import load_checkpoint


@register_exporter("CoTraining")
def export_cotraining(cotraining, root, name, version, top_k=5, class_names=None,
                      crop_fraction=1.0):
    """Writes `root/name/version/`: both models and their average, pre- and post-processing inside.

    Signatures:
    - `serving_default(view0_bytes: string [N], view1_bytes: string [N])`:
      the encoded images of each sample's two views (`{"b64": ...}` over REST).
      Each is decoded to RGB, its short side resized to the model's input side
      and centre-cropped (`crop_fraction`, as in co-training's evaluation).
    - `predict_images(view0: float32 [N, H, W, 3], view1: float32 [N, H, W, 3])`:
      RGB pixels in 0..255, resized and cropped the same way.

    Both return the ensemble's `probabilities [N, C]` (the mean of the two
    models'), `scores [N, K]`, `class_ids [N, K]`, `classes [N, K]` (names),
    and each model's own `view0_probabilities` and `view1_probabilities`.
    The SavedModel loads with `tf.saved_model.load` without tfvision or Keras.
    `assets.extra/tf_serving_warmup_requests` holds `serving_default`
    requests with generated shape images for both views.

    Args:
        cotraining: a `CoTraining` whose models are `ImageClassifier`s.
        root: str. The model root (for example `saved_models`).
        name: str. Model name.
        version: int >= 1.
        top_k: int. Classes returned per sample. Defaults to `5`.
        class_names: list of str. Names to return; defaults to model 0's.
        crop_fraction: float. Centre-crop fraction. Defaults to `1.0`.

    Returns:
        The path written.
    """
    path = version_dir(root, name, version)
    model0, model1 = _models(cotraining)
    names = names_to_return(class_names, model0.class_names)
    sizes = (model0.image_size, model1.image_size)
    k = max(1, min(int(top_k), len(names)))
    name_table = tf.constant(names)

    network = frozen_network(cotraining, lambda view0, view1: cotraining((view0, view1),
                                                                          training=False),
                             *(tf.TensorSpec([None, side, side, 3], tf.float32) for side in sizes))

    def postprocess(view0, view1):
        outputs = network(view0, view1)
        result = top_k_outputs(outputs["ensemble"], name_table, k)
        result["view0_probabilities"] = outputs["view0"]
        result["view1_probabilities"] = outputs["view1"]
        return result

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="view0_bytes"),
                                  tf.TensorSpec([None], tf.string, name="view1_bytes")])
    def serve_bytes(view0_bytes, view1_bytes):
        return postprocess(decode_image_batch(view0_bytes, sizes[0], crop_fraction),
                           decode_image_batch(view1_bytes, sizes[1], crop_fraction))

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name="view0"),
                                  tf.TensorSpec([None, None, None, 3], tf.float32, name="view1")])
    def serve_images(view0, view1):
        return postprocess(resize_short_side_and_center_crop(view0, sizes[0], crop_fraction),
                           resize_short_side_and_center_crop(view1, sizes[1], crop_fraction))

    warmup_examples = [
        {**view0, **view1}
        for view0, view1 in zip(shape_image_examples(sizes[0], "view0_bytes"),
                                shape_image_examples(sizes[1], "view1_bytes"))
    ]
    return write_saved_model(cotraining, path, serve_bytes, serve_images, name, warmup_examples)


def _models(cotraining):
    model0, model1 = cotraining.models
    if list(model0.class_names) != list(model1.class_names):
        raise ValueError(f"The two models have different classes: {model0.class_names} vs "
                         f"{model1.class_names}.")
    return model0, model1


@register_inference("CoTraining")
def cotraining_inference(cotraining, top_k=5, crop_fraction=1.0):
    """The two-view ensemble on preprocessed pixels: inputs `view0`, `view1`; outputs the
    ensemble's `probabilities`, `scores`, `class_ids` and each model's
    `view0_probabilities`, `view1_probabilities`. See `InferenceGraph`."""
    model0, model1 = _models(cotraining)
    sizes = [int(model0.image_size), int(model1.image_size)]
    k = max(1, min(int(top_k), len(model0.class_names)))

    @tf.function(input_signature=[tf.TensorSpec([None, sizes[0], sizes[0], 3], tf.float32,
                                                name="view0"),
                                  tf.TensorSpec([None, sizes[1], sizes[1], 3], tf.float32,
                                                name="view1")])
    def infer(view0, view1):
        outputs = cotraining((view0, view1), training=False)
        result = top_k_numeric(outputs["ensemble"], k)
        result["view0_probabilities"] = tf.cast(outputs["view0"], tf.float32)
        result["view1_probabilities"] = tf.cast(outputs["view1"], tf.float32)
        return result

    return InferenceGraph(
        infer, "cotraining", ["view0", "view1"],
        ["probabilities", "scores", "class_ids", "view0_probabilities", "view1_probabilities"],
        sizes, {"resize": RESIZE_CENTER_CROP, "crop_fraction": float(crop_fraction)},
        class_names=list(model0.class_names), details={"top_k": k},
        model=cotraining,
    )


def export_cotraining_checkpoint(checkpoint, root, name, version, top_k=5):
    """Loads a `cotraining.keras` checkpoint and exports it (see `export_cotraining`)."""
    cotraining, _ = load_checkpoint(checkpoint, compile=False)
    return export_cotraining(cotraining, root, name, version, top_k=top_k)
