"""The server's Prometheus metrics: requests, their latency, model calls and batch sizes.

Served at `GET /monitoring/prometheus/metrics` on the REST port (TF Serving's path), in
Prometheus' text format, by the maintained `prometheus_client`. Each server has its own
registry, so two servers in one process (the tests) do not add up.

- `tfvision_serving_requests_total{model_name, api, transport, status}`: requests answered
  (`api` is `tfserving` or `v2`, `transport` `rest` or `grpc`, `status` the HTTP status or
  gRPC code name).
- `tfvision_serving_request_latency_seconds{model_name, api, transport}`: a histogram of the
  time from request to answer.
- `tfvision_serving_model_calls_total{model_name, version, signature}`: calls of a
  SavedModel signature (with server-side batching, fewer than requests).
- `tfvision_serving_batch_size{model_name}`: a histogram of the instances per model call.
"""

import re

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)

# REST paths of a model: TF Serving's `/v1/models/<m>…` and the v2 `/v2/models/<m>…`.
_MODEL_PATH = re.compile(r"^/(v1|v2)/models/([^/:]+)")


class ServingMetrics:
    """One server's metrics, in their own `prometheus_client` registry."""

    CONTENT_TYPE = CONTENT_TYPE_LATEST

    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tfvision_serving_requests", "Requests answered, by model, API, transport and status.",
            ["model_name", "api", "transport", "status"], registry=self.registry)
        self.latency = Histogram(
            "tfvision_serving_request_latency_seconds", "Seconds from request to answer.",
            ["model_name", "api", "transport"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.model_calls = Counter(
            "tfvision_serving_model_calls", "Calls of a SavedModel signature.",
            ["model_name", "version", "signature"], registry=self.registry)
        self.batch_size = Histogram(
            "tfvision_serving_batch_size", "Instances per call of a model.", ["model_name"],
            buckets=BATCH_BUCKETS, registry=self.registry)

    def observe_request(self, model_name, api, transport, status, seconds):
        self.requests.labels(model_name, api, transport, str(status)).inc()
        self.latency.labels(model_name, api, transport).observe(seconds)

    def observe_call(self, model_name, version, signature, batch_size):
        self.model_calls.labels(model_name, str(version), signature).inc()
        if batch_size is not None:
            self.batch_size.labels(model_name).observe(batch_size)

    def exposition(self):
        """The metrics in Prometheus' text format (bytes)."""
        return generate_latest(self.registry)


def rest_request_labels(path):
    """`(model_name, api)` of a REST path to a model, or `None` for other paths."""
    match = _MODEL_PATH.match(path)
    if match is None:
        return None
    return match.group(2), "tfserving" if match.group(1) == "v1" else "v2"


def grpc_request_labels(method, request):
    """`(model_name, api)` of a gRPC call (`method` its full name), or `None` when the call
    names no model (health and server metadata)."""
    if method.startswith("/tensorflow.serving."):
        return request.model_spec.name, "tfserving"
    name = method.rsplit("/", 1)[-1]
    if name == "ModelInfer":
        return request.model_name, "v2"
    if name in ("ModelReady", "ModelMetadata"):
        return request.name, "v2"
    return None
