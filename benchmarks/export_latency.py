"""Batch-1 latency of every export format on this CPU, against keras.applications' SavedModel.

Two models:
- the classifier: tfvision's `ImageClassifier` (MobileNetV2 alpha 1.0, 224 px,
  random weights: latency does not depend on their values), exported as a
  SavedModel (its `predict_images` signature), LiteRT float32, LiteRT int8
  (calibrated on 32 shapes images), ONNX Runtime float32 and int8. The peer
  is `keras.applications.MobileNetV2` (alpha 1.0, 224 px, softmax top)
  exported with `model.export` and called through its `serve` endpoint. The
  peer, our SavedModel and our SavedModel with its weights left as variables
  (as `model.export` writes them; ours holds them as graph constants) are
  measured in `--rounds` alternating rounds, and their figures are the
  medians over the rounds, so that a slow minute of a shared machine does
  not fall on one of them only.
- the demo detector (SSDLite-MobileNetV2 alpha 0.35, 128 px, NMS inside):
  `runs/ssdlite_shapes/best.keras` when `make demo` has run, else the same
  architecture with the shapes backbone and a random head. Its LiteRT files
  end in LiteRT's own `TFLite_Detection_PostProcess`; the float32 one is also
  measured with tfvision's NMS converted to LiteRT instead (the choice made
  in `docs/deploy.md`); its ONNX file ends in ONNX's `NonMaxSuppression`,
  also measured with tfvision's NMS instead.

Every figure is the median and the 99th percentile of `--calls` (>= 200)
batch-1 calls after `--warmup` calls, each artifact in turn in one process;
TensorFlow and ONNX Runtime use their default threads (2 cores here), the
LiteRT interpreter `--litert-threads` (default 2). Run:

    .venv/bin/python benchmarks/export_latency.py
"""

import argparse
import dataclasses
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import onnx  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfvision.export.calibration import calibration_inputs  # noqa: E402
from tfvision.export.classifier import export_classifier  # noqa: E402
from tfvision.export import serving_signatures  # noqa: E402
from tfvision.export.detector import export_detector  # noqa: E402
from tfvision.export.inference import inference_graph  # noqa: E402
from tfvision.export.litert_export import litert_model  # noqa: E402
from tfvision.export.onnx_export import onnx_model, write_onnx  # noqa: E402
from tfvision.models.classifier import ImageClassifier  # noqa: E402
from tfvision.models.ssd import ssdlite_mobilenet_v2  # noqa: E402
from tfvision.training.checkpoints import load_checkpoint  # noqa: E402

DEMO_CHECKPOINT = "runs/ssdlite_shapes/best.keras"


def latency(call, warmup, calls):
    """`(median, p99)` in milliseconds of `call()`."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), float(np.percentile(times, 99))


def litert_call(content, image, threads):
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_content=content, num_threads=threads).get_signature_runner()
    return lambda: runner(images=image)


def onnx_call(model, image):
    import onnxruntime

    session = onnxruntime.InferenceSession(model.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    return lambda: session.run(None, {"images": image})


def saved_model_call(path, image):
    loaded = tf.saved_model.load(path)
    signature = loaded.signatures["predict_images"]
    tensor = tf.constant(image)
    return lambda: (loaded, signature(images=tensor))


def tfvision_nms_graph(graph, trace_mode):
    """The detector's `graph` with tfvision's NMS (traced in `trace_mode`) in place of the
    runtime's operator: tf2onnx converts no `cond`, hence `"branch_free"` for ONNX."""
    model, size = graph.model, graph.image_sizes[0]
    nms = model.non_max_suppression

    @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32,
                                                name="images")])
    def infer(images):
        nms.trace_mode = trace_mode
        try:
            detections = model.postprocess(model(images, training=False))
        finally:
            nms.trace_mode = "default"
        return {key: tf.cast(value, tf.int32 if key in ("classes", "num_detections")
                             else tf.float32) for key, value in detections.items()}

    return dataclasses.replace(graph, function=infer, batch_size=None)


def measure(model, export, work, name, image, args, calibration, saved_model=True):
    """Latencies of `model` in every format: `{format: (median, p99)}`. It exports the
    SavedModel to `work/name/1`; `saved_model=False` leaves its timing to the caller."""
    results = {}
    path = export(model, work, name, 1, warmup=False)
    if saved_model:
        results["SavedModel"] = latency(saved_model_call(path, image), args.warmup, args.calls)
    graph = inference_graph(model)
    results["LiteRT fp32"] = latency(litert_call(litert_model(graph), image, args.litert_threads),
                                     args.warmup, args.calls)
    onnx_graph = inference_graph(model, target="onnx")
    if graph.task == "detector":  # the files end in the runtimes' NMS operators
        # What they would cost with tfvision's own NMS converted instead.
        results["LiteRT fp32, tfvision NMS"] = latency(
            litert_call(litert_model(tfvision_nms_graph(graph, "default")), image,
                        args.litert_threads),
            args.warmup, args.calls)
        results["ONNX Runtime fp32, tfvision NMS"] = latency(
            onnx_call(onnx_model(tfvision_nms_graph(graph, "branch_free")), image),
            args.warmup, args.calls)
    samples = calibration_inputs(graph, calibration, 32)
    int8_graph = inference_graph(model, quantize="int8")
    results["LiteRT int8"] = latency(
        litert_call(litert_model(int8_graph, "int8", samples), image, args.litert_threads),
        args.warmup, args.calls)
    results["ONNX Runtime fp32"] = latency(onnx_call(onnx_model(onnx_graph), image),
                                           args.warmup, args.calls)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "int8.onnx")
        write_onnx(inference_graph(model, target="onnx", quantize="int8"), path, "int8", samples)
        results["ONNX Runtime int8"] = latency(onnx_call(onnx.load(path), image),
                                               args.warmup, args.calls)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--litert-threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5,
                        help="alternating rounds of the SavedModel comparison (default 5)")
    parser.add_argument("--calibration", default="shapes",
                        help="int8 calibration data (default: the built-in shapes)")
    args = parser.parse_args()
    if args.calls < 200:
        parser.error("--calls must be at least 200 for a p99")
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        image = rng.uniform(0, 255, (1, 224, 224, 3)).astype("float32")
        peer = keras.applications.MobileNetV2(alpha=1.0, weights=None, input_shape=(224, 224, 3))
        peer_path = os.path.join(work, "keras_applications")
        peer.export(peer_path, verbose=False)
        loaded = tf.saved_model.load(peer_path)  # kept: `serve` reads its variables
        tensor = tf.constant(image)
        classifier = ImageClassifier([f"class_{i}" for i in range(1000)], image_size=224,
                                     alpha=1.0, backbone_weights=None, freeze_backbone=False)
        # Its SavedModel is timed below, in rounds alternating with the peer's.
        ours = measure(classifier, export_classifier, work, "classifier", image, args,
                       args.calibration, saved_model=False)
        limit = serving_signatures.MAX_FROZEN_WEIGHT_BYTES
        serving_signatures.MAX_FROZEN_WEIGHT_BYTES = -1  # as if too large to freeze
        try:
            variables_path = export_classifier(classifier, work, "classifier_variables", 1,
                                               warmup=False)
        finally:
            serving_signatures.MAX_FROZEN_WEIGHT_BYTES = limit
        calls = {"peer": lambda: loaded.serve(tensor),
                 "SavedModel": saved_model_call(os.path.join(work, "classifier", "1"), image),
                 "SavedModel, weights as variables": saved_model_call(variables_path, image)}
        rounds = {kind: [] for kind in calls}
        for _ in range(args.rounds):
            for kind, call in calls.items():
                rounds[kind].append(latency(call, args.warmup, args.calls))
        alternating = {kind: tuple(statistics.median(figures) for figures in zip(*measured))
                       for kind, measured in rounds.items()}
        peer_ms = alternating.pop("peer")
        ours = {**alternating, **ours}
        for kind, (median, p99) in ours.items():
            rows.append(("classifier", kind, median, p99))
        if os.path.isfile(DEMO_CHECKPOINT):
            detector, _ = load_checkpoint(DEMO_CHECKPOINT, compile=False)
            source = DEMO_CHECKPOINT
        else:
            detector = ssdlite_mobilenet_v2(
                ["circle", "square", "triangle", "star", "cross", "ring"], alpha=0.35,
                image_size=128, backbone_weights="shapes")
            source = "random head (run make demo for the trained detector)"
        small = rng.uniform(0, 255, (1, 128, 128, 3)).astype("float32")
        detections = measure(detector, export_detector, work, "detector", small, args,
                             args.calibration)
    print(f"batch-1 latency, median / p99 over {args.calls} calls after {args.warmup}, "
          f"{os.cpu_count()} cores; detector: {source}")
    print(f"{'model':<11} {'format':<32} {'median ms':>10} {'p99 ms':>8}")
    print(f"{'classifier':<11} {'keras.applications SavedModel':<32} {peer_ms[0]:>10.2f} "
          f"{peer_ms[1]:>8.2f}")
    for model, kind, median, p99 in rows + [("detector", k, m, p)
                                            for k, (m, p) in detections.items()]:
        print(f"{model:<11} {kind:<32} {median:>10.2f} {p99:>8.2f}")
    saved, detector_saved = ours["SavedModel"][0], detections["SavedModel"][0]
    for model, figures, base in (("classifier", ours, saved), ("detector", detections,
                                                                  detector_saved)):
        print(f"{model}: " + ", ".join(f"{kind} {base / median:.2f}x"
                                       for kind, (median, _) in figures.items()
                                       if kind != "SavedModel") + " its SavedModel")
    variables = ours["SavedModel, weights as variables"][0]
    print(f"peer keras.applications MobileNetV2 SavedModel {peer_ms[0]:.2f} ms, tfvision "
          f"SavedModel {saved:.2f} ms: {peer_ms[0] / saved:.2f}x (weights as variables "
          f"{variables:.2f} ms: {peer_ms[0] / variables:.2f}x; medians of {args.rounds} "
          "alternating rounds)")


if __name__ == "__main__":
    main()
