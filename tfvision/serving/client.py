"""A client for TF Serving's REST and gRPC APIs (TF Serving itself or `tfvision serve`), and
the connection it shares with the Open Inference Protocol's client."""

import base64
import json
import urllib.error
import urllib.request

import numpy as np

PROTOCOLS = ("rest", "grpc")


class ServingRequestError(RuntimeError):
    """The server refused a request; `status` is the HTTP status or gRPC code name."""

    def __init__(self, status, message):
        super().__init__(f"{status}: {message}")
        self.status = status


MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class Connection:
    """One server's address over REST or gRPC: JSON requests, or gRPC calls on its channel.

    Refusals raise `ServingRequestError` (the HTTP status or gRPC code, and the server's
    message); an unreachable server raises `ConnectionError`.

    Args:
        url: str. `http://host:8501` for REST, `host:8500` for gRPC.
        transport: str. `"rest"` or `"grpc"`.
        timeout: float. Seconds per request.
    """

    def __init__(self, url, transport, timeout):
        if transport not in PROTOCOLS:
            raise ValueError(f"The transport must be one of {PROTOCOLS}. Received: {transport!r}")
        self.transport, self.timeout = transport, timeout
        if transport == "rest":
            self.url = url.rstrip("/") if "://" in url else f"http://{url.rstrip('/')}"
        else:
            import grpc

            self.url = url.split("://", 1)[-1]
            self.channel = grpc.insecure_channel(self.url, options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)])

    def rest(self, path, body=None):
        """GET `path` (POST `body` as JSON): the reply's JSON, `{}` for an empty body."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.url + path, data=data, method="POST" if data else "GET",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                raw = reply.read()
                return json.loads(raw) if raw else {}
        except urllib.error.HTTPError as error:
            text = error.read().decode("utf-8", errors="replace")
            try:
                text = json.loads(text).get("error", text)
            except (ValueError, AttributeError):
                pass
            raise ServingRequestError(error.code, text) from None
        except urllib.error.URLError as error:
            raise ConnectionError(f"Could not reach {self.url}: {error.reason}") from None

    def grpc(self, method, request):
        """Calls a stub's `method` with `request`."""
        import grpc

        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.UNAVAILABLE:
                raise ConnectionError(f"Could not reach {self.url}: {error.details()}") from None
            raise ServingRequestError(error.code().name, error.details()) from None


class Client:
    """Predict, status and metadata over REST or gRPC, with the same results.

    `predict` returns `{output name: np.ndarray}`, strings as `bytes` objects,
    whichever protocol carried them: REST replies are converted with the
    output dtypes the model's metadata declares. `status` and `metadata`
    return TF Serving's REST JSON (gRPC protos are converted with the same
    mapping).

    Args:
        url: str. `http://host:8501` for REST, `host:8500` for gRPC.
        protocol: str. `"rest"` or `"grpc"`. Defaults to `"rest"`.
        timeout: float. Seconds per request. Defaults to `30`.

    Example (it needs a running server, `tfvision serve saved_models`, so the test
    suite does not run it):
    >>> client = Client("http://127.0.0.1:8501")  # doctest: +SKIP
    >>> client.predict("shapes", ["star.png"])["classes"]  # doctest: +SKIP
    array([[b'star', b'circle', ...]], dtype=object)
    """

    def __init__(self, url, protocol="rest", timeout=30.0):
        if protocol not in PROTOCOLS:
            raise ValueError(f"`protocol` must be one of {PROTOCOLS}. Received: protocol={protocol!r}")
        self.protocol, self.timeout = protocol, timeout
        self._signatures = {}
        self._connection = Connection(url, protocol, timeout)
        self.url = self._connection.url
        self._rest, self._grpc = self._connection.rest, self._connection.grpc
        if protocol == "grpc":
            from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

            channel = self._connection.channel
            self._predict_stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            self._model_stub = model_service_pb2_grpc.ModelServiceStub(channel)

    @staticmethod
    def _path(model, version):
        return f"/v1/models/{model}" + (f"/versions/{int(version)}" if version is not None else "")

    def _model_spec(self, spec, model, version, signature_name=None):
        spec.name = model
        if version is not None:
            spec.version.value = int(version)
        if signature_name:
            spec.signature_name = signature_name

    # --- API --------------------------------------------------------------

    def status(self, model, version=None):
        """`{"model_version_status": [{"version", "state", "status"}, …]}`."""
        if self.protocol == "rest":
            return self._rest(self._path(model, version))
        from tensorflow_serving.apis import get_model_status_pb2

        from tfvision.serving.model_protos import to_json

        request = get_model_status_pb2.GetModelStatusRequest()
        self._model_spec(request.model_spec, model, version)
        return to_json(self._grpc(self._model_stub.GetModelStatus, request))

    def wait_until_available(self, model, timeout=120.0, process=None):
        """Polls `status` until a version of `model` is `AVAILABLE`.

        Args:
            model: str. Model name.
            timeout: float. Seconds before giving up. Defaults to `120`.
            process: optional `subprocess.Popen` of the server; its early exit
                fails fast.

        Returns:
            The status dict.
        """
        def available():
            status = self.status(model)
            if any(v["state"] == "AVAILABLE" for v in status["model_version_status"]):
                return status
            return None

        return poll_until(available, f"{model} not available at {self.url}", timeout, process)

    def metadata(self, model, version=None):
        """`{"model_spec": …, "metadata": {"signature_def": {"signature_def": …}}}`."""
        if self.protocol == "rest":
            return self._rest(self._path(model, version) + "/metadata")
        from tensorflow_serving.apis import get_model_metadata_pb2

        from tfvision.serving.model_protos import SIGNATURE_DEF, metadata_json

        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=[SIGNATURE_DEF])
        self._model_spec(request.model_spec, model, version)
        return metadata_json(self._grpc(self._predict_stub.GetModelMetadata, request))

    def signature(self, model, signature_name="serving_default", version=None):
        """`{"inputs": {name: dtype}, "outputs": {name: dtype}}` from the metadata."""
        key = (model, signature_name, version)
        if key not in self._signatures:
            signatures = self.metadata(model, version)["metadata"]["signature_def"]["signature_def"]
            if signature_name not in signatures:
                raise ServingRequestError(
                    "NOT_FOUND", f"Model {model} has no signature {signature_name!r}; it has "
                    f"{sorted(signatures)}.")
            found = signatures[signature_name]
            self._signatures[key] = {
                side: {name: info["dtype"] for name, info in found[side].items()}
                for side in ("inputs", "outputs")
            }
        return self._signatures[key]

    def predict(self, model, inputs, signature_name="serving_default", version=None):
        """Runs a signature on a batch.

        Args:
            model: str. Model name.
            inputs: image paths or encoded image bytes (a list; sent to the
                signature's only string input), an array for its only input,
                or a dict `{input name: array-like}`.
            signature_name: str. Defaults to `"serving_default"`.
            version: int or None. None for the highest version.

        Returns:
            dict `{output name: np.ndarray}`, strings as `bytes`.
        """
        signature = self.signature(model, signature_name, version)
        inputs = _named_inputs(inputs, signature["inputs"])
        if self.protocol == "grpc":
            return self._predict_grpc(model, inputs, signature_name, version)
        body = {"signature_name": signature_name,
                "inputs": {k: _to_json(v, signature["inputs"][k]) for k, v in inputs.items()}}
        outputs = self._rest(self._path(model, version) + ":predict", body)["outputs"]
        if not isinstance(outputs, dict) or set(outputs) != set(signature["outputs"]):
            outputs = {next(iter(signature["outputs"])): outputs}
        return {k: _from_json(k, v, signature["outputs"][k]) for k, v in outputs.items()}

    def _predict_grpc(self, model, inputs, signature_name, version):
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2

        request = predict_pb2.PredictRequest()
        self._model_spec(request.model_spec, model, version, signature_name)
        for key, value in inputs.items():
            request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
        response = self._grpc(self._predict_stub.Predict, request)
        return {k: tf.make_ndarray(v) for k, v in response.outputs.items()}


def poll_until(check, what, timeout, process=None):
    """Calls `check()` every 0.25 s until it returns something other than None or False, and
    returns that. Connection failures and refusals count as not yet; `process` (a server's
    `subprocess.Popen`), if it exits, fails fast; after `timeout` s: `TimeoutError(what)`."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"The server exited with status {process.returncode}.")
        try:
            result = check()
            if result is not None and result is not False:
                return result
        except (OSError, ServingRequestError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} after {timeout} s.")
        time.sleep(0.25)


def _named_inputs(inputs, input_dtypes):
    if isinstance(inputs, dict):
        return {k: np.asarray(v, dtype=object if input_dtypes.get(k) == "DT_STRING" else None)
                for k, v in inputs.items()}
    if len(input_dtypes) != 1:
        raise ValueError(f"The signature takes inputs {sorted(input_dtypes)}: pass a dict.")
    (name, dtype), = input_dtypes.items()
    if dtype == "DT_STRING":
        items = [inputs] if isinstance(inputs, (str, bytes)) else list(inputs)
        return {name: np.array([_read(i) for i in items], dtype=object)}
    return {name: np.asarray(inputs)}


def _read(item):
    if isinstance(item, bytes):
        return item
    with open(item, "rb") as f:
        return f.read()


def _to_json(array, dtype):
    array = np.asarray(array)
    if dtype == "DT_STRING":
        encode = lambda b: {"b64": base64.b64encode(  # noqa: E731
            b if isinstance(b, bytes) else str(b).encode()).decode("ascii")}
        return np.vectorize(encode, otypes=[object])(array).tolist()
    return array.tolist()


def _from_json(name, value, dtype):
    if dtype == "DT_STRING":
        def decode(v):
            return base64.b64decode(v["b64"]) if isinstance(v, dict) else v.encode("utf-8")

        def walk(v):
            return [walk(x) for x in v] if isinstance(v, list) else decode(v)

        decoded = walk(value)
        array = np.empty(np.shape(np.array(value, dtype=object)), dtype=object)
        array[...] = decoded if array.ndim == 0 else np.array(decoded, dtype=object)
        return array
    numpy_dtype = {"DT_FLOAT": np.float32, "DT_DOUBLE": np.float64, "DT_INT32": np.int32,
                   "DT_INT64": np.int64, "DT_BOOL": np.bool_, "DT_HALF": np.float16}.get(dtype)
    return np.asarray(value, dtype=numpy_dtype)
