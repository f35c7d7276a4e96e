"""TF Serving's gRPC `PredictionService` and `ModelService` over a `ModelRepository`, with
the Open Inference Protocol's `GRPCInferenceService` on the same server."""

import time
from concurrent import futures

import grpc
import tensorflow as tf
from tensorflow_serving.apis import (
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from tfvision.serving.errors import InvalidArgument, abort_on_error
from tfvision.serving.metrics import grpc_request_labels
from tfvision.serving.model_protos import SIGNATURE_DEF, metadata_response, status_response
from tfvision.serving.open_inference_grpc import add_inference_service


def _version(model_spec):
    if model_spec.HasField("version_label"):
        raise InvalidArgument(f"Version labels are not served. "
                              f"Received: version_label={model_spec.version_label!r}")
    return model_spec.version.value if model_spec.HasField("version") else None


def _tensor_to_numpy(name, proto):
    try:
        return tf.make_ndarray(proto)
    except (TypeError, ValueError) as error:
        raise InvalidArgument(f"Input {name!r} is not a valid TensorProto: {error}") from None


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    """`Predict` and `GetModelMetadata` (Classify, Regress: UNIMPLEMENTED)."""

    def __init__(self, repository):
        self.repository = repository

    @abort_on_error
    def Predict(self, request, context):  # noqa: N802 (gRPC method name)
        spec = request.model_spec
        served = self.repository.get(spec.name, _version(spec))
        signature_name = spec.signature_name or "serving_default"
        inputs = {k: _tensor_to_numpy(k, v) for k, v in request.inputs.items()}
        outputs = served.predict(signature_name, inputs, list(request.output_filter))
        response = predict_pb2.PredictResponse()
        response.model_spec.name = served.name
        response.model_spec.version.value = served.version
        response.model_spec.signature_name = signature_name
        for key, value in outputs.items():
            response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
        return response

    @abort_on_error
    def GetModelMetadata(self, request, context):  # noqa: N802
        fields = list(request.metadata_field)
        if fields != [SIGNATURE_DEF]:
            raise InvalidArgument(
                f"Metadata field must be ['{SIGNATURE_DEF}']. Received: metadata_field={fields}")
        spec = request.model_spec
        return metadata_response(self.repository.get(spec.name, _version(spec)))


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    """`GetModelStatus` (HandleReloadConfigRequest: UNIMPLEMENTED)."""

    def __init__(self, repository):
        self.repository = repository

    @abort_on_error
    def GetModelStatus(self, request, context):  # noqa: N802
        spec = request.model_spec
        version = _version(spec)
        if version is None:
            return status_response(self.repository.versions(spec.name).values())
        return status_response([self.repository.get(spec.name, version)])


class MetricsInterceptor(grpc.ServerInterceptor):
    """Counts every unary call that names a model in the repository's metrics."""

    def __init__(self, metrics):
        self.metrics = metrics

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method, inner, metrics = handler_call_details.method, handler.unary_unary, self.metrics

        def counted(request, context):
            start, status = time.perf_counter(), "OK"
            try:
                return inner(request, context)
            except Exception:
                status = (context.code() or grpc.StatusCode.UNKNOWN).name
                raise
            finally:
                labels = grpc_request_labels(method, request)
                if labels is not None:
                    metrics.observe_request(*labels, "grpc", status, time.perf_counter() - start)

        return grpc.unary_unary_rpc_method_handler(
            counted, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)


def create_grpc_server(repository, address, max_message_bytes, workers=8):
    """An unstarted `grpc.Server` with TF Serving's two services and the v2 one at `address`.

    Args:
        repository: a `ModelRepository`.
        address: str. For example `"127.0.0.1:8500"`.
        max_message_bytes: int. Largest message received or sent.
        workers: int. Threads handling requests. Defaults to `8`.

    Returns:
        `(server, port)`: the unstarted server and the port bound.
    """
    options = [("grpc.max_receive_message_length", max_message_bytes),
               ("grpc.max_send_message_length", max_message_bytes)]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers), options=options,
                         interceptors=[MetricsInterceptor(repository.metrics)])
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionService(repository), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(repository), server)
    add_inference_service(server, repository)  # the Open Inference Protocol, on the same port
    port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"Could not bind the gRPC server to {address}.")
    return server, port
