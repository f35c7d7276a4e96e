"""`tfvision serve` in a real process: TF Serving's REST API and gRPC, real HTTP.

The server runs the exported SavedModel with plain `tf.saved_model.load`;
answers are compared with the Keras model called in this process.
"""

import base64
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image

from tests.serving.conftest import CLASSES
from tfvision.data.images import load_images_for_model
from tfvision.serving import Client, ServingRequestError


def http(url, body=None, method=None):
    """`(status, decoded JSON)` of one request; `body` bytes are sent as they are."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method or ("POST" if data else "GET"))
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def b64(path):
    return {"b64": base64.b64encode(open(path, "rb").read()).decode()}


def expected_top_k(model, images, k):
    batch, _ = load_images_for_model(images, model.image_size)
    probabilities = model.predict(batch, verbose=0)
    order = np.argsort(-probabilities, axis=-1, kind="stable")[:, :k]
    return probabilities, np.take_along_axis(probabilities, order, -1), [
        [CLASSES[i] for i in row] for row in order]


def test_row_and_columnar_b64_match_the_model_in_process(exported, server):
    model, _, images = exported
    _, url, _ = server
    probabilities, scores, names = expected_top_k(model, images, 3)

    status, row = http(f"{url}/v1/models/shapes:predict",
                       {"instances": [b64(p) for p in images]})
    assert status == 200, row
    assert [p["classes"] for p in row["predictions"]] == names
    np.testing.assert_allclose([p["scores"] for p in row["predictions"]], scores, atol=1e-5)
    np.testing.assert_allclose([p["probabilities"] for p in row["predictions"]], probabilities,
                               atol=1e-5)

    status, columnar = http(f"{url}/v1/models/shapes:predict", {
        "signature_name": "serving_default", "inputs": {"image_bytes": [b64(p) for p in images]}})
    assert status == 200, columnar
    assert columnar["outputs"]["classes"] == names
    np.testing.assert_allclose(columnar["outputs"]["scores"], scores, atol=1e-5)


def test_versions_highest_by_default_and_by_number(exported, server):
    model, _, images = exported
    _, url, _ = server
    _, scores, names = expected_top_k(model, images[:1], 2)
    status, reply = http(f"{url}/v1/models/shapes/versions/1:predict",
                         {"instances": [b64(images[0])]})
    assert status == 200, reply
    assert reply["predictions"][0]["classes"] == names[0]  # version 1 exports top-2
    _, latest = http(f"{url}/v1/models/shapes:predict", {"instances": [b64(images[0])]})
    assert len(latest["predictions"][0]["classes"]) == 3  # version 2: top-3


def test_tensor_signature_row_and_columnar(exported, server):
    model, _, images = exported
    _, url, _ = server
    pixels = np.asarray(Image.open(images[2]).convert("RGB"), np.float32)  # 60 x 90
    probabilities, _, _ = expected_top_k(model, [pixels, pixels[::-1]], 3)
    batch = [pixels.tolist(), pixels[::-1].tolist()]
    status, row = http(f"{url}/v1/models/shapes:predict",
                       {"signature_name": "predict_images", "instances": batch})
    assert status == 200, row
    np.testing.assert_allclose([p["probabilities"] for p in row["predictions"]], probabilities,
                               atol=1e-5)
    status, named = http(f"{url}/v1/models/shapes:predict",
                         {"signature_name": "predict_images", "inputs": {"images": batch}})
    assert status == 200, named
    np.testing.assert_allclose(named["outputs"]["probabilities"], probabilities, atol=1e-5)


def test_grpc_and_rest_clients_give_the_same_answers(exported, server):
    model, _, images = exported
    _, url, grpc_url = server
    rest, grpc = Client(url), Client(grpc_url, protocol="grpc")
    by_rest = rest.predict("shapes", images)
    by_grpc = grpc.predict("shapes", images)
    probabilities, scores, names = expected_top_k(model, images, 3)
    for outputs in (by_rest, by_grpc):
        assert sorted(outputs) == ["class_ids", "classes", "probabilities", "scores"]
        assert outputs["classes"].tolist() == [[n.encode() for n in row] for row in names]
        np.testing.assert_allclose(outputs["scores"], scores, atol=1e-5)
        assert outputs["class_ids"].dtype == np.int32
    np.testing.assert_array_equal(by_rest["probabilities"], by_grpc["probabilities"])
    pixels = np.asarray(Image.open(images[1]).convert("RGB"), np.float32)[None]
    tensor_rest = rest.predict("shapes", pixels, signature_name="predict_images", version=1)
    tensor_grpc = grpc.predict("shapes", {"images": pixels}, "predict_images", version=1)
    assert tensor_grpc["scores"].shape == (1, 2)
    np.testing.assert_allclose(tensor_rest["scores"], tensor_grpc["scores"], atol=1e-6)

    assert rest.status("shapes") == grpc.status("shapes")
    assert rest.metadata("shapes", version=1) == grpc.metadata("shapes", version=1)
    with pytest.raises(ServingRequestError, match="NOT_FOUND"):
        grpc.predict("shapes", images, version=7)
    with pytest.raises(ServingRequestError, match="INVALID_ARGUMENT.*Unknown image"):
        grpc.predict("shapes", [b"not an image"])


def test_status_and_metadata_answer_as_tf_serving_does(server):
    _, url, _ = server
    ok = {"error_code": "OK", "error_message": ""}
    assert http(f"{url}/v1/models/shapes") == (200, {"model_version_status": [
        {"version": "2", "state": "AVAILABLE", "status": ok},
        {"version": "1", "state": "AVAILABLE", "status": ok}]})
    assert http(f"{url}/v1/models/shapes/versions/1") == (200, {"model_version_status": [
        {"version": "1", "state": "AVAILABLE", "status": ok}]})
    status, metadata = http(f"{url}/v1/models/shapes/metadata")
    assert status == 200
    assert metadata["model_spec"] == {"name": "shapes", "version": "2", "signature_name": ""}
    signatures = metadata["metadata"]["signature_def"]["signature_def"]
    assert sorted(signatures) == ["predict_images", "serving_default"]
    serving = signatures["serving_default"]
    assert serving["method_name"] == "tensorflow/serving/predict"
    assert serving["inputs"]["image_bytes"]["dtype"] == "DT_STRING"
    assert serving["inputs"]["image_bytes"]["tensor_shape"] == {
        "dim": [{"size": "-1", "name": ""}], "unknown_rank": False}
    assert serving["outputs"]["classes"]["tensor_shape"]["dim"][1]["size"] == "3"
    assert signatures["predict_images"]["inputs"]["images"]["dtype"] == "DT_FLOAT"


def test_client_command_prints_classes_and_scores(exported, server):
    model, _, images = exported
    _, url, grpc_url = server
    _, scores, names = expected_top_k(model, images[:2], 3)
    tfvision = os.path.join(os.path.dirname(sys.executable), "tfvision")
    for args in ([url], [grpc_url, "--protocol", "grpc"]):
        result = subprocess.run([tfvision, "client", "predict", *args, *images[:2],
                                 "--model", "shapes"], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-2000:]
        lines = result.stdout.strip().splitlines()
        assert lines == [f"{path}: " + ", ".join(f"{n} {s:.3f}" for n, s in zip(row, srow))
                         for path, row, srow in zip(images[:2], names, scores)]


def test_any_signature_several_named_inputs_and_string_outputs(server):
    _, url, grpc_url = server
    status, row = http(f"{url}/v1/models/toy:predict",
                       {"instances": [{"x": [1.0, 2.0], "k": 3}, {"x": [0.5, 0.25], "k": 4}]})
    assert status == 200, row
    assert row["predictions"] == [
        {"total": 9.0, "name": "3", "raw_bytes": {"b64": base64.b64encode(b"\xff3").decode()}},
        {"total": 3.0, "name": "4", "raw_bytes": {"b64": base64.b64encode(b"\xff4").decode()}}]
    status, columnar = http(f"{url}/v1/models/toy:predict",
                            {"inputs": {"x": [[1.0, 2.0]], "k": [2]}})
    assert status == 200, columnar
    assert columnar["outputs"]["total"] == [6.0] and columnar["outputs"]["name"] == ["2"]
    inputs = {"x": np.array([[1.0, 2.0], [3.0, 4.0]], np.float32), "k": np.array([1, 2], np.int32)}
    for client in (Client(url), Client(grpc_url, protocol="grpc")):
        outputs = client.predict("toy", inputs)
        np.testing.assert_array_equal(outputs["total"], np.array([3.0, 14.0], np.float32))
        assert outputs["total"].dtype == np.float32
        assert outputs["name"].tolist() == [b"1", b"2"]
        assert outputs["raw_bytes"].tolist() == [b"\xff1", b"\xff2"]


MALFORMED = [
    # (what is wrong, path, body, expected status)
    ("malformed JSON", "/v1/models/shapes:predict", b'{"instances": [', 400),
    ("body not an object", "/v1/models/shapes:predict", b"[1, 2]", 400),
    ("neither instances nor inputs", "/v1/models/shapes:predict",
     {"signature_name": "serving_default"}, 400),
    ("both instances and inputs", "/v1/models/shapes:predict",
     {"instances": [{"b64": "AA=="}], "inputs": [{"b64": "AA=="}]}, 400),
    ("empty instances", "/v1/models/shapes:predict", {"instances": []}, 400),
    ("invalid base64", "/v1/models/shapes:predict", {"instances": [{"b64": "@@not base64!"}]}, 400),
    ("bytes that are not an image", "/v1/models/shapes:predict",
     {"instances": [{"b64": base64.b64encode(b"GIF89a but not really").decode()}]}, 400),
    ("wrong dtype (number for bytes)", "/v1/models/shapes:predict", {"instances": [1.5]}, 400),
    ("wrong dtype (strings for floats)", "/v1/models/shapes:predict",
     {"signature_name": "predict_images", "inputs": [[["a", "b", "c"]]]}, 400),
    ("wrong shape (rank)", "/v1/models/shapes:predict",
     {"signature_name": "predict_images", "inputs": [[1.0, 2.0, 3.0]]}, 400),
    ("wrong shape (channels)", "/v1/models/shapes:predict",
     {"signature_name": "predict_images", "inputs": [[[[1.0, 2.0]]]]}, 400),
    ("ragged lists", "/v1/models/shapes:predict",
     {"signature_name": "predict_images", "instances": [[[[1, 2, 3]]], [[[1, 2, 3], [4, 5, 6]]]]}, 400),
    ("wrong dtype (float for int32)", "/v1/models/toy:predict",
     {"inputs": {"x": [[1.0, 2.0]], "k": [2.5]}}, 400),
    ("an input missing", "/v1/models/toy:predict", {"instances": [{"x": [1.0, 2.0]}]}, 400),
    ("unnamed instances for two inputs", "/v1/models/toy:predict", {"instances": [[1.0, 2.0]]},
     400),
    ("one input of a wrong shape", "/v1/models/toy:predict",
     {"instances": [{"x": [1.0], "k": 1}]}, 400),
    ("unknown input name", "/v1/models/shapes:predict", {"inputs": {"pixels": [{"b64": "AA=="}]}},
     400),
    ("missing signature", "/v1/models/shapes:predict",
     {"signature_name": "classify", "instances": [{"b64": "AA=="}]}, 404),
    ("unknown model", "/v1/models/nope:predict", {"instances": [{"b64": "AA=="}]}, 404),
    ("unknown version", "/v1/models/shapes/versions/9:predict", {"instances": [{"b64": "AA=="}]},
     404),
    ("version not a number", "/v1/models/shapes/versions/latest:predict",
     {"instances": [{"b64": "AA=="}]}, 400),
    ("unknown model status", "/v1/models/nope", None, 404),
    ("unknown version metadata", "/v1/models/shapes/versions/5/metadata", None, 404),
    ("unknown route", "/v3/models/shapes/infer", {"inputs": []}, 404),
    ("oversized body", "/v1/models/shapes:predict",
     {"instances": [{"b64": base64.b64encode(b"x" * 300_000).decode()}]}, 413),
]


def test_malformed_requests_get_4xx_json_errors_and_the_server_keeps_serving(exported, server):
    _, _, images = exported
    process, url, _ = server
    for what, path, body, expected in MALFORMED:
        status, reply = http(url + path, body)
        assert status == expected, (what, status, reply)
        assert isinstance(reply.get("error"), str) and reply["error"], (what, reply)
    assert process.poll() is None
    status, reply = http(f"{url}/v1/models/shapes:predict", {"instances": [b64(images[0])]})
    assert status == 200 and len(reply["predictions"]) == 1


def test_oversized_chunked_body_without_length_is_refused(server):
    import http.client
    from urllib.parse import urlparse

    _, url, _ = server
    address = urlparse(url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    chunks = (b"x" * 65536 for _ in range(5))  # 320 KiB, over the 256 KiB limit, no length
    connection.request("POST", "/v1/models/shapes:predict", body=chunks, encode_chunked=True,
                       headers={"Content-Type": "application/json"})
    reply = connection.getresponse()
    assert reply.status == 413
    assert "exceeds the limit of 262144 bytes" in json.loads(reply.read())["error"]
    connection.close()


def test_error_messages_say_what_was_received(server):
    _, url, _ = server
    _, reply = http(f"{url}/v1/models/shapes:predict",
                    {"signature_name": "predict_images", "inputs": [[[[1.0, 2.0]]]]})
    assert reply["error"] == ("Input 'images' must have shape [-1, -1, -1, 3]. "
                              "Received: shape [1, 1, 1, 2]")
    _, reply = http(f"{url}/v1/models/shapes:predict",
                    {"instances": [{"b64": base64.b64encode(b"plain text").decode()}]})
    assert "Unknown image file format" in reply["error"]


def test_sigterm_stops_the_server_with_status_0(server):
    # Last in the module: it stops the module's server.
    process, _, _ = server
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    assert "Server stopped." in process.stdout.read()
