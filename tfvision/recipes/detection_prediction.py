"""Batch prediction with a detector: many images in, COCO results, YOLO txt files and pictures out.

`image_inputs` turns what a user points at (image files, folders, glob patterns, `.txt`
lists of paths) into a list of image files. `predict_detection_files` reads them
through `tf.data` (decoding and resizing in parallel with the model), runs the model
on whole batches and gives each image's detections in its own pixels; files that do
not decode are skipped, counted and named, never a crash halfway. The writers save the
result the way the tools people come from do:

- `write_coco_results`: a COCO results JSON (`image_id`, `category_id`, `bbox` pixel
  `[x, y, w, h]`, `score`, plus `file_name`), as pycocotools' `loadRes` reads it;
  category ids are the class index + 1, as `tfvision data` writes COCO files.
- `write_yolo_txt`: one `class cx cy w h [score]` file per image, normalised, as
  Ultralytics' `--save-txt` (`--save-conf`) writes them.
- `save_detection_images`: each image with its boxes, names and scores drawn.
"""

import collections
import dataclasses
import glob
import json
import os
import warnings

import numpy as np
import tensorflow as tf

from tfvision.data.classification.image_folder import SkippedImagesWarning
from tfvision.data.image_decoding import IMAGE_EXTENSIONS, decode_image, scan_images


def image_inputs(inputs):
    """The image files named by `inputs`: files, folders (recursive), globs and `.txt` lists.

    Args:
        inputs: list of str. A folder gives its image files (`IMAGE_EXTENSIONS`,
            sorted, recursively); a pattern with `*`, `?` or `[` gives its matches
            (recursive with `**`); a `.txt` file gives one path per line (relative
            lines are relative to the list's folder); any other path is an image.

    Returns:
        list of str, in the order given, without repeats.

    Raises:
        FileNotFoundError: a path or pattern that matches nothing.
    """
    found = []
    for item in inputs:
        item = str(item)
        if os.path.isdir(item):
            files = [os.path.join(folder, name)
                     for folder, subfolders, names in sorted(os.walk(item))
                     for name in sorted(names)
                     if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS]
            if not files:
                raise FileNotFoundError(f"{item} holds no {'/'.join(IMAGE_EXTENSIONS)} files.")
        elif any(c in item for c in "*?[") and not os.path.exists(item):
            files = [path for path in sorted(glob.glob(item, recursive=True))
                     if os.path.isfile(path)]
            if not files:
                raise FileNotFoundError(f"No file matches {item!r}.")
        elif item.lower().endswith(".txt") and os.path.isfile(item):
            with open(item, encoding="utf-8") as handle:
                lines = [line.strip() for line in handle if line.strip()]
            base = os.path.dirname(item)
            files = [line if os.path.isabs(line) else os.path.join(base, line) for line in lines]
        elif os.path.exists(item):
            files = [item]
        else:
            raise FileNotFoundError(f"No image, folder or list at {item}.")
        found.extend(files)
    return list(dict.fromkeys(found))


@dataclasses.dataclass
class ImageDetections:
    """The detections of one image file.

    Attributes:
        path: str.
        height, width: int, the file's size in pixels.
        boxes: float32 `[K, 4]` pixel `[x_min, y_min, x_max, y_max]`, best first.
        scores: float32 `[K]`.
        class_ids: int32 `[K]`.
    """

    path: str
    height: int
    width: int
    boxes: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray


def predict_detection_files(model, paths, score_threshold=0.3, batch_size=16, progress=None):
    """Runs a detector on image files in batches; boxes come back in each file's pixels.

    Each image is resized (not cropped) to the model's input, so relative boxes map
    back to the whole file.

    Args:
        model: an `SSDDetector` (or any model with `image_size` whose
            `predict_on_batch` returns `boxes`, `scores`, `classes` and
            `num_detections`).
        paths: list of str image files.
        score_threshold: float, keep detections scoring above it. Defaults to `0.3`.
        batch_size: int. Defaults to `16`.
        progress: optional callable `(images_done, images_total)`, after each batch.

    Returns:
        `(detections, skipped)`: a list of `ImageDetections` in the order of
        `paths` (files that decode), and a list of `(path, reason)` for those that
        do not (also reported with a `SkippedImagesWarning`).
    """
    sizes, skipped = scan_images(paths)
    kept = [(path, size) for path, size in zip(paths, sizes) if size is not None]
    if skipped:
        shown = "; ".join(f"{path} ({reason})" for path, reason in skipped[:5])
        warnings.warn(f"Skipped {len(skipped)} of {len(paths)} files that are missing or "
                      f"could not be decoded: {shown}.", SkippedImagesWarning, stacklevel=2)
    side = int(model.image_size)
    dataset = (
        tf.data.Dataset.from_tensor_slices(tf.constant([p for p, _ in kept] or [""], tf.string))
        .take(len(kept))
        .map(lambda path: tf.image.resize(tf.cast(decode_image(tf.io.read_file(path)),
                                                  tf.float32), (side, side)),
             num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .batch(int(batch_size))
        .prefetch(tf.data.AUTOTUNE)
    )
    results, done = [], 0
    for images in dataset:
        output = {k: np.asarray(v) for k, v in model.predict_on_batch(images).items()}
        for row in range(int(images.shape[0])):
            path, (height, width) = kept[done + row]
            count = int(output["num_detections"][row])
            scores = output["scores"][row, :count].astype(np.float32)
            keep = scores > score_threshold
            boxes = output["boxes"][row, :count][keep].astype(np.float32)
            results.append(ImageDetections(
                path, int(height), int(width),
                boxes[:, [1, 0, 3, 2]] * np.array([width, height, width, height], np.float32),
                scores[keep], output["classes"][row, :count][keep].astype(np.int32)))
        done += int(images.shape[0])
        if progress is not None:
            progress(done, len(kept))
    return results, skipped


def write_coco_results(detections, path):
    """Writes the detections as a COCO results JSON; returns the number of entries.

    `image_id` is each image's index in `detections`, `category_id` its class
    index + 1, `bbox` pixel `[x, y, w, h]`; `file_name` names the image.
    """
    entries = []
    for image_id, image in enumerate(detections):
        for (x1, y1, x2, y2), score, class_id in zip(image.boxes.tolist(), image.scores.tolist(),
                                                     image.class_ids.tolist()):
            entries.append({"image_id": image_id, "file_name": image.path,
                            "category_id": int(class_id) + 1,
                            "bbox": [round(v, 2) for v in (x1, y1, x2 - x1, y2 - y1)],
                            "score": round(float(score), 5)})
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(entries, handle)
    return len(entries)


def _output_names(detections, suffix):
    """One output name per image: its file stem, with the parent folder where stems repeat."""
    stems = [os.path.splitext(os.path.basename(image.path))[0] for image in detections]
    repeated = {stem for stem, count in collections.Counter(stems).items() if count > 1}
    names = []
    for index, (image, stem) in enumerate(zip(detections, stems)):
        if stem in repeated:
            parent = os.path.basename(os.path.dirname(os.path.abspath(image.path)))
            stem = f"{parent}_{stem}_{index}"
        names.append(stem + suffix)
    return names


def write_yolo_txt(detections, out_dir, with_scores=False):
    """Writes one YOLO label file per image (`class cx cy w h`, normalised; `score` last
    with `with_scores`); an image without detections gets an empty file. Returns the paths."""
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for image, name in zip(detections, _output_names(detections, ".txt")):
        lines = []
        for (x1, y1, x2, y2), score, class_id in zip(image.boxes.tolist(), image.scores.tolist(),
                                                     image.class_ids.tolist()):
            values = [(x1 + x2) / 2 / image.width, (y1 + y2) / 2 / image.height,
                      (x2 - x1) / image.width, (y2 - y1) / image.height]
            values += [score] if with_scores else []
            lines.append(f"{class_id} " + " ".join(f"{v:.6f}" for v in values) + "\n")
        path = os.path.join(out_dir, name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("".join(lines))
        written.append(path)
    return written


def plot_image_detections(image, path, class_names):
    """Draws one `ImageDetections` on its image into the PNG `path`."""
    from tfvision.data.images import decode_image_file
    from tfvision.visualization.detections import plot_detections

    pixels = np.asarray(decode_image_file(image.path))
    relative = image.boxes[:, [1, 0, 3, 2]] / np.array(
        [image.height, image.width, image.height, image.width], np.float32)
    return plot_detections(pixels, relative, image.scores, image.class_ids, class_names, path,
                           num_detections=len(image.scores), score_threshold=0.0)


def save_detection_images(detections, out_dir, class_names):
    """Draws each image with its detections into `out_dir/<stem>.png`; returns the paths."""
    os.makedirs(out_dir, exist_ok=True)
    return [plot_image_detections(image, os.path.join(out_dir, name), class_names)
            for image, name in zip(detections, _output_names(detections, ".png"))]
