"""Export, then load in a clean process that never imports tfvision or keras."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from tfvision.data.images import load_images_for_model
from tfvision.export.classifier import export_classifier
from tfvision.models.classifier import ImageClassifier

CLEAN_PROCESS = textwrap.dedent(
    """
    import json, sys
    # Importing either of these now raises ImportError: the SavedModel must not need them.
    sys.modules["keras"] = None
    sys.modules["tfvision"] = None
    import numpy as np
    import tensorflow as tf

    path, *images = sys.argv[1:]
    loaded = tf.saved_model.load(path)
    serve = loaded.signatures["serving_default"]
    encoded = tf.constant([open(p, "rb").read() for p in images])
    out = serve(image_bytes=encoded)
    pixels = np.stack([
        tf.io.decode_image(tf.io.read_file(p), channels=3).numpy() for p in images
    ]).astype("float32")
    from_tensors = loaded.signatures["predict_images"](images=tf.constant(pixels))
    print(json.dumps({
        "signatures": sorted(loaded.signatures.keys()),
        "probabilities": out["probabilities"].numpy().tolist(),
        "tensor_probabilities": from_tensors["probabilities"].numpy().tolist(),
        "scores": out["scores"].numpy().tolist(),
        "classes": [[c.decode() for c in row] for row in out["classes"].numpy()],
        "keras_imported": sys.modules.get("keras") is not None,
    }))
    """
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    model = ImageClassifier(["circle", "square", "star"], image_size=40, alpha=0.35,
                            backbone_weights=None, freeze_backbone=False, hidden_units=(8,))
    # Move batch-norm statistics off their initial values so they must be exported too.
    rng = np.random.default_rng(0)
    model.set_weights([w + rng.normal(0, 0.05, w.shape).astype(w.dtype) if w.ndim == 1 else w
                       for w in model.get_weights()])
    images = []
    for i, size in enumerate([(40, 40), (64, 50), (90, 120)]):
        path = root / f"image_{i}.png"
        Image.fromarray(rng.integers(0, 255, size + (3,), dtype=np.uint8)).save(path)
        images.append(str(path))
    path = export_classifier(model, str(root / "saved_models"), "shapes", 1, top_k=2)
    return model, path, images


def test_clean_process_matches_keras_probabilities(exported):
    model, path, images = exported
    assert path.endswith(os.path.join("saved_models", "shapes", "1"))
    result = subprocess.run([sys.executable, "-c", CLEAN_PROCESS, path, *images[:1]],
                            capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert not out["keras_imported"]
    assert {"serving_default", "predict_images"} <= set(out["signatures"])
    batch, _ = load_images_for_model(images[:1], model.image_size)
    expected = model.predict(batch, verbose=0)
    np.testing.assert_allclose(out["probabilities"], expected, atol=1e-5)
    np.testing.assert_allclose(out["tensor_probabilities"], expected, atol=1e-5)
    order = np.argsort(-expected[0])[:2]
    assert out["classes"][0] == [model.class_names[i] for i in order]
    np.testing.assert_allclose(out["scores"][0], expected[0][order], atol=1e-5)


def test_bytes_signature_resizes_any_image_like_predict_top_k(exported):
    import tensorflow as tf

    model, path, images = exported
    loaded = tf.saved_model.load(path)
    out = loaded.signatures["serving_default"](
        image_bytes=tf.constant([open(p, "rb").read() for p in images]))
    scores, names = model.predict_top_k(images, k=2)
    np.testing.assert_allclose(out["scores"].numpy(), scores, atol=1e-5)
    assert [[c.decode() for c in row] for row in out["classes"].numpy()] == names


def test_version_is_not_overwritten(exported, tmp_path):
    model, path, _ = exported
    root = os.path.dirname(os.path.dirname(path))
    with pytest.raises(FileExistsError, match="immutable"):
        export_classifier(model, root, "shapes", 1)
    with pytest.raises(ValueError, match="Received: version=0"):
        export_classifier(model, root, "shapes", 0)


def test_tensor_signature_resizes_a_batch_like_predict_top_k(exported):
    import tensorflow as tf

    model, path, images = exported
    pixels = np.asarray(Image.open(images[2]).convert("RGB"), dtype=np.float32)  # 90 x 120
    batch = np.stack([pixels, pixels[::-1]])
    out = tf.saved_model.load(path).signatures["predict_images"](images=tf.constant(batch))
    scores, names = model.predict_top_k(batch, k=2)
    np.testing.assert_allclose(out["scores"].numpy(), scores, atol=1e-5)
    assert [[c.decode() for c in row] for row in out["classes"].numpy()] == names


def test_the_export_takes_the_models_evaluation_crop(tmp_path):
    import tensorflow as tf

    # Pretrained features and a random head: the scores depend on what the model sees.
    model = ImageClassifier(["circle", "square", "star"], image_size=32, alpha=0.35,
                            backbone_weights="shapes", hidden_units=(), crop_fraction=1.0)
    rng = np.random.default_rng(2)
    for variable in model.trainable_weights:
        if "kernel" in variable.path:
            variable.assign(rng.normal(0, 1.0, variable.shape).astype("float32"))
    path = export_classifier(model, str(tmp_path), "whole", 1, top_k=3, warmup=False)
    pixels = rng.uniform(0, 255, (1, 48, 64, 3)).astype("float32")
    out = tf.saved_model.load(path).signatures["predict_images"](images=tf.constant(pixels))
    whole, _ = load_images_for_model(pixels, 32, crop_fraction=1.0)
    centre, _ = load_images_for_model(pixels, 32)
    np.testing.assert_allclose(out["probabilities"], model.predict(whole, verbose=0), atol=1e-5)
    assert not np.allclose(out["probabilities"], model.predict(centre, verbose=0), atol=1e-3)


def _large_constants(saved_model_path, min_elements=1000):
    """The number of constants of >= `min_elements` values in the SavedModel's graph."""
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(saved_model_path, "saved_model.pb"), "rb") as file:
        proto.ParseFromString(file.read())
    graph = proto.meta_graphs[0].graph_def
    nodes = [*graph.node, *(node for f in graph.library.function for node in f.node_def)]
    return sum(1 for node in nodes if node.op == "Const"
               and np.prod([d.size for d in node.attr["value"].tensor.tensor_shape.dim])
               >= min_elements)


def test_weights_are_stored_once_as_constants_or_as_variables_when_too_large(exported, tmp_path,
                                                                              monkeypatch):
    import tensorflow as tf

    from tfvision.export import serving_signatures

    model, path, images = exported
    kernels = sum(1 for w in model.weights if np.prod(w.shape) >= 1000)
    loaded = tf.saved_model.load(path)
    for name in ("serving_default", "predict_images"):
        assert not loaded.signatures[name].variables  # constants of the graph, read by both
    assert _large_constants(path) == kernels  # signatures: each stored once
    monkeypatch.setattr(serving_signatures, "MAX_FROZEN_WEIGHT_BYTES", 0)
    variables = export_classifier(model, str(tmp_path), "variables", 1, top_k=2, warmup=False)
    with_variables = tf.saved_model.load(variables)
    assert len(with_variables.signatures["predict_images"].variables) >= kernels
    assert _large_constants(variables) == 0
    pixels = np.asarray(Image.open(images[2]).convert("RGB"), dtype=np.float32)[None]
    outputs = [saved.signatures["predict_images"](images=tf.constant(pixels))["probabilities"]
               for saved in (loaded, with_variables)]
    np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-6)
