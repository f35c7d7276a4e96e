"""A client for the Open Inference Protocol (KServe v2) over REST or gRPC.

It talks to any v2 server: `tfvision serve`, KServe, Triton, OpenVINO Model Server.
"""

import base64

import numpy as np

from tfvision.serving.client import Connection, ServingRequestError, _named_inputs, poll_until
from tfvision.serving.open_inference import DATATYPES

TRANSPORTS = ("rest", "grpc")


def _datatype(array):
    array = np.asarray(array)
    if array.dtype.kind in "OSU":
        return "BYTES"
    if array.dtype == np.float64:  # Python floats: the models take FP32
        return "FP32"
    for name, numpy_type in DATATYPES.items():
        if numpy_type is not np.object_ and array.dtype == numpy_type:
            return name
    raise ValueError(f"No Open Inference Protocol datatype for {array.dtype}.")


class OpenInferenceClient:
    """Readiness, metadata and inference with the v2 protocol, the same over both transports.

    `predict` returns `{output name: np.ndarray}` (BYTES as `bytes` objects); `metadata`
    returns the protocol's model metadata as its REST JSON (`name`, `versions`, `platform`,
    `inputs`, `outputs`), from either transport.

    Args:
        url: str. `http://host:8501` for REST, `host:8500` for gRPC.
        transport: str. `"rest"` or `"grpc"`. Defaults to `"rest"`.
        timeout: float. Seconds per request. Defaults to `30`.

    Example (it needs a running v2 server, such as `tfvision serve saved_models`, so the
    test suite does not run it):
    >>> client = OpenInferenceClient("http://127.0.0.1:8501")  # doctest: +SKIP
    >>> client.predict("shapes", ["star.png"])["classes"]  # doctest: +SKIP
    array([[b'star', b'circle', b'ring']], dtype=object)
    """

    def __init__(self, url, transport="rest", timeout=30.0):
        if transport not in TRANSPORTS:
            raise ValueError(f"`transport` must be one of {TRANSPORTS}. "
                             f"Received: transport={transport!r}")
        self.transport, self.timeout = transport, timeout
        connection = Connection(url, transport, timeout)
        self.url, self._rest, self._grpc = connection.url, connection.rest, connection.grpc
        if transport == "grpc":
            from open_inference.grpc import service

            self._stub = service.GRPCInferenceServiceStub(connection.channel)

    @staticmethod
    def _path(model, version):
        return f"/v2/models/{model}" + (f"/versions/{int(version)}" if version is not None else "")

    def ready(self, model, version=None):
        """Whether the server has `model` (that version) loaded and ready."""
        if self.transport == "rest":
            try:
                self._rest(self._path(model, version) + "/ready")
                return True
            except ServingRequestError:
                return False
        from open_inference.grpc import protocol as pb

        request = pb.ModelReadyRequest(name=model, version="" if version is None else str(version))
        return self._grpc(self._stub.ModelReady, request).ready

    def wait_until_available(self, model, timeout=120.0, process=None):
        """Polls `ready` until `model` is ready; `process` (the server's), if it exits, fails
        fast."""
        return poll_until(lambda: self.ready(model), f"{model} not ready at {self.url}",
                          timeout, process)

    def metadata(self, model, version=None):
        """The model's v2 metadata: `{"name", "versions", "platform", "inputs", "outputs"}`."""
        if self.transport == "rest":
            return self._rest(self._path(model, version))
        from open_inference.grpc import protocol as pb

        request = pb.ModelMetadataRequest(name=model,
                                          version="" if version is None else str(version))
        reply = self._grpc(self._stub.ModelMetadata, request)
        def tensors(items):
            return [{"name": t.name, "datatype": t.datatype, "shape": list(t.shape)}
                    for t in items]
        return {"name": reply.name, "versions": list(reply.versions), "platform": reply.platform,
                "inputs": tensors(reply.inputs), "outputs": tensors(reply.outputs)}

    def predict(self, model, inputs, version=None, outputs=()):
        """Runs the model on a batch.

        Args:
            model: str. Model name.
            inputs: image paths or encoded image bytes (a list; sent to the model's only
                BYTES input), an array for its only input, or a dict `{input name:
                array-like}`.
            version: int or None. None for the server's choice (the highest here).
            outputs: names of the outputs to return; empty for all.

        Returns:
            dict `{output name: np.ndarray}`, BYTES as `bytes`.
        """
        declared = {t["name"]: t["datatype"] for t in self.metadata(model, version)["inputs"]}
        named = _named_inputs(inputs, {k: "DT_STRING" if v == "BYTES" else v
                                       for k, v in declared.items()})
        tensors = [(name, declared.get(name) or _datatype(array), np.asarray(array))
                   for name, array in named.items()]
        if self.transport == "grpc":
            return self._predict_grpc(model, tensors, version, outputs)
        body = {"inputs": [_json_input(*tensor) for tensor in tensors]}
        if outputs:
            body["outputs"] = [{"name": name} for name in outputs]
        reply = self._rest(self._path(model, version) + "/infer", body)
        return {t["name"]: _json_output(t) for t in reply["outputs"]}

    def _predict_grpc(self, model, tensors, version, outputs):
        from open_inference.grpc import protocol as pb

        from tfvision.serving.open_inference_grpc import CONTENTS, split_bytes

        request = pb.ModelInferRequest(model_name=model,
                                       model_version="" if version is None else str(version))
        for name, datatype, array in tensors:
            if datatype not in CONTENTS:
                raise ValueError(f"Input {name!r}: this client sends no {datatype} over gRPC.")
            tensor = request.inputs.add(name=name, datatype=datatype, shape=list(array.shape))
            values = [v if isinstance(v, bytes) else str(v).encode() for v in array.ravel()] \
                if datatype == "BYTES" else array.ravel().tolist()
            getattr(tensor.contents, CONTENTS[datatype]).extend(values)
        for name in outputs:
            request.outputs.add(name=name)
        reply = self._grpc(self._stub.ModelInfer, request)
        results = {}
        raws = list(reply.raw_output_contents)
        for i, tensor in enumerate(reply.outputs):
            numpy_type = DATATYPES[tensor.datatype]
            if raws and tensor.datatype == "BYTES":
                values = np.array(split_bytes(tensor.name, raws[i]), dtype=object)
            elif raws:
                values = np.frombuffer(raws[i], np.dtype(numpy_type).newbyteorder("<"))
            else:
                values = np.array(list(getattr(tensor.contents, CONTENTS[tensor.datatype])),
                                  dtype=numpy_type)
            results[tensor.name] = values.astype(numpy_type).reshape(list(tensor.shape))
        return results


def _json_input(name, datatype, array):
    tensor = {"name": name, "shape": list(array.shape), "datatype": datatype}
    if datatype == "BYTES":
        tensor["data"] = [base64.b64encode(v if isinstance(v, bytes) else str(v).encode())
                          .decode("ascii") for v in array.ravel()]
        tensor["parameters"] = {"content_type": "base64"}
    else:
        tensor["data"] = array.ravel().tolist()
    return tensor


def _json_output(tensor):
    datatype, shape = tensor["datatype"], tensor["shape"]
    if datatype != "BYTES":
        return np.asarray(tensor["data"], dtype=DATATYPES[datatype]).reshape(shape)
    encoded = (tensor.get("parameters") or {}).get("content_type") == "base64"
    values = [base64.b64decode(v) if encoded else v.encode("utf-8") for v in tensor["data"]]
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array.reshape(shape)
