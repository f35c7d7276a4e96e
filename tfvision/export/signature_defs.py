"""Signatures of a SavedModel read from `saved_model.pb`, without loading it."""

import os

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

SERVE_TAG = "serve"


def read_signature_defs(saved_model_dir):
    """The `SignatureDef` protos of the `serve` MetaGraph, as TF Serving sees them.

    Reading the protocol buffer is instant (no variables, no graph) and gives
    exactly what TF Serving reports in its metadata API.

    Args:
        saved_model_dir: str. A SavedModel folder.

    Returns:
        A dict `{signature name: SignatureDef}`, without the internal
        `__saved_model_init_op` entry.

    Example:
    >>> sorted(read_signature_defs("saved_models/shapes_classifier/1"))
    ['predict_images', 'serving_default']
    """
    path = os.path.join(saved_model_dir, "saved_model.pb")
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"No SavedModel at {saved_model_dir} (no saved_model.pb).")
    saved_model = saved_model_pb2.SavedModel()
    try:
        saved_model.ParseFromString(tf.io.gfile.GFile(path, "rb").read())
    except Exception as error:  # protobuf's DecodeError
        raise ValueError(f"{path} is not a SavedModel protocol buffer: {error}") from error
    for meta_graph in saved_model.meta_graphs:
        if SERVE_TAG in meta_graph.meta_info_def.tags:
            return {
                name: signature
                for name, signature in meta_graph.signature_def.items()
                if not name.startswith("__")
            }
    raise ValueError(f"{path} has no MetaGraph tagged {SERVE_TAG!r}.")


def tensor_specs(tensor_infos):
    """`{name: tf.TensorSpec}` for a `SignatureDef`'s `inputs` or `outputs` map."""
    return {
        name: tf.TensorSpec(
            tf.TensorShape(info.tensor_shape), tf.dtypes.as_dtype(info.dtype), name=name
        )
        for name, info in tensor_infos.items()
    }
