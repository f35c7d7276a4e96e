"""`tfvision export --format ...`: one checkpoint to a SavedModel, LiteRT and ONNX at once.

Layout:
- `saved_models/NAME/N/`: the TF Serving SavedModel, unchanged (`export_checkpoint`).
- `exports/NAME/N/model.tflite`, `exports/NAME/N/model.onnx`, with
  `labels.txt` (one class name per line, in class-id order) and
  `metadata.json` (task, inputs, preprocessing, outputs, class names, each
  file's quantization and operators, the tfvision version).
"""

import datetime
import json
import os

import tfvision
from tfvision.data.category_names import display_names_for
from tfvision.export.calibration import DEFAULT_CALIBRATION_IMAGES, calibration_inputs
from tfvision.export.checkpoint import export_checkpoint
from tfvision.export.inference import inference_graph
from tfvision.export.layout import version_dir
from tfvision.export.predictor import METADATA

FORMATS = ("saved_model", "litert", "onnx")
QUANTIZATIONS = ("none", "float16", "dynamic", "int8")
FILES = {"litert": "model.tflite", "onnx": "model.onnx"}


def check_export_options(formats, quantize="none", calibration=None):
    """Refuses unknown formats, a quantization without a deployment format, int8 without data."""
    formats = list(dict.fromkeys(formats))
    unknown = [name for name in formats if name not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"Unknown export format {', '.join(map(repr, unknown)) or 'none'}; "
                         f"use one or more of {', '.join(FORMATS)}.")
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"Unknown --quantize {quantize!r}; use one of {', '.join(QUANTIZATIONS)}.")
    if quantize != "none" and not set(formats) & set(FILES):
        raise ValueError("--quantize applies to --format litert and onnx; the SavedModel "
                         "stays float32.")
    if quantize == "int8" and not calibration:
        raise ValueError("--quantize int8 needs --calibration DATA: images like those the "
                         "model will see (for example the training data).")
    return formats


def export_formats(checkpoint, name, version=1, formats=("saved_model",),
                   saved_models_root="saved_models", exports_root="exports", quantize="none",
                   calibration=None, calibration_images=DEFAULT_CALIBRATION_IMAGES, top_k=5,
                   category_names=None):
    """Exports `checkpoint` in every format of `formats`.

    Args:
        checkpoint: str. A `.keras` checkpoint of a tfvision model.
        name: str. Model name.
        version: int >= 1.
        formats: iterable of `"saved_model"`, `"litert"`, `"onnx"`.
        saved_models_root: str. Root of the SavedModels. Defaults to `saved_models`.
        exports_root: str. Root of the LiteRT / ONNX files. Defaults to `exports`.
        quantize: `"none"`, `"float16"`, `"dynamic"` or `"int8"`, for LiteRT
            and ONNX. Defaults to `"none"`.
        calibration: str. Data spec or image folder int8 calibrates on.
        calibration_images: int. Images read from `calibration`. Defaults to 100.
        top_k: int. Classes returned per image by a classifier. Defaults to `5`.
        category_names: optional JSON file of display names.

    Returns:
        dict of format to the path written.
    """
    formats = check_export_options(formats, quantize, calibration)
    written = {}
    if "saved_model" in formats:
        written["saved_model"] = export_checkpoint(checkpoint, saved_models_root, name, version,
                                                   top_k=top_k, category_names=category_names)
    deploy = [kind for kind in formats if kind in FILES]
    if not deploy:
        return written
    from tfvision.training.checkpoints import load_checkpoint

    model, _ = load_checkpoint(checkpoint, compile=False)
    graphs = {kind: inference_graph(model, top_k=top_k, source=checkpoint, target=kind,
                                    quantize=quantize)
              for kind in deploy}
    graph = graphs[deploy[0]]
    if category_names and graph.class_names:
        names = display_names_for(graph.class_names, category_names)
        for each in graphs.values():
            each.class_names = names
    samples = (calibration_inputs(graph, calibration, calibration_images)
               if quantize == "int8" else None)
    folder = version_dir(exports_root, name, version)
    os.makedirs(folder, exist_ok=True)
    files = {}
    for kind in deploy:
        path = os.path.join(folder, FILES[kind])
        graph = graphs[kind]
        if kind == "litert":
            from tfvision.export.litert_export import write_litert

            operators = write_litert(graph, path, quantize, samples)
        else:
            from tfvision.export.onnx_export import write_onnx

            operators = [op for _, op in write_onnx(graph, path, quantize, samples)]
        # `batch_size` 1: the file runs one image per call (LiteRT's detection
        # post-processing); `None`: any batch.
        files[kind] = {"file": FILES[kind], "quantize": quantize, "batch_size": graph.batch_size,
                       "operators": sorted(set(operators))}
        written[kind] = path
    write_export_metadata(folder, graph, files, checkpoint,
                          calibration if quantize == "int8" else None, len(samples or ()))
    return written


def write_export_metadata(folder, graph, files, checkpoint, calibration=None, calibrated=0):
    """Writes `labels.txt` (when the task has classes) and `metadata.json` into `folder`."""
    if graph.class_names:
        with open(os.path.join(folder, "labels.txt"), "w") as handle:
            handle.write("".join(f"{name}\n" for name in graph.class_names))
    metadata = {
        **graph.metadata(),
        "files": files,
        "checkpoint": os.path.abspath(checkpoint),
        "tfvision_version": tfvision.__version__,
        "exported": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    if calibration:
        metadata["calibration"] = {"data": calibration, "images": calibrated}
    with open(os.path.join(folder, METADATA), "w") as handle:
        json.dump(metadata, handle, indent=1)
    return metadata
