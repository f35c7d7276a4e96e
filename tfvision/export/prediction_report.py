"""What `tfvision predict` prints and draws for an artifact's outputs, whatever its format."""

import os

import numpy as np

from tfvision.data.images import decode_image_file


def _name(predictor, outputs, key, index, position, class_id):
    """A class id's name: from the artifact's class names, else its string outputs."""
    if predictor.class_names:
        return predictor.class_names[class_id]
    value = outputs[key][index][position]
    return value.decode() if isinstance(value, bytes) else str(value)


def _ranked(predictor, outputs, index, top_k):
    """`[(name, score), ...]` of one sample's best classes, highest first."""
    count = min(top_k, outputs["class_ids"].shape[-1])
    return [(_name(predictor, outputs, "classes", index, j, int(outputs["class_ids"][index][j])),
             float(outputs["scores"][index][j])) for j in range(count)]


def _detections(predictor, outputs, index, score_threshold):
    """`[(name, score, (ymin, xmin, ymax, xmax)), ...]` above the threshold."""
    found = []
    for j in range(int(outputs["num_detections"][index])):
        score = float(outputs["scores"][index][j])
        if score < score_threshold:
            continue
        class_id = int(outputs["classes"][index][j])
        found.append((_name(predictor, outputs, "class_names", index, j, class_id), score,
                      tuple(float(v) for v in outputs["boxes"][index][j])))
    return found


def describe(predictor, outputs, per_input, top_k=5, score_threshold=0.3):
    """One block of lines per sample: its classes, detections or embedding."""
    lines = [f"{predictor.path} ({predictor.format}, {predictor.task})"]
    for index in range(len(per_input[0])):
        lines.append(" + ".join(os.fspath(images[index]) for images in per_input))
        if predictor.task in ("classifier", "cotraining"):
            lines += [f"  {name:<24} {score:.4f}"
                      for name, score in _ranked(predictor, outputs, index, top_k)]
        elif predictor.task == "detector":
            found = _detections(predictor, outputs, index, score_threshold)
            lines.append(f"  {len(found)} detections with score >= {score_threshold}")
            lines += [f"  {name:<16} {score:.3f}  box yxyx (relative) "
                      + " ".join(f"{v:.3f}" for v in box) for name, score, box in found]
        else:
            embedding = outputs["embeddings"][index]
            lines.append(f"  embedding of {embedding.shape[0]} values: "
                         + " ".join(f"{v:+.3f}" for v in embedding[:6]) + " ...")
    return lines


def plot_prediction(predictor, outputs, image_path, path, top_k=5, score_threshold=0.3):
    """A PNG of the first sample's (first view's) image with its classes or detections."""
    image = decode_image_file(os.fspath(image_path)).numpy()
    if predictor.task == "detector":
        from tfvision.visualization.detections import plot_detections

        found = _detections(predictor, outputs, 0, score_threshold)
        names = [name for name, _, _ in found]
        return plot_detections(image, np.array([box for _, _, box in found]).reshape(-1, 4),
                               np.array([score for _, score, _ in found]),
                               np.arange(len(found)), names, path,
                               score_threshold=score_threshold)
    if predictor.task in ("classifier", "cotraining"):
        from tfvision.visualization.prediction import plot_top_k

        ranked = _ranked(predictor, outputs, 0, top_k)
        return plot_top_k(image, [score for _, score in ranked], [name for name, _ in ranked],
                          path)
    raise ValueError("--plot draws classes or detections; an embedding artifact has neither.")
