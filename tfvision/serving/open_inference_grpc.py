"""The Open Inference Protocol's (KServe v2) gRPC `GRPCInferenceService`.

The stubs are the protocol working group's own (`open-inference-grpc`, generated from
`open_inference_grpc.proto`, package `inference`, the service KServe, Triton and OpenVINO
Model Server speak). Inputs come as typed `contents` or as `raw_input_contents`
(little-endian, BYTES elements each behind a 4-byte length); outputs go back as typed
`contents` (FP16, which has no typed field, as raw bytes).
"""

import struct

import numpy as np
from open_inference.grpc import protocol as pb
from open_inference.grpc import service as pb_grpc

import tfvision
from tfvision.serving.errors import InvalidArgument, NotFound, ServingError, abort_on_error
from tfvision.serving.open_inference import (
    DATATYPES,
    SERVER_NAME,
    model_metadata,
    run_infer,
    to_array,
)

# v2 datatype: the `InferTensorContents` field that carries it.
CONTENTS = {"BOOL": "bool_contents", "UINT8": "uint_contents", "UINT16": "uint_contents",
            "UINT32": "uint_contents", "UINT64": "uint64_contents", "INT8": "int_contents",
            "INT16": "int_contents", "INT32": "int_contents", "INT64": "int64_contents",
            "FP32": "fp32_contents", "FP64": "fp64_contents", "BYTES": "bytes_contents"}


def split_bytes(name, raw):
    """BYTES elements of a raw tensor: each a 4-byte little-endian length, then its bytes."""
    values, offset = [], 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise InvalidArgument(f"Input {name!r}: raw BYTES end inside an element's length.")
        (length,) = struct.unpack_from("<I", raw, offset)
        offset += 4
        if offset + length > len(raw):
            raise InvalidArgument(f"Input {name!r}: a raw BYTES element runs past the end.")
        values.append(raw[offset:offset + length])
        offset += length
    return values


def join_bytes(values):
    return b"".join(struct.pack("<I", len(v)) + v for v in values)


def input_array(tensor, raw=None):
    """An `InferInputTensor` (with its raw contents, if the request used them) as NumPy."""
    name, datatype, shape = tensor.name, tensor.datatype, list(tensor.shape)
    if datatype not in DATATYPES:
        raise InvalidArgument(f"Input {name!r} has an unknown datatype. Received: "
                              f"datatype={datatype!r}; expected one of {sorted(DATATYPES)}")
    if raw is not None:
        if datatype == "BYTES":
            data = split_bytes(name, raw)
        else:
            dtype = np.dtype(DATATYPES[datatype]).newbyteorder("<")
            if len(raw) % dtype.itemsize:
                raise InvalidArgument(f"Input {name!r}: {len(raw)} raw bytes are not whole "
                                      f"{datatype} elements.")
            data = np.frombuffer(raw, dtype=dtype)
    elif datatype == "FP16":
        raise InvalidArgument(f"Input {name!r}: FP16 travels in raw_input_contents.")
    else:
        data = list(getattr(tensor.contents, CONTENTS[datatype]))
    return to_array(name, datatype, shape, data)


def output_tensor(name, datatype, array):
    """`(InferOutputTensor, raw bytes or None)` for one output."""
    tensor = pb.ModelInferResponse.InferOutputTensor(name=name, datatype=datatype,
                                                     shape=list(array.shape))
    if datatype == "FP16":
        return tensor, array.astype("<f2").tobytes()
    values = array.ravel().tolist()
    getattr(tensor.contents, CONTENTS[datatype]).extend(values)
    return tensor, None


class InferenceService(pb_grpc.GRPCInferenceServiceServicer):
    """Health, metadata and `ModelInfer` over a `ModelRepository`."""

    def __init__(self, repository):
        self.repository = repository

    def ServerLive(self, request, context):  # noqa: N802 (gRPC method names)
        return pb.ServerLiveResponse(live=True)

    def ServerReady(self, request, context):  # noqa: N802
        return pb.ServerReadyResponse(ready=True)

    def ServerMetadata(self, request, context):  # noqa: N802
        return pb.ServerMetadataResponse(name=SERVER_NAME, version=tfvision.__version__)

    def ModelReady(self, request, context):  # noqa: N802
        try:
            self.repository.get(request.name, request.version or None)
        except NotFound:
            return pb.ModelReadyResponse(ready=False)
        except ServingError as error:
            context.abort(error.grpc_code, str(error))
        return pb.ModelReadyResponse(ready=True)

    @abort_on_error
    def ModelMetadata(self, request, context):  # noqa: N802
        served = self.repository.get(request.name, request.version or None)
        metadata = model_metadata(self.repository.versions(request.name), served)
        response = pb.ModelMetadataResponse(name=metadata["name"], versions=metadata["versions"],
                                            platform=metadata["platform"])
        for field in ("inputs", "outputs"):
            getattr(response, field).extend(
                pb.ModelMetadataResponse.TensorMetadata(**t) for t in metadata[field])
        return response

    @abort_on_error
    def ModelInfer(self, request, context):  # noqa: N802
        served = self.repository.get(request.model_name, request.model_version or None)
        raw = list(request.raw_input_contents)
        if raw and len(raw) != len(request.inputs):
            raise InvalidArgument(f"{len(raw)} raw_input_contents for {len(request.inputs)} "
                                  "inputs: give one per input, or none.")
        inputs = {}
        for i, tensor in enumerate(request.inputs):
            if tensor.name in inputs:
                raise InvalidArgument(f"Input {tensor.name!r} is given twice.")
            inputs[tensor.name] = (tensor.datatype, input_array(tensor, raw[i] if raw else None))
        outputs = run_infer(served, inputs, [o.name for o in request.outputs])
        response = pb.ModelInferResponse(model_name=served.name, model_version=str(served.version),
                                         id=request.id)
        raws = []
        for output in outputs:
            tensor, raw_output = output_tensor(*output)
            response.outputs.append(tensor)
            raws.append(raw_output)
        if any(r is not None for r in raws):  # one raw entry per output, or none at all
            outputs_raw = [r if r is not None else _raw(o) for r, o in zip(raws, outputs)]
            for tensor in response.outputs:
                tensor.ClearField("contents")
            response.raw_output_contents.extend(outputs_raw)
        return response


def _raw(output):
    _, datatype, array = output
    if datatype == "BYTES":
        return join_bytes(list(array.ravel()))
    return array.astype(np.dtype(DATATYPES[datatype]).newbyteorder("<")).tobytes()


def add_inference_service(server, repository):
    """Binds the v2 `GRPCInferenceService` to a `grpc.Server`."""
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(InferenceService(repository), server)
