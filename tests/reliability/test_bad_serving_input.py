"""The shared bad-image corpus through `tfvision serve` over real HTTP and gRPC on loopback.

One server process with the default 64 MiB body limit (so the 10000 x 10000
JPEG reaches the model) serves an exported classifier (the serving tests'
model, one version) and `pixels`, a SavedModel that returns what the exports' request decoder
(`decode_image_batch`) makes of the bytes. Odd but good images must decode to
the pixels, and get the predictions, of their clean reference (PIL's upright
RGB pixels sent as a PNG); broken ones a 400 JSON error naming the instance,
after which the server still answers. (The test classifier's outputs hardly
depend on these smooth test images, so the pixels carry the comparison.)
"""

import base64
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.bad_inputs import reference_pixels, write_image_corpus
from tests.serving.conftest import CLASSES, free_port
from tests.testing import randomize_weights
from tests.serving.test_server import http
from tfvision.data.transforms import resize_short_side_and_center_crop
from tfvision.export.classifier import export_classifier
from tfvision.export.serving_signatures import decode_image_batch
from tfvision.models.classifier import ImageClassifier
from tfvision.serving import Client, ServingRequestError

SIZE = 32
TFVISION = "import sys; from tfvision.cli.main import main; sys.exit(main(sys.argv[1:]))"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """`(entries, {name: file bytes}, {name: reference PNG bytes})`."""
    folder = str(tmp_path_factory.mktemp("serving_corpus"))
    entries = write_image_corpus(folder)
    files, references = {}, {}
    for entry in entries:
        with open(os.path.join(folder, entry.name), "rb") as handle:
            files[entry.name] = handle.read()
        if entry.name == "huge.jpg":  # one colour: its reference is a small image of it
            pixels = np.full((64, 64, 3), tf.io.decode_jpeg(files[entry.name])[0, 0].numpy())
            references[entry.name] = tf.io.encode_png(pixels).numpy()
        elif entry.decodes:
            references[entry.name] = tf.io.encode_png(reference_pixels(folder, entry)).numpy()
    return entries, files, references


class DecodedPixels(tf.Module):
    """What every tfvision export's `serving_default` feeds its model: decoded 32 x 32 RGB."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def serve(self, image_bytes):
        return {"pixels": decode_image_batch(image_bytes, SIZE)}  # [N, 32, 32, 3]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`tfvision serve` with its default request limit: `(process, rest_url, grpc_url)`."""
    root = str(tmp_path_factory.mktemp("bad_serving") / "saved_models")
    model = ImageClassifier(CLASSES, image_size=SIZE, alpha=0.35, backbone_weights=None,
                            freeze_backbone=False, hidden_units=(8,))
    randomize_weights(model, seed=3)
    export_classifier(model, root, "shapes", 1, top_k=3, warmup=False)
    probe = DecodedPixels()
    tf.saved_model.save(probe, os.path.join(root, "pixels", "1"),
                        signatures={"serving_default": probe.serve})
    port, grpc_port = free_port(), free_port()
    command = [sys.executable, "-c", TFVISION, "serve", root,
               "--port", str(port), "--grpc-port", str(grpc_port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    try:
        Client(f"http://127.0.0.1:{port}").wait_until_available("shapes", process=process)
    except (RuntimeError, TimeoutError):
        process.kill()
        raise AssertionError(process.communicate()[0][-3000:])
    yield process, f"http://127.0.0.1:{port}", f"127.0.0.1:{grpc_port}"
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def b64(contents):
    return {"b64": base64.b64encode(contents).decode()}


def predict(url, model, images, output):
    status, reply = http(f"{url}/v1/models/{model}:predict",
                         {"instances": [b64(image) for image in images]})
    assert status == 200, reply
    return np.array([row[output] if isinstance(row, dict) else row
                     for row in reply["predictions"]], np.float32)


def test_odd_images_decode_to_the_pixels_of_their_clean_reference(corpus, server):
    entries, files, references = corpus
    _, url, _ = server
    good = [e.name for e in entries if e.decodes]
    odd = predict(url, "pixels", [files[name] for name in good], "pixels")  # one batch
    clean = predict(url, "pixels", [references[name] for name in good], "pixels")
    assert odd.shape == (len(good), SIZE, SIZE, 3)
    in_process = decode_image_batch(tf.constant([references[name] for name in good]), SIZE)
    np.testing.assert_allclose(clean, in_process.numpy(), atol=1e-3)
    for name, pixels, expected in zip(good, odd, clean):
        assert np.abs(pixels - expected).mean() < 2.0, name
    # The EXIF-rotated photo, decoded as stored (sideways), would be far outside that tolerance.
    stored = tf.io.decode_jpeg(files["exif_rotated.jpg"], channels=3)
    sideways = resize_short_side_and_center_crop(stored, SIZE).numpy()
    assert np.abs(odd[good.index("exif_rotated.jpg")] - sideways).mean() > 10.0


def test_odd_images_get_the_predictions_of_their_clean_reference(corpus, server):
    entries, files, references = corpus
    _, url, grpc_url = server
    good = [e.name for e in entries if e.decodes]
    odd = predict(url, "shapes", [files[name] for name in good], "probabilities")
    clean = predict(url, "shapes", [references[name] for name in good], "probabilities")
    assert odd.shape == (len(good), 3)
    np.testing.assert_allclose(odd, clean, atol=1e-3)
    small = [name for name in good if name != "huge.jpg"]
    by_grpc = Client(grpc_url, protocol="grpc").predict(
        "shapes", [files[name] for name in small])["probabilities"]
    np.testing.assert_allclose(by_grpc, odd[[good.index(n) for n in small]], atol=1e-5)


def test_broken_images_get_a_400_naming_the_instance_and_the_server_goes_on(corpus, server):
    entries, files, references = corpus
    process, url, grpc_url = server
    good = references["rgba.png"]
    for entry in (e for e in entries if not e.decodes):
        status, reply = http(f"{url}/v1/models/shapes:predict",
                             {"instances": [b64(good), b64(good), b64(files[entry.name])]})
        assert status == 400, (entry.name, reply)
        assert "instance 2 of 3" in reply["error"], (entry.name, reply)
        with pytest.raises(ServingRequestError, match="INVALID_ARGUMENT.*instance 0 of 1"):
            Client(grpc_url, protocol="grpc").predict("shapes", [files[entry.name]])
    assert process.poll() is None
    np.testing.assert_allclose(predict(url, "pixels", [files["rgba.png"]], "pixels"),
                               predict(url, "pixels", [good], "pixels"), atol=1e-3)
