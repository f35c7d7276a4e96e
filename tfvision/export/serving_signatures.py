"""Pieces every tfvision SavedModel export shares: decoding request bytes, top-K classes,
names to return, the network with its weights as constants, and writing the two
signatures with their warm-up file."""

import math

import keras
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from tfvision.data.image_decoding import decode_image
from tfvision.data.transforms import DEFAULT_CROP_FRACTION, resize_short_side_and_center_crop
from tfvision.export.inference import top_k_numeric
from tfvision.export.warmup_requests import write_warmup_requests


def decode_image_batch(image_bytes, size, crop_fraction=DEFAULT_CROP_FRACTION):
    """Decodes encoded images to one batch, each resized and centre-cropped as in evaluation.

    Args:
        image_bytes: string `[N]`, encoded JPEG / PNG / GIF / BMP / WebP images.
        size: int. Output side.
        crop_fraction: float. See `resize_short_side_and_center_crop`.
            Defaults to `224 / 256`.

    Returns:
        float32 `[N, size, size, 3]`, RGB in 0..255.
    """

    def decode(contents):
        image = tf.cast(decode_image(contents), tf.float32)  # upright RGB, EXIF applied
        return resize_short_side_and_center_crop(image, size, crop_fraction)

    return tf.map_fn(decode, image_bytes,
                     fn_output_signature=tf.TensorSpec([size, size, 3], tf.float32))


def top_k_outputs(probabilities, class_names, k):
    """The named outputs of a classification signature.

    Args:
        probabilities: float `[N, C]`.
        class_names: string tensor `[C]`.
        k: int. Classes per image.

    Returns:
        `{"probabilities": [N, C], "scores": [N, k], "class_ids": [N, k],
        "classes": [N, k] strings}`, highest score first.
    """
    outputs = top_k_numeric(probabilities, k)
    return {**outputs, "classes": tf.gather(class_names, outputs["class_ids"])}


def names_to_return(class_names, model_class_names):
    """The class names an export returns: `class_names`, or the model's when `None`."""
    names = list(class_names or model_class_names)
    if len(names) != len(model_class_names):
        raise ValueError(
            f"{len(names)} class names for a model with {len(model_class_names)} classes."
        )
    return names


# A graph protocol buffer holds at most 2 GiB: above this, the weights stay variables.
MAX_FROZEN_WEIGHT_BYTES = 1 << 30


def freezes(model):
    """Whether `model`'s SavedModel holds its weights as graph constants (see `frozen_network`)."""
    weight_bytes = sum(math.prod(w.shape) * tf.as_dtype(w.dtype).size for w in model.weights)
    return weight_bytes <= MAX_FROZEN_WEIGHT_BYTES


def frozen_network(model, function, *input_specs):
    """`function` of `model`, traced on `input_specs`, with the weights as constants.

    Both signatures of a SavedModel call the one frozen function, so the
    weights are stored once, in the graph. As constants, grappler's constant
    folding reaches them and TensorFlow's CPU kernels may prepare them once
    instead of on every call (we measured the gain, not which gives it):
    MobileNetV2 1.0 at 224 px answers about 1.2x sooner than with
    variables (`benchmarks/export_latency.py`). Models whose weights pass
    `MAX_FROZEN_WEIGHT_BYTES` keep their variables and `function` is returned
    as it is.

    Args:
        model: the `keras.Model` whose weights `function` reads.
        function: callable of tensors returning a nest of tensors.
        *input_specs: `tf.TensorSpec` of each argument.

    Returns:
        A callable with `function`'s arguments and outputs.
    """
    if not freezes(model):
        return function
    concrete = tf.function(function).get_concrete_function(*input_specs)
    frozen = convert_variables_to_constants_v2(concrete)

    def call(*inputs):
        return tf.nest.pack_sequence_as(concrete.structured_outputs, frozen(*inputs))

    return call


def write_saved_model(model, path, serve_bytes, serve_images, model_name, warmup_examples=None):
    """Writes `serving_default` and `predict_images` of `model`, then the warm-up file.

    The signatures call `model` through a `frozen_network` of it; a model too
    large to freeze is tracked and its variables saved.

    Args:
        model: the `keras.Model` the signatures call.
        path: str. The version folder, `root/name/version`.
        serve_bytes: `tf.function` with an input signature: `serving_default`.
        serve_images: `tf.function` with an input signature: `predict_images`.
        model_name: str. The name TF Serving serves it under.
        warmup_examples: list of `serving_default` inputs for
            `write_warmup_requests`, or `None` to write no warm-up file.

    Returns:
        `path`.
    """
    if freezes(model):
        tf.saved_model.save(tf.Module(), path, signatures={"serving_default": serve_bytes,
                                                         "predict_images": serve_images})
    else:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint("serving_default", serve_bytes)
        archive.add_endpoint("predict_images", serve_images)
        archive.write_out(path, verbose=False)
    if warmup_examples:
        write_warmup_requests(path, model_name, warmup_examples)
    return path
