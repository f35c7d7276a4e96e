"""`tfvision serve` speaks the Open Inference Protocol (KServe v2) over REST and gRPC.

A real server process (tests/serving/conftest.py) on loopback. Requests follow the
protocol's own examples (its REST spec's infer example: an `id`, typed inputs, one requested
output); the gRPC side uses the working group's generated stubs, as any v2 client would.
Answers are compared with the Keras model in this process, or exact values of the toy model.
"""

import base64
import json
import struct
import urllib.error
import urllib.request

import grpc
import numpy as np
import pytest
from open_inference.grpc import protocol as pb
from open_inference.grpc import service as pb_grpc

from tests.serving.test_server import expected_top_k
from tfvision.cli.main import main
from tfvision.serving import OpenInferenceClient, ServingRequestError


def http(url, body=None, method=None):
    """`(status, raw body bytes)` of one request; dict bodies are sent as JSON."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method or ("POST" if data else "GET"),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def http_json(url, body=None):
    status, raw = http(url, body)
    return status, json.loads(raw)


def b64_images(paths):
    return [base64.b64encode(open(p, "rb").read()).decode() for p in paths]


# The REST spec's infer example, on the toy model's inputs (x: FP32 [N, 2], k: INT32 [N]).
TOY_REQUEST = {
    "id": "42",
    "inputs": [
        {"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]},
        {"name": "k", "shape": [2], "datatype": "INT32", "data": [1, 2]},
    ],
    "outputs": [{"name": "total"}],
}


def test_health_server_and_model_readiness(server):
    _, url, _ = server
    for path in ("/v2/health/live", "/v2/health/ready", "/v2/models/shapes/ready",
                 "/v2/models/shapes/versions/1/ready", "/v2/models/toy/ready"):
        assert http(url + path) == (200, b""), path
    status, metadata = http_json(url + "/v2")
    assert status == 200 and metadata["name"] == "tfvision" and metadata["extensions"] == []
    for path in ("/v2/models/nope/ready", "/v2/models/shapes/versions/7/ready"):
        status, body = http_json(url + path)
        assert status == 404 and "not found" in body["error"], (path, body)


def test_model_metadata_from_the_signature(server):
    _, url, _ = server
    status, metadata = http_json(url + "/v2/models/shapes")
    assert status == 200, metadata
    assert metadata["name"] == "shapes" and metadata["versions"] == ["1", "2"]
    assert metadata["platform"] == "tensorflow_savedmodel"
    assert metadata["inputs"] == [{"name": "image_bytes", "datatype": "BYTES", "shape": [-1]}]
    outputs = {o["name"]: o for o in metadata["outputs"]}
    assert outputs["classes"] == {"name": "classes", "datatype": "BYTES", "shape": [-1, 3]}
    assert outputs["scores"]["datatype"] == "FP32" and outputs["class_ids"]["datatype"] == "INT32"
    _, version_1 = http_json(url + "/v2/models/shapes/versions/1")
    assert {o["name"]: o["shape"] for o in version_1["outputs"]}["scores"] == [-1, 2]
    _, toy = http_json(url + "/v2/models/toy")
    assert toy["inputs"] == [{"name": "k", "datatype": "INT32", "shape": [-1]},
                             {"name": "x", "datatype": "FP32", "shape": [-1, 2]}]


def test_rest_infer_typed_tensors_as_the_spec_example(server):
    _, url, _ = server
    status, reply = http_json(url + "/v2/models/toy/infer", TOY_REQUEST)
    assert status == 200, reply
    assert reply == {"model_name": "toy", "model_version": "1", "id": "42",
                     "outputs": [{"name": "total", "datatype": "FP32", "shape": [2],
                                  "data": [3.0, 14.0]}]}
    # Nested data, no id, every output (sorted by name); a BYTES output that is not UTF-8
    # comes back in base64 and says so.
    nested = {"inputs": [dict(TOY_REQUEST["inputs"][0], data=[[1, 2], [3, 4]]),
                         TOY_REQUEST["inputs"][1]]}
    status, reply = http_json(url + "/v2/models/toy/versions/1/infer", nested)
    assert status == 200 and "id" not in reply, reply
    outputs = {o["name"]: o for o in reply["outputs"]}
    assert [o["name"] for o in reply["outputs"]] == ["name", "raw_bytes", "total"]
    assert outputs["name"] == {"name": "name", "datatype": "BYTES", "shape": [2],
                               "data": ["1", "2"]}
    assert outputs["raw_bytes"]["parameters"] == {"content_type": "base64"}
    assert [base64.b64decode(v) for v in outputs["raw_bytes"]["data"]] == [b"\xff1", b"\xff2"]


def test_rest_infer_encoded_images_match_the_model(exported, server):
    model, _, images = exported
    _, url, _ = server
    probabilities, scores, names = expected_top_k(model, images, 3)
    body = {"inputs": [{"name": "image_bytes", "shape": [3], "datatype": "BYTES",
                        "data": b64_images(images), "parameters": {"content_type": "base64"}}]}
    status, reply = http_json(url + "/v2/models/shapes/infer", body)
    assert status == 200, reply
    assert reply["model_version"] == "2"
    outputs = {o["name"]: o for o in reply["outputs"]}
    assert outputs["classes"]["shape"] == [3, 3]
    assert np.reshape(outputs["classes"]["data"], (3, 3)).tolist() == names
    np.testing.assert_allclose(np.reshape(outputs["scores"]["data"], (3, 3)), scores, atol=1e-5)
    np.testing.assert_allclose(np.reshape(outputs["probabilities"]["data"], (3, 3)),
                               probabilities, atol=1e-5)
    status, reply = http_json(url + "/v2/models/shapes/versions/1/infer", body)
    assert status == 200 and reply["model_version"] == "1"
    assert {o["name"]: o["shape"] for o in reply["outputs"]}["scores"] == [3, 2]  # top-2


@pytest.mark.parametrize("path, body, status, words", [
    ("toy", b"{not json", 400, "not valid JSON"),
    ("toy", {"inputs": []}, 400, '"inputs"'),
    ("toy", {"inputs": [dict(TOY_REQUEST["inputs"][0], datatype="FP8")]}, 400, "unknown datatype"),
    ("toy", {"inputs": [dict(TOY_REQUEST["inputs"][0], shape=[3, 2])]}, 400, "6 elements"),
    ("toy", {"inputs": [TOY_REQUEST["inputs"][0],
                        dict(TOY_REQUEST["inputs"][1], datatype="INT64")]}, 400, "is INT32"),
    ("toy", {"inputs": [TOY_REQUEST["inputs"][0],
                        dict(TOY_REQUEST["inputs"][1], data=[1.5, 2])]}, 400, "not INT32"),
    ("toy", {"inputs": [TOY_REQUEST["inputs"][0]]}, 400, "takes inputs"),
    ("toy", dict(TOY_REQUEST, outputs=[{"name": "nope"}]), 400, "has outputs"),
    ("shapes", {"inputs": [{"name": "image_bytes", "shape": [1], "datatype": "BYTES",
                            "data": ["%%%"], "parameters": {"content_type": "base64"}}]},
     400, "not valid base64"),
    ("shapes", {"inputs": [{"name": "image_bytes", "shape": [1], "datatype": "BYTES",
                            "data": ["not an image"]}]}, 400, "could not run"),
    ("nope", TOY_REQUEST, 404, "not found"),
])
def test_rest_errors_answer_the_protocol_error_body(server, path, body, status, words):
    _, url, _ = server
    code, raw = http(f"{url}/v2/models/{path}/infer", body)
    reply = json.loads(raw)
    assert code == status and list(reply) == ["error"] and words in reply["error"], reply
    assert http_json(url + "/v2/models/toy/infer", TOY_REQUEST)[0] == 200  # still serving


@pytest.fixture(scope="module")
def stub(server):
    _, _, grpc_url = server
    channel = grpc.insecure_channel(grpc_url)
    yield pb_grpc.GRPCInferenceServiceStub(channel)
    channel.close()


def test_grpc_health_and_metadata(stub):
    assert stub.ServerLive(pb.ServerLiveRequest()).live
    assert stub.ServerReady(pb.ServerReadyRequest()).ready
    assert stub.ServerMetadata(pb.ServerMetadataRequest()).name == "tfvision"
    assert stub.ModelReady(pb.ModelReadyRequest(name="shapes", version="1")).ready
    assert not stub.ModelReady(pb.ModelReadyRequest(name="nope")).ready
    metadata = stub.ModelMetadata(pb.ModelMetadataRequest(name="shapes"))
    assert list(metadata.versions) == ["1", "2"] and metadata.platform == "tensorflow_savedmodel"
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.inputs] == [
        ("image_bytes", "BYTES", [-1])]
    with pytest.raises(grpc.RpcError) as error:
        stub.ModelMetadata(pb.ModelMetadataRequest(name="shapes", version="7"))
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


def _toy_inputs():
    tensor = pb.ModelInferRequest.InferInputTensor
    return [tensor(name="x", datatype="FP32", shape=[2, 2],
                   contents=pb.InferTensorContents(fp32_contents=[1, 2, 3, 4])),
            tensor(name="k", datatype="INT32", shape=[2],
                   contents=pb.InferTensorContents(int_contents=[1, 2]))]


def test_grpc_infer_typed_and_raw_contents(stub):
    request = pb.ModelInferRequest(
        model_name="toy", id="42", inputs=_toy_inputs(),
        outputs=[pb.ModelInferRequest.InferRequestedOutputTensor(name="total"),
                 pb.ModelInferRequest.InferRequestedOutputTensor(name="name")])
    reply = stub.ModelInfer(request)
    assert (reply.model_name, reply.model_version, reply.id) == ("toy", "1", "42")
    total, name = reply.outputs
    assert (total.name, total.datatype, list(total.shape)) == ("total", "FP32", [2])
    assert list(total.contents.fp32_contents) == [3.0, 14.0]
    assert list(name.contents.bytes_contents) == [b"1", b"2"]

    # The same inputs as raw little-endian contents, one entry per input.
    raw = pb.ModelInferRequest(model_name="toy", inputs=_toy_inputs())
    for tensor in raw.inputs:
        tensor.ClearField("contents")
    raw.raw_input_contents.extend([np.asarray([1, 2, 3, 4], "<f4").tobytes(),
                                   np.asarray([1, 2], "<i4").tobytes()])
    outputs = {o.name: o for o in stub.ModelInfer(raw).outputs}
    assert list(outputs["total"].contents.fp32_contents) == [3.0, 14.0]
    assert list(outputs["raw_bytes"].contents.bytes_contents) == [b"\xff1", b"\xff2"]


def test_grpc_infer_encoded_images_match_the_model(exported, stub):
    model, _, images = exported
    probabilities, scores, names = expected_top_k(model, images, 3)
    encoded = [open(p, "rb").read() for p in images]
    image_input = pb.ModelInferRequest.InferInputTensor(
        name="image_bytes", datatype="BYTES", shape=[3],
        contents=pb.InferTensorContents(bytes_contents=encoded))
    reply = stub.ModelInfer(pb.ModelInferRequest(model_name="shapes", inputs=[image_input]))
    outputs = {o.name: o for o in reply.outputs}
    assert [v.decode() for v in outputs["classes"].contents.bytes_contents] == sum(names, [])
    np.testing.assert_allclose(np.reshape(outputs["probabilities"].contents.fp32_contents,
                                          (3, 3)), probabilities, atol=1e-5)
    # BYTES as raw contents: each element behind its 4-byte little-endian length.
    raw = pb.ModelInferRequest(model_name="shapes", model_version="1", inputs=[
        pb.ModelInferRequest.InferInputTensor(name="image_bytes", datatype="BYTES", shape=[3])])
    raw.raw_input_contents.append(b"".join(struct.pack("<I", len(e)) + e for e in encoded))
    outputs = {o.name: o for o in stub.ModelInfer(raw).outputs}
    assert list(outputs["scores"].shape) == [3, 2]
    np.testing.assert_allclose(np.reshape(outputs["scores"].contents.fp32_contents, (3, 2)),
                               scores[:, :2], atol=1e-5)


def test_grpc_errors_are_status_codes(stub):
    tensor = pb.ModelInferRequest.InferInputTensor
    cases = [
        (pb.ModelInferRequest(model_name="nope", inputs=_toy_inputs()),
         grpc.StatusCode.NOT_FOUND, "not found"),
        (pb.ModelInferRequest(model_name="toy", inputs=[
            tensor(name="x", datatype="FP32", shape=[3, 2],
                   contents=pb.InferTensorContents(fp32_contents=[1, 2, 3, 4])),
            _toy_inputs()[1]]), grpc.StatusCode.INVALID_ARGUMENT, "6 elements"),
        (pb.ModelInferRequest(model_name="shapes", inputs=[tensor(
            name="image_bytes", datatype="BYTES", shape=[1],
            contents=pb.InferTensorContents(bytes_contents=[b"not an image"]))]),
         grpc.StatusCode.INVALID_ARGUMENT, "could not run"),
    ]
    raw = pb.ModelInferRequest(model_name="toy", inputs=_toy_inputs())
    raw.raw_input_contents.append(b"\x00")
    cases.append((raw, grpc.StatusCode.INVALID_ARGUMENT, "one per input"))
    for request, code, words in cases:
        with pytest.raises(grpc.RpcError) as error:
            stub.ModelInfer(request)
        assert error.value.code() == code and words in error.value.details(), error.value
    assert list(stub.ModelInfer(pb.ModelInferRequest(
        model_name="toy", inputs=_toy_inputs())).outputs[2].contents.fp32_contents) == [3.0, 14.0]


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_client_speaks_v2_over_both_transports(exported, server, transport):
    model, _, images = exported
    _, url, grpc_url = server
    client = OpenInferenceClient(url if transport == "rest" else grpc_url, transport=transport)
    assert client.ready("shapes") and client.ready("shapes", 1) and not client.ready("nope")
    assert client.metadata("shapes", 1)["versions"] == ["1", "2"]
    probabilities, scores, names = expected_top_k(model, images, 3)
    outputs = client.predict("shapes", images)
    assert outputs["classes"].tolist() == [[n.encode() for n in row] for row in names]
    np.testing.assert_allclose(outputs["probabilities"], probabilities, atol=1e-5)
    assert outputs["class_ids"].dtype == np.int32
    toy = client.predict("toy", {"x": np.float32([[1, 2], [3, 4]]), "k": np.int32([1, 2])},
                         outputs=["total", "raw_bytes"])
    assert sorted(toy) == ["raw_bytes", "total"]
    np.testing.assert_array_equal(toy["total"], np.float32([3, 14]))
    assert toy["raw_bytes"].tolist() == [b"\xff1", b"\xff2"]
    with pytest.raises(ServingRequestError, match="could not run"):
        client.predict("shapes", [b"not an image"])


def test_client_command_speaks_v2(exported, server, capsys):
    _, _, images = exported
    _, url, grpc_url = server
    assert main(["client", "predict", url, *images[:2], "--model", "shapes",
                 "--protocol", "v2"]) == 0
    by_rest = capsys.readouterr().out.splitlines()
    assert main(["client", "predict", grpc_url, *images[:2], "--model", "shapes",
                 "--protocol", "v2", "--transport", "grpc"]) == 0
    by_grpc = capsys.readouterr().out.splitlines()
    assert main(["client", "predict", url, *images[:2], "--model", "shapes"]) == 0
    by_tfserving = capsys.readouterr().out.splitlines()
    assert len(by_rest) == 2 and by_rest[0].startswith(f"{images[0]}: ")
    # Printed scores have 3 decimals: the three routes give the same lines.
    assert by_rest == by_grpc == by_tfserving
