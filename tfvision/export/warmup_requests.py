"""TF Serving warm-up records: `assets.extra/tf_serving_warmup_requests`."""

import os

import numpy as np
import tensorflow as tf

from tfvision.data.synthetic.scenes import generate_shapes
from tfvision.export.signature_defs import read_signature_defs, tensor_specs

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
# TF Serving reads at most this many warm-up records per model version.
MAX_WARMUP_RECORDS = 1000


def _signature_inputs(saved_model_dir, signature_name):
    """`{input name: TensorSpec}` of one signature, read from `saved_model.pb`."""
    signatures = read_signature_defs(saved_model_dir)
    if signature_name not in signatures:
        raise ValueError(
            f"{saved_model_dir} has no signature {signature_name!r}; it has "
            f"{sorted(signatures)}. Received: signature_name={signature_name!r}"
        )
    return tensor_specs(signatures[signature_name].inputs)


def _check_example(example, specs, index):
    if sorted(example) != sorted(specs):
        raise ValueError(
            f"Warm-up example {index} gives inputs {sorted(example)}; the signature takes "
            f"{sorted(specs)}."
        )
    arrays = {}
    for key, spec in specs.items():
        value = example[key]
        value = tf.convert_to_tensor(
            np.asarray(value, dtype=object).tolist() if spec.dtype == tf.string else value,
            spec.dtype,
        )
        if not spec.shape.is_compatible_with(value.shape):
            raise ValueError(
                f"Warm-up example {index}: input {key!r} has shape {value.shape}; the signature "
                f"takes {spec.shape}."
            )
        arrays[key] = value
    return arrays


def write_warmup_requests(saved_model_dir, model_name, examples, signature_name="serving_default"):
    """Writes TF Serving warm-up requests next to a SavedModel.

    TF Serving replays `assets.extra/tf_serving_warmup_requests` (a TFRecord
    of `PredictionLog` protos) when it loads a version, so the first real
    request does not pay for graph initialisation. Each example becomes one
    `PredictLog` record whose `PredictRequest` names the model and signature.
    Inputs are checked against the signature (names, dtypes, shapes) before
    anything is written.

    Args:
        saved_model_dir: str. A SavedModel version folder (`root/name/version`).
        model_name: str. The name TF Serving serves it under.
        examples: a dict `{input name: array-like batch}` or a list of them,
            one record each (at most 1000, TF Serving's limit).
        signature_name: str. The signature the requests call. Defaults to
            `"serving_default"`.

    Returns:
        The path of the file written.

    References:
        TF Serving, "SavedModel Warmup":
        https://www.tensorflow.org/tfx/serving/saved_model_warmup

    Example:
    >>> png_bytes = tf.io.encode_png(tf.zeros([32, 32, 3], tf.uint8)).numpy()
    >>> write_warmup_requests("saved_models/shapes_classifier/1", "shapes_classifier",
    ...                       [{"image_bytes": [png_bytes]}])
    'saved_models/shapes_classifier/1/assets.extra/tf_serving_warmup_requests'
    """
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    if isinstance(examples, dict):
        examples = [examples]
    examples = list(examples)
    if not 1 <= len(examples) <= MAX_WARMUP_RECORDS:
        raise ValueError(
            f"Give 1 to {MAX_WARMUP_RECORDS} warm-up examples. Received: {len(examples)} examples."
        )
    specs = _signature_inputs(saved_model_dir, signature_name)
    path = os.path.join(saved_model_dir, WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for index, example in enumerate(examples):
            request = predict_pb2.PredictRequest()
            request.model_spec.name = model_name
            request.model_spec.signature_name = signature_name
            for key, value in _check_example(example, specs, index).items():
                request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
            writer.write(log.SerializeToString())
    return path


def shape_image_examples(image_size, input_name="image_bytes", seed=0):
    """Warm-up examples for an encoded-image signature: generated shapes as PNG.

    Two requests, of 1 and 2 images, so TF Serving warms up both the single
    image path and a batch.

    Args:
        image_size: int. Side of the generated images.
        input_name: str. The signature's string input. Defaults to
            `"image_bytes"`.
        seed: int. Defaults to `0`.

    Returns:
        A list of two dicts `{input_name: [png bytes, ...]}` for
        `write_warmup_requests`.

    Example:
    >>> [len(e["image_bytes"]) for e in shape_image_examples(32)]
    [1, 2]
    """
    images = generate_shapes(3, image_size=image_size, seed=seed)["images"]
    encoded = [tf.io.encode_png(image).numpy() for image in images]
    return [{input_name: encoded[:1]}, {input_name: encoded[1:]}]


def read_warmup_requests(saved_model_dir):
    """The `PredictRequest`s stored in a SavedModel's warm-up file, in order."""
    from tensorflow_serving.apis import prediction_log_pb2

    path = os.path.join(saved_model_dir, WARMUP_FILE)
    requests = []
    for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
        log = prediction_log_pb2.PredictionLog.FromString(record)
        if log.WhichOneof("log_type") != "predict_log":
            raise ValueError(f"{path}: record {len(requests)} is not a predict_log.")
        requests.append(log.predict_log.request)
    return requests
