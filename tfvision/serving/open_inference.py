"""The Open Inference Protocol (KServe v2), its data: datatypes, metadata, infer bodies.

The protocol's tensors carry a `datatype` (`"FP32"`, `"INT64"`, `"BYTES"`, …), a `shape`
and their elements in row-major order. This module turns them into the NumPy inputs a
`ServedVersion` runs, and its outputs back, for the REST routes
(`tfvision.serving.open_inference_rest`) and the gRPC service
(`tfvision.serving.open_inference_grpc`). A model's v2 metadata is its `serving_default`
signature: names, datatypes and shapes (`-1` for any size).

BYTES elements in JSON are strings. Binary data such as an encoded image is sent in base64
with the input's parameter `"content_type": "base64"` (the convention of MLServer and
KServe's codecs); a BYTES output that is not UTF-8 is answered the same way.

References:
    - [Open Inference Protocol](https://github.com/kserve/open-inference-protocol),
      REST (`open_inference_rest.yaml`) and gRPC (`open_inference_grpc.proto`).
"""

import base64
import binascii
import math

import numpy as np
import tensorflow as tf

from tfvision.serving.errors import InvalidArgument

SERVER_NAME = "tfvision"
PLATFORM = "tensorflow_savedmodel"
SIGNATURE = "serving_default"

# v2 datatype: NumPy dtype. BYTES elements are Python `bytes` in object arrays.
DATATYPES = {
    "BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32,
    "UINT64": np.uint64, "INT8": np.int8, "INT16": np.int16, "INT32": np.int32,
    "INT64": np.int64, "FP16": np.float16, "FP32": np.float32, "FP64": np.float64,
    "BYTES": np.object_,
}


def datatype_of(dtype):
    """The v2 datatype of a `tf.DType` or NumPy dtype, or `InvalidArgument`."""
    dtype = tf.as_dtype(dtype)
    if dtype == tf.string:
        return "BYTES"
    for name, numpy_type in DATATYPES.items():
        if numpy_type is not np.object_ and dtype.as_numpy_dtype == numpy_type:
            return name
    raise InvalidArgument(f"The Open Inference Protocol has no datatype for {dtype.name}.")


def _shape(shape):
    return [-1 if d is None else int(d) for d in tf.TensorShape(shape).as_list()]


def model_metadata(versions, served):
    """The v2 metadata of `served` (a `ServedVersion`), with every version of the model."""
    inputs, outputs = served.signature(SIGNATURE)
    def tensors(specs):
        return [{"name": name, "datatype": datatype_of(spec.dtype), "shape": _shape(spec.shape)}
                for name, spec in sorted(specs.items())]
    return {"name": served.name, "versions": [str(v) for v in sorted(versions)],
            "platform": PLATFORM, "inputs": tensors(inputs), "outputs": tensors(outputs)}


def to_array(name, datatype, shape, data):
    """One input's elements as a NumPy array of its datatype and shape, or `InvalidArgument`.

    Args:
        name: str. The input's name (for messages).
        datatype: str. A v2 datatype.
        shape: list of int.
        data: the elements, flat or nested in row-major order (for BYTES: `bytes`).

    Returns:
        An `np.ndarray` of `shape`.
    """
    if datatype not in DATATYPES:
        raise InvalidArgument(f"Input {name!r} has an unknown datatype. Received: "
                              f"datatype={datatype!r}; expected one of {sorted(DATATYPES)}")
    if not isinstance(shape, (list, tuple)) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise InvalidArgument(f"Input {name!r} needs a shape of non-negative integers. "
                              f"Received: shape={shape!r}")
    numpy_type = np.dtype(DATATYPES[datatype])
    try:
        raw = np.asarray(data, dtype=object if datatype == "BYTES" else None)
        # Values are never rounded, wrapped or made true: 1.5 is not an INT32, 300 not a UINT8.
        kinds = {"b": "b", "i": "iub", "u": "iub", "f": "fiub", "O": "O"}[numpy_type.kind]
        if raw.size and raw.dtype.kind not in kinds:
            raise TypeError(f"elements of type {raw.dtype}")
        if numpy_type.kind in "iu" and raw.size:
            limits = np.iinfo(numpy_type)
            if raw.min() < limits.min or raw.max() > limits.max:
                raise ValueError(f"values outside [{limits.min}, {limits.max}]")
        array = raw.astype(numpy_type)
    except (TypeError, ValueError, OverflowError) as error:
        raise InvalidArgument(f"Input {name!r}: its data are not {datatype}: {error}") from None
    if array.size != math.prod(shape):
        raise InvalidArgument(f"Input {name!r} has shape {list(shape)}, {math.prod(shape)} "
                              f"elements. Received: {array.size} elements")
    if datatype == "BYTES" and not all(isinstance(v, bytes) for v in array.flat):
        raise InvalidArgument(f"Input {name!r}: BYTES elements must be strings.")
    return array.reshape(shape)


def run_infer(served, inputs, requested=()):
    """Runs the model's `serving_default` on `{name: (datatype, array)}` inputs.

    Checks each datatype against the signature's, so a mismatch is a clear 400.

    Returns:
        A list of `(name, datatype, array)` outputs, in the order requested (all, sorted
        by name, when `requested` is empty).
    """
    input_specs, output_specs = served.signature(SIGNATURE)
    for name, (datatype, _) in inputs.items():
        if name in input_specs and datatype != datatype_of(input_specs[name].dtype):
            raise InvalidArgument(
                f"Input {name!r} is {datatype_of(input_specs[name].dtype)}. "
                f"Received: datatype={datatype!r}")
    outputs = served.predict(SIGNATURE, {n: a for n, (_, a) in inputs.items()},
                             list(requested))
    names = list(requested) or sorted(outputs)
    return [(n, datatype_of(output_specs[n].dtype), outputs[n]) for n in names]


def _json_elements(name, tensor):
    """A JSON input's elements: BYTES strings turned into `bytes` (base64 decoded on
    request)."""
    data, datatype = tensor.get("data"), tensor.get("datatype")
    if data is None:
        raise InvalidArgument(f"Input {name!r} has no data.")
    if datatype != "BYTES":
        return data
    parameters = tensor.get("parameters") or {}
    encoded = isinstance(parameters, dict) and parameters.get("content_type") == "base64"
    flat = np.asarray(data, dtype=object).ravel()
    if not all(isinstance(v, str) for v in flat):
        raise InvalidArgument(f"Input {name!r}: BYTES elements must be strings in JSON.")
    try:
        values = [base64.b64decode(v, validate=True) if encoded else v.encode("utf-8")
                  for v in flat]
    except (binascii.Error, ValueError) as error:
        raise InvalidArgument(f"Input {name!r} is not valid base64: {error}") from None
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def parse_infer_json(body):
    """A v2 REST infer body: `(id, {name: (datatype, array)}, requested output names)`."""
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list) or not body["inputs"]:
        raise InvalidArgument('An infer request is a JSON object with a list of "inputs".')
    inputs = {}
    for tensor in body["inputs"]:
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
            raise InvalidArgument('Each input is an object with "name", "shape", "datatype" '
                                  'and "data".')
        name = tensor["name"]
        if name in inputs:
            raise InvalidArgument(f"Input {name!r} is given twice.")
        datatype = tensor.get("datatype")
        inputs[name] = (datatype, to_array(name, datatype, tensor.get("shape"),
                                           _json_elements(name, tensor)))
    requested = body.get("outputs") or []
    if not isinstance(requested, list) or not all(
            isinstance(o, dict) and isinstance(o.get("name"), str) for o in requested):
        raise InvalidArgument('"outputs" is a list of objects with a "name".')
    request_id = body.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InvalidArgument(f'"id" is a string. Received: {request_id!r}')
    return request_id, inputs, [o["name"] for o in requested]


def _json_output(name, datatype, array):
    tensor = {"name": name, "datatype": datatype, "shape": list(array.shape)}
    if datatype != "BYTES":
        tensor["data"] = array.ravel().tolist()
        return tensor
    values = list(array.ravel())
    try:
        tensor["data"] = [v.decode("utf-8") for v in values]
    except UnicodeDecodeError:
        tensor["data"] = [base64.b64encode(v).decode("ascii") for v in values]
        tensor["parameters"] = {"content_type": "base64"}
    return tensor


def infer_json_reply(served, request_id, outputs):
    """The v2 REST infer response of `outputs` (from `run_infer`)."""
    reply = {"model_name": served.name, "model_version": str(served.version),
             "outputs": [_json_output(*output) for output in outputs]}
    if request_id is not None:
        reply["id"] = request_id
    return reply
