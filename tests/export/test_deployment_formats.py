"""LiteRT and ONNX exports of every task: builtin operators only, and the same predictions as Keras.

(`make test-slow`; the option checks that need no conversion are in `test_deployment_options.py`.)

The artifacts are run in a clean process that cannot import tfvision or Keras,
with the LiteRT interpreter (`ai_edge_litert`) and ONNX Runtime, on the same
preprocessed pixels the Keras models predict on here.
"""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from PIL import Image

from tests.testing import randomize_weights
from tfvision.cli.main import main
from tfvision.export.deployment import export_formats
from tfvision.export.inference import inference_graph
from tfvision.export.litert_export import litert_operators
from tfvision.export.onnx_export import unsupported_onnx_operators
from tfvision.export.predictor import Predictor
from tfvision.models.classifier import ImageClassifier
from tfvision.models.cotraining import CoTraining
from tfvision.models.moco import MoCo
from tfvision.models.moco.small_cnn import SmallCNN
from tfvision.models.ssd import ssdlite_mobilenet_v2

pytest.importorskip("ai_edge_litert", reason="the deploy extra: pip install 'tfvision[deploy]'")
pytest.importorskip("onnxruntime", reason="the deploy extra: pip install 'tfvision[deploy]'")

# Converting four models to two formats and the SavedModel takes about two minutes.
pytestmark = pytest.mark.slow

CLASSES = ["circle", "square", "star"]

CLEAN_PROCESS = textwrap.dedent(
    """
    import json, sys
    sys.modules["keras"] = None  # importing either now raises ImportError
    sys.modules["tfvision"] = None
    import numpy as np
    import onnxruntime
    from ai_edge_litert.interpreter import Interpreter

    jobs, out = json.loads(sys.argv[1]), sys.argv[2]
    results = {}
    for name, (folder, inputs_file) in jobs.items():
        feeds = dict(np.load(inputs_file))
        runner = Interpreter(model_path=f"{folder}/model.tflite").get_signature_runner()
        with open(f"{folder}/metadata.json") as handle:
            batch = json.load(handle)["files"]["litert"]["batch_size"]
        count = len(next(iter(feeds.values())))
        # A file of batch size 1 (the detector's) takes one image per call.
        calls = [runner(**{key: value[i:i + 1] for key, value in feeds.items()})
                 for i in range(count)] if batch == 1 else [runner(**feeds)]
        for key in calls[0]:
            results[f"{name}/litert/{key}"] = np.concatenate([call[key] for call in calls])
        session = onnxruntime.InferenceSession(f"{folder}/model.onnx",
                                               providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        for key, value in zip(names, session.run(names, feeds)):
            results[f"{name}/onnx/{key}"] = value
    np.savez(out, **results)
    print(json.dumps(sorted(results)))
    """
)


def _pixels(rng, count, size):
    return rng.uniform(0, 255, (count, size, size, 3)).astype("float32")


def _models():
    keras.utils.set_random_seed(0)
    classifier = ImageClassifier(CLASSES, image_size=32, alpha=0.35, backbone_weights=None,
                                 freeze_backbone=False, hidden_units=(8,))
    randomize_weights(classifier)
    detector = ssdlite_mobilenet_v2(CLASSES, alpha=0.35, image_size=64, backbone_weights="shapes",
                                    score_threshold=0.9, max_detections=100)
    # An untrained head scores every anchor alike (ties a runtime may order either
    # way); sharper logits spread the scores as a trained detector's are.
    for variable in detector.head.weights:
        if "pointwise/kernel" in variable.path:
            variable.assign(variable * 30.0)
    moco = MoCo(SmallCNN(input_shape=(32, 32, 3)), queue_size=16, hidden_dims=(16,),
                projection_dim=8)
    randomize_weights(moco.backbone)
    views = []
    for seed in (1, 2):
        keras.utils.set_random_seed(seed)
        view = ImageClassifier(CLASSES, image_size=32, alpha=0.35, backbone_weights=None,
                               freeze_backbone=False, hidden_units=(8,), name=f"view{seed}")
        randomize_weights(view)
        views.append(view)
    return {"classifier": classifier, "detector": detector, "embedding": moco,
            "cotraining": CoTraining(*views)}


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    root = tmp_path_factory.mktemp("deploy")
    rng = np.random.default_rng(0)
    found = {}
    for task, model in _models().items():
        checkpoint = str(root / f"{task}.keras")
        model.save(checkpoint)
        exports = str(root / "exports")
        if task in ("classifier", "detector"):  # through the command, SavedModel included
            assert main(["export", checkpoint, "--name", task, "--out", str(root / "saved_models"),
                         "--exports-out", exports,
                         "--format", "saved_model", "litert", "onnx"]) == 0
        else:
            export_formats(checkpoint, task, 1, ["litert", "onnx"], exports_root=exports)
        graph = inference_graph(model, target="onnx")
        inputs = {name: _pixels(rng, 3, size) for name, size in zip(graph.inputs, graph.image_sizes)}
        if task == "detector":  # Keras' own detections are the reference
            expected = {key: np.asarray(value) for key, value in
                        model.predict(inputs["images"], verbose=0).items()}
        else:
            expected = {key: np.asarray(value)
                        for key, value in graph.function(*inputs.values()).items()}
        inputs_file = str(root / f"{task}_inputs.npz")
        np.savez(inputs_file, **inputs)
        found[task] = {"model": model, "folder": os.path.join(exports, task, "1"),
                       "inputs_file": inputs_file, "inputs": inputs, "expected": expected,
                       "checkpoint": checkpoint}
    jobs = {task: (entry["folder"], entry["inputs_file"]) for task, entry in found.items()}
    out = str(root / "outputs.npz")
    result = subprocess.run([sys.executable, "-c", CLEAN_PROCESS, json.dumps(jobs), out],
                            capture_output=True, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-3000:]
    outputs = dict(np.load(out))
    return found, outputs, root


def _iou(a, b):
    inter = (max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
             * max(0.0, min(a[3], b[3]) - max(a[1], b[1])))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@pytest.mark.parametrize("runtime", ["litert", "onnx"])
def test_classification_tasks_match_keras_within_1e4(artifacts, runtime):
    found, outputs, _ = artifacts
    checks = {"classifier": ["probabilities", "scores"],
              "cotraining": ["probabilities", "view0_probabilities", "view1_probabilities"],
              "embedding": ["features", "embeddings"]}
    for task, keys in checks.items():
        expected = found[task]["expected"]
        for key in keys:
            np.testing.assert_allclose(outputs[f"{task}/{runtime}/{key}"], expected[key],
                                       atol=1e-4, err_msg=f"{task} {key}")
        if "class_ids" in expected:
            np.testing.assert_array_equal(outputs[f"{task}/{runtime}/class_ids"],
                                          expected["class_ids"])


@pytest.mark.parametrize("runtime", ["litert", "onnx"])
def test_detections_match_keras_one_to_one(artifacts, runtime):
    found, outputs, _ = artifacts
    expected = found["detector"]["expected"]
    got = {key: outputs[f"detector/{runtime}/{key}"]
           for key in ("boxes", "scores", "classes", "num_detections")}
    np.testing.assert_array_equal(got["num_detections"], expected["num_detections"])
    assert 0 < expected["num_detections"].min() and expected["num_detections"].max() < 100
    for i in range(len(expected["num_detections"])):
        count = int(expected["num_detections"][i])
        unmatched = list(range(count))
        for j in range(count):
            box, score, cls = (expected["boxes"][i, j], expected["scores"][i, j],
                               expected["classes"][i, j])
            candidates = [m for m in unmatched if got["classes"][i, m] == cls
                          and abs(got["scores"][i, m] - score) <= 1e-3
                          and _iou(got["boxes"][i, m], box) >= 0.99]
            assert candidates, f"image {i}: detection {j} ({cls}, {score:.4f}) has no match"
            unmatched.remove(candidates[0])
        assert (got["classes"][i, count:] == -1).all()


def test_artifacts_use_builtin_operators_only(artifacts):
    import onnx

    found, _, _ = artifacts
    for task, entry in found.items():
        with open(os.path.join(entry["folder"], "model.tflite"), "rb") as handle:
            operators = litert_operators(handle.read())
        from tensorflow.lite.python import schema_py_generated as schema

        builtins = {name for name in vars(schema.BuiltinOperator) if not name.startswith("_")}
        # The one custom code allowed is LiteRT's own detection post-processing,
        # which every LiteRT runtime's builtin resolver registers.
        allowed = builtins - {"CUSTOM", "DELEGATE"} | {"TFLite_Detection_PostProcess"}
        assert set(operators) <= allowed, (task, operators)
        assert not [op for op in operators if op.startswith("Flex")]
        model = onnx.load(os.path.join(entry["folder"], "model.onnx"))
        assert unsupported_onnx_operators(model) == [], task
    detector_ops = set(litert_operators(
        open(os.path.join(found["detector"]["folder"], "model.tflite"), "rb").read()))
    assert "TFLite_Detection_PostProcess" in detector_ops  # the NMS runs inside the file
    assert "WHILE" not in detector_ops
    onnx_ops = {node.op_type for node in onnx.load(
        os.path.join(found["detector"]["folder"], "model.onnx")).graph.node}
    assert "NonMaxSuppression" in onnx_ops and "Loop" not in onnx_ops


def test_batch_norm_is_folded_into_the_convolutions(artifacts):
    import onnx

    found, _, _ = artifacts
    folder = found["classifier"]["folder"]
    operators = litert_operators(open(os.path.join(folder, "model.tflite"), "rb").read())
    # MobileNetV2 has 52 batch norms; folded, the only arithmetic left outside the
    # convolutions is the input normalisation (at most a MUL and an ADD / SUB).
    assert operators.count("MUL") <= 1 and operators.count("ADD") <= 11, operators
    onnx_ops = [node.op_type for node in onnx.load(os.path.join(folder, "model.onnx")).graph.node]
    assert "BatchNormalization" not in onnx_ops


def test_metadata_and_labels_describe_the_files(artifacts):
    found, _, _ = artifacts
    for task, entry in found.items():
        with open(os.path.join(entry["folder"], "metadata.json")) as handle:
            metadata = json.load(handle)
        assert metadata["task"] == task
        assert set(metadata["files"]) == {"litert", "onnx"}
        assert metadata["files"]["litert"]["quantize"] == "none"
        assert metadata["tfvision_version"]
        if task == "embedding":
            assert metadata["class_names"] is None
            assert not os.path.exists(os.path.join(entry["folder"], "labels.txt"))
            continue
        with open(os.path.join(entry["folder"], "labels.txt")) as handle:
            assert handle.read().splitlines() == CLASSES == metadata["class_names"]
    assert [i["name"] for i in json.load(open(os.path.join(
        found["cotraining"]["folder"], "metadata.json")))["inputs"]] == ["view0", "view1"]


def test_predictor_gives_each_format_the_same_answer(artifacts, tmp_path):
    found, _, root = artifacts
    rng = np.random.default_rng(1)
    paths = []
    for i, shape in enumerate([(32, 32), (40, 56)]):
        path = tmp_path / f"image_{i}.png"
        Image.fromarray(rng.integers(0, 255, shape + (3,), dtype=np.uint8)).save(path)
        paths.append(str(path))
    folder = found["classifier"]["folder"]
    results = {}
    for artifact in (str(root / "saved_models" / "classifier" / "1"),
                     os.path.join(folder, "model.tflite"), os.path.join(folder, "model.onnx")):
        predictor = Predictor.open(artifact)
        assert predictor.task == "classifier"
        results[predictor.format] = predictor.predict(paths)["probabilities"]
    np.testing.assert_allclose(results["litert"], results["saved_model"], atol=1e-4)
    np.testing.assert_allclose(results["onnx"], results["saved_model"], atol=1e-4)


def test_predict_command_prints_classes_and_detections(artifacts, tmp_path, capsys):
    found, _, _ = artifacts
    image = tmp_path / "image.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 255, (64, 64, 3), np.uint8)).save(image)
    tflite = os.path.join(found["classifier"]["folder"], "model.tflite")
    assert main(["predict", tflite, str(image), "--top-k", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("(litert, classifier)")
    assert len(lines) == 4 and lines[2].split()[0] in CLASSES
    onnx_file = os.path.join(found["detector"]["folder"], "model.onnx")
    plot = tmp_path / "plot.png"
    assert main(["predict", onnx_file, str(image), "--score-threshold", "0",
                 "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "(onnx, detector)" in out and "detections with score >= 0.0" in out
    assert plot.stat().st_size > 0


def test_predict_refuses_another_tasks_artifact(artifacts, tmp_path, capsys):
    found, _, _ = artifacts
    tflite = os.path.join(found["embedding"]["folder"], "model.tflite")
    assert main(["predict", tflite, "x.png", "--task", "detector"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "is a embedding artifact, not a detector" in error


def test_int8_calibration_without_images_is_refused(artifacts, tmp_path, capsys):
    found, _, _ = artifacts
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["export", found["classifier"]["checkpoint"], "--name", "int8",
                 "--exports-out", str(tmp_path / "exports"), "--format", "litert",
                 "--quantize", "int8", "--calibration", str(empty)]) == 2
    assert "holds no images" in capsys.readouterr().err


def test_int8_litert_keeps_float_pixels_in_and_probabilities_out(artifacts, tmp_path):
    found, _, _ = artifacts
    calibration = tmp_path / "calibration" / "circle"
    calibration.mkdir(parents=True)
    rng = np.random.default_rng(3)
    for i in range(8):
        Image.fromarray(rng.integers(0, 255, (36, 36, 3), np.uint8)).save(calibration / f"{i}.png")
    written = export_formats(found["classifier"]["checkpoint"], "int8", 1, ["litert"],
                             exports_root=str(tmp_path / "exports"), quantize="int8",
                             calibration=str(tmp_path / "calibration"))
    operators = litert_operators(open(written["litert"], "rb").read())
    assert "QUANTIZE" in operators and "DEQUANTIZE" in operators
    predictor = Predictor.open(written["litert"])
    probabilities = predictor.predict(list(found["classifier"]["inputs"]["images"]))["probabilities"]
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=0.02)
    metadata = json.load(open(os.path.join(os.path.dirname(written["litert"]), "metadata.json")))
    assert metadata["files"]["litert"]["quantize"] == "int8"
    assert metadata["calibration"]["images"] == 8


@pytest.mark.parametrize("kind", ["litert", "onnx"])
def test_float16_keeps_probabilities_and_top_ids(artifacts, tmp_path, kind):
    found, _, _ = artifacts
    entry = found["classifier"]
    written = export_formats(entry["checkpoint"], "half", 1, [kind],
                             exports_root=str(tmp_path / "exports"), quantize="float16")
    with open(written[kind], "rb") as handle:
        content = handle.read()
    if kind == "litert":  # float16 weights, dequantized once at load
        assert "DEQUANTIZE" in litert_operators(content)
    else:  # float16 inside, float32 pixels in and probabilities out
        import onnx

        model = onnx.load_from_string(content)
        assert onnx.TensorProto.FLOAT16 in {init.data_type for init in model.graph.initializer}
        assert not unsupported_onnx_operators(model)
    outputs = Predictor.open(written[kind]).run_pixels(entry["inputs"]["images"])
    np.testing.assert_allclose(outputs["probabilities"], entry["expected"]["probabilities"],
                               atol=5e-3)
    top2 = np.sort(entry["expected"]["probabilities"], axis=-1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 0.01  # no near-tie float16 rounding could flip
    np.testing.assert_array_equal(outputs["class_ids"][clear, 0],
                                  entry["expected"]["class_ids"][clear, 0])
    assert outputs["probabilities"].dtype == np.float32
