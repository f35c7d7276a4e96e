"""`tfvision serve`'s Prometheus metrics, read from its `/monitoring/prometheus/metrics`.

A real server process (tests/serving/conftest.py): requests over both APIs and transports,
good and bad, then the exposition is parsed with `prometheus_client`'s own parser and every
count checked against what was sent.
"""

import urllib.request

import grpc
import numpy as np
import pytest
from open_inference.grpc import protocol as pb
from open_inference.grpc import service as pb_grpc
from prometheus_client.parser import text_string_to_metric_families

from tfvision.serving import Client, OpenInferenceClient, ServingRequestError


def scrape(url):
    with urllib.request.urlopen(url + "/monitoring/prometheus/metrics", timeout=30) as reply:
        assert reply.headers.get_content_type() == "text/plain"
        text = reply.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            samples[key] = sample.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_requests_latency_calls_and_batch_sizes_are_counted(exported, server):
    _, _, images = exported
    _, url, grpc_url = server
    before = scrape(url)
    Client(url).predict("shapes", images)  # 3 instances, one call
    Client(grpc_url, protocol="grpc").predict("shapes", images[:2], version=1)
    v2_rest, v2_grpc = OpenInferenceClient(url), OpenInferenceClient(grpc_url, "grpc")
    v2_rest.predict("toy", {"x": np.float32([[1, 2]]), "k": np.int32([1])})
    v2_grpc.predict("toy", {"x": np.float32([[1, 2]] * 4), "k": np.int32([1] * 4)})
    with pytest.raises(ServingRequestError):
        v2_rest.predict("toy", {"x": np.float32([[1, 2]]), "k": np.float32([1.5])})
    with pytest.raises(grpc.RpcError):
        pb_grpc.GRPCInferenceServiceStub(grpc.insecure_channel(grpc_url)).ModelInfer(
            pb.ModelInferRequest(model_name="nope"))
    after = scrape(url)

    def added(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "tfvision_serving_requests_total"
    # The TF Serving client asks the metadata once, then predicts.
    assert added(requests, model_name="shapes", api="tfserving", transport="rest",
                 status="200") == 2
    assert added(requests, model_name="shapes", api="tfserving", transport="grpc",
                 status="OK") == 2
    # The v2 clients read the metadata before each infer: 2 + 1 answered 200, 1 refused.
    assert added(requests, model_name="toy", api="v2", transport="rest", status="200") == 3
    assert added(requests, model_name="toy", api="v2", transport="rest", status="400") == 1
    assert added(requests, model_name="toy", api="v2", transport="grpc", status="OK") == 2
    assert added(requests, model_name="nope", api="v2", transport="grpc",
                 status="NOT_FOUND") == 1
    assert added("tfvision_serving_request_latency_seconds_count", model_name="toy", api="v2",
                 transport="rest") == 4
    assert added("tfvision_serving_request_latency_seconds_sum", model_name="toy", api="v2",
                 transport="rest") > 0

    calls = "tfvision_serving_model_calls_total"
    assert added(calls, model_name="shapes", version="2", signature="serving_default") == 1
    assert added(calls, model_name="shapes", version="1", signature="serving_default") == 1
    assert added(calls, model_name="toy", version="1", signature="serving_default") == 2
    assert added("tfvision_serving_batch_size_count", model_name="toy") == 2
    assert added("tfvision_serving_batch_size_sum", model_name="toy") == 5  # 1 + 4 instances
    assert added("tfvision_serving_batch_size_sum", model_name="shapes") == 5  # 3 + 2
    assert added("tfvision_serving_batch_size_bucket", model_name="toy", le="1.0") == 1
