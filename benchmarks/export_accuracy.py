"""What each export format and quantization costs in accuracy, on trained models.

- The classifier of `make quality` (from scratch on the clean digits,
  `runs/quality/runs/classifier_clean/best.keras`): test top-1 of Keras, and
  of LiteRT and ONNX Runtime in float32 and int8 (calibrated on 100 training
  images), each through `tfvision.export.Predictor` on the same images.
- The detector of `make demo` (`runs/ssdlite_shapes/best.keras`): VOC07
  mAP@0.5 and COCO AP on the built-in shapes' test split, the same way.

Run after `make quality` (or its classifier row) and `make demo`:

    .venv/bin/python benchmarks/export_accuracy.py
"""

import argparse
import dataclasses
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from tfvision.data.classification.augment_presets import augmentation_preset  # noqa: E402
from tfvision.data.classification.sources import classification_data  # noqa: E402
from tfvision.data.detection.sources import detection_data  # noqa: E402
from tfvision.export.deployment import export_formats  # noqa: E402
from tfvision.export.predictor import Predictor  # noqa: E402
from tfvision.metrics.detection_evaluation import evaluate_detections  # noqa: E402
from tfvision.training.checkpoints import load_checkpoint  # noqa: E402


def _artifacts(checkpoint, work, calibration):
    """`{label: Predictor}` for LiteRT and ONNX, float32 and int8."""
    found = {}
    for quantize in ("none", "int8"):
        for kind in ("litert", "onnx"):
            label = (f"{'LiteRT' if kind == 'litert' else 'ONNX Runtime'} "
                     f"{'fp32' if quantize == 'none' else 'int8'}")
            try:
                written = export_formats(checkpoint, f"{kind}_{quantize}", 1, [kind],
                                         exports_root=work, quantize=quantize,
                                         calibration=calibration)
            except ValueError as error:  # reported in the table, the rest still measured
                found[label] = str(error)
                continue
            found[label] = Predictor.open(written[kind])
    return found


def classifier_rows(checkpoint, data, work):
    model, _ = load_checkpoint(checkpoint, compile=False)
    augmentation = dataclasses.replace(augmentation_preset("none"),
                                       crop_fraction=model.crop_fraction)  # the model's own crop
    test = classification_data(data, "test", model.image_size, 32, training=False,
                               augmentation=augmentation)
    images, labels = [], []
    for batch, batch_labels in test.dataset:
        images.append(batch.numpy())
        labels.append(batch_labels.numpy())
    images, labels = np.concatenate(images), np.concatenate(labels)
    rows = [("Keras", float((model.predict(images, verbose=0).argmax(-1) == labels).mean()))]
    for label, predictor in _artifacts(checkpoint, work, os.path.join(data, "train")).items():
        if isinstance(predictor, str):
            rows.append((label, predictor))
            continue
        probabilities = np.concatenate([predictor.run_pixels(images[i:i + 32])["probabilities"]
                                        for i in range(0, len(images), 32)])
        rows.append((label, float((probabilities.argmax(-1) == labels).mean())))
    return rows, len(labels)


def detector_rows(checkpoint, data, work):
    model, _ = load_checkpoint(checkpoint, compile=False)
    test = detection_data(data, "test", model.image_size, 32, training=False)
    rows = []
    evaluator, count = evaluate_detections(model, test.dataset)
    result = evaluator.result()
    rows.append(("Keras", result["voc07_map"], result["AP"]))
    for label, predictor in _artifacts(checkpoint, work, data).items():
        if isinstance(predictor, str):
            rows.append((label, predictor, None))
            continue
        result = evaluate_detections(predictor, test.dataset)[0].result()
        rows.append((label, result["voc07_map"], result["AP"]))
    return rows, count


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifier", default="runs/quality/runs/classifier_clean/best.keras")
    parser.add_argument("--classifier-data", default="runs/quality/data/clean")
    parser.add_argument("--detector", default="runs/ssdlite_shapes/best.keras")
    parser.add_argument("--detector-data", default="shapes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        lines = []
        if os.path.isfile(args.classifier):
            rows, count = classifier_rows(args.classifier, args.classifier_data,
                                          os.path.join(work, "classifier"))
            lines.append(f"classifier ({args.classifier}, {count} test images): test top-1")
            lines += [f"  {label:<20} {_figure(value)}" for label, value in rows]
            classifier_cost = _costs(rows[0][1], dict(rows))
        else:
            lines.append(f"classifier: no {args.classifier} (run make quality)")
            classifier_cost = _costs(None, {})
        if os.path.isfile(args.detector):
            rows, count = detector_rows(args.detector, args.detector_data,
                                        os.path.join(work, "detector"))
            lines.append(f"detector ({args.detector}, {count} test images): VOC07 mAP@0.5, AP")
            lines += [f"  {label:<20} {_figure(voc)}  {_figure(ap)}" for label, voc, ap in rows]
            detector_cost = _costs(rows[0][1], {label: voc for label, voc, _ in rows})
        else:
            lines.append(f"detector: no {args.detector} (run make demo)")
            detector_cost = _costs(None, {})
    print("\n".join(lines))
    print(f"int8 cost in points (Keras minus int8, LiteRT / ONNX Runtime): classifier top-1 "
          f"{classifier_cost}, detector VOC07 mAP@0.5 {detector_cost}")


def _figure(value):
    return "" if value is None else value if isinstance(value, str) else f"{value:.4f}"


def _costs(reference, figures):
    return " / ".join(
        f"{(reference - figures[label]) * 100:.1f}"
        if isinstance(figures.get(label), float) and reference is not None else "n/a"
        for label in ("LiteRT int8", "ONNX Runtime int8"))


if __name__ == "__main__":
    main()
