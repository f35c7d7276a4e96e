"""Writing the built-in shapes as detection files: COCO JSON, CSV or YOLO, plus image files.

These show the "your own data" path on real files: what `write_coco_detection`
writes, `detection_data("coco:OUT/{split}.json:OUT/{split}", split, ...)` reads
back, with the boxes of `generate_shapes(num_images, image_size,
split_seed(seed, split))`.

Layout (`OUT` = `out_dir`): images `OUT/<split>/000000.jpg`, ... and the
annotations `OUT/<split>.json` (COCO) or `OUT/<split>.csv` (CSV); for YOLO, images
`OUT/images/<split>/`, labels `OUT/labels/<split>/*.txt` and `OUT/data.yaml`.
"""

import csv
import json
import pathlib
import shutil

import numpy as np
from PIL import Image

from tfvision.data.synthetic.shape_drawing import SHAPE_CLASSES
from tfvision.data.synthetic.scenes import iterate_scenes, split_seed
from tfvision.ops import from_internal, to_internal

_IMAGE_FORMATS = {"jpg": ("JPEG", {"quality": 95}), "png": ("PNG", {"compress_level": 1})}
_DECIMALS = 3  # pixel coordinates: exact to 1/1000 px


def _scenes_to_files(out_dir, num_images, split, image_size, seed, image_format,
                     max_objects, overwrite):
    """Writes the images of a split; yields `(file_name, pixel xyxy boxes, labels)` per image."""
    if image_format not in _IMAGE_FORMATS:
        raise ValueError(
            f"`image_format` must be one of {sorted(_IMAGE_FORMATS)}. "
            f"Received: image_format={image_format!r}"
        )
    image_dir = pathlib.Path(out_dir) / split
    if image_dir.exists() and any(image_dir.iterdir()):
        if not overwrite:
            raise FileExistsError(
                f"{image_dir} already holds files; choose another directory or pass "
                "overwrite=True to replace it."
            )
        shutil.rmtree(image_dir)
    image_dir.mkdir(parents=True, exist_ok=True)
    pil_format, options = _IMAGE_FORMATS[image_format]
    scenes = iterate_scenes(num_images, image_size, split_seed(seed, split), 1, max_objects)
    for index, (image, boxes, labels) in enumerate(scenes):
        file_name = f"{index:06d}.{image_format}"
        Image.fromarray(image).save(image_dir / file_name, pil_format, **options)
        pixels = np.asarray(from_internal(boxes, "xyxy", height=image_size, width=image_size))
        yield file_name, np.round(pixels.reshape(-1, 4), _DECIMALS), np.asarray(labels)


def write_coco_detection(out_dir, num_images, split="train", image_size=96, seed=0,
                         image_format="jpg", max_objects=4, overwrite=False):
    """Writes one split of the built-in shapes as a COCO-format JSON and image folder.

    Args:
        out_dir: str or path.
        num_images: int.
        split: str, names the files and selects the seed (`split_seed`). Defaults to `"train"`.
        image_size: int. Defaults to `96`.
        seed: int. Defaults to `0`.
        image_format: `"jpg"` or `"png"`. Defaults to `"jpg"`.
        max_objects: int, most objects per image. Defaults to `4`.
        overwrite: bool, replace a split folder that already holds files
            instead of raising `FileExistsError`. Defaults to `False`.

    Returns:
        dict `{"spec", "annotation_file", "image_dir", "num_images", "num_boxes"}`;
        `spec` is the `detection_data` spec with a `{split}` placeholder.

    Example:
    >>> write_coco_detection("/tmp/shapes_coco", 4, "valid", overwrite=True)["num_images"]
    4
    """
    images, annotations = [], []
    for image_id, (file_name, boxes, labels) in enumerate(
        _scenes_to_files(out_dir, num_images, split, image_size, seed, image_format,
                         max_objects, overwrite)
    ):
        images.append({"id": image_id, "file_name": file_name,
                       "width": int(image_size), "height": int(image_size)})
        for (x1, y1, x2, y2), label in zip(boxes.tolist(), labels.tolist()):
            w, h = round(x2 - x1, _DECIMALS), round(y2 - y1, _DECIMALS)
            annotations.append({
                "id": len(annotations) + 1, "image_id": image_id, "category_id": label + 1,
                "bbox": [x1, y1, w, h], "area": round(w * h, _DECIMALS), "iscrowd": 0,
            })
    # COCO category ids start at 1; sorted by id they give SHAPE_CLASSES' order.
    categories = [{"id": i + 1, "name": name} for i, name in enumerate(SHAPE_CLASSES)]
    annotation_file = pathlib.Path(out_dir) / f"{split}.json"
    annotation_file.write_text(json.dumps(
        {"images": images, "annotations": annotations, "categories": categories}))
    return {
        "spec": f"coco:{pathlib.Path(out_dir) / '{split}.json'}:{pathlib.Path(out_dir) / '{split}'}",
        "annotation_file": str(annotation_file),
        "image_dir": str(pathlib.Path(out_dir) / split),
        "num_images": len(images),
        "num_boxes": len(annotations),
    }


def write_csv_detection(out_dir, num_images, split="train", image_size=96, seed=0,
                        image_format="jpg", max_objects=4, overwrite=False):
    """Writes one split of the built-in shapes as a detection CSV and image folder.

    Rows are `file,bbox,label`: pixel `y_min x_min y_max x_max` quadruples and
    the class names (see `csv_detection`).

    Args:
        out_dir, num_images, split, image_size, seed: as `write_coco_detection`.
        image_format, max_objects, overwrite: as `write_coco_detection`.

    Returns:
        dict `{"spec", "annotation_file", "image_dir", "num_images", "num_boxes"}`.

    Example:
    >>> write_csv_detection("/tmp/shapes_csv", 4, "valid", overwrite=True)["num_images"]
    4
    """
    annotation_file = pathlib.Path(out_dir) / f"{split}.csv"
    rows = [["file", "bbox", "label"]]
    num_boxes = 0
    for file_name, boxes, labels in _scenes_to_files(
        out_dir, num_images, split, image_size, seed, image_format, max_objects, overwrite
    ):
        yxyx = boxes[:, [1, 0, 3, 2]]
        rows.append([file_name, " ".join(format(v, ".10g") for v in yxyx.reshape(-1).tolist()),
                     " ".join(SHAPE_CLASSES[i] for i in labels.tolist())])
        num_boxes += len(labels)
    with open(annotation_file, "w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows(rows)
    return {
        "spec": f"csv:{pathlib.Path(out_dir) / '{split}.csv'}:{pathlib.Path(out_dir) / '{split}'}",
        "annotation_file": str(annotation_file),
        "image_dir": str(pathlib.Path(out_dir) / split),
        "num_images": len(rows) - 1,
        "num_boxes": num_boxes,
    }


def write_yolo_detection(out_dir, num_images, split="train", image_size=96, seed=0,
                         image_format="jpg", max_objects=4, overwrite=False):
    """Writes one split of the built-in shapes in the YOLO layout.

    Images go to `OUT/images/<split>/`, one `class cx cy w h` line per box to
    `OUT/labels/<split>/<name>.txt`, and the split and class names into
    `OUT/data.yaml` (see `yolo_detection`).

    Args:
        out_dir, num_images, split, image_size, seed: as `write_coco_detection`.
        image_format, max_objects, overwrite: as `write_coco_detection`.

    Returns:
        dict `{"spec", "annotation_file", "image_dir", "num_images", "num_boxes"}`;
        `annotation_file` is the `data.yaml`.

    Example:
    >>> write_yolo_detection("/tmp/shapes_yolo", 4, "valid", overwrite=True)["num_images"]
    4
    """
    from tfvision.data.detection.conversion import write_yolo_yaml, yolo_label_text

    label_dir = pathlib.Path(out_dir) / "labels" / split
    if label_dir.exists() and overwrite:
        shutil.rmtree(label_dir)
    num_images_written = num_boxes = 0
    for file_name, boxes, labels in _scenes_to_files(
        pathlib.Path(out_dir) / "images", num_images, split, image_size, seed, image_format,
        max_objects, overwrite
    ):
        relative = to_internal(boxes.astype(np.float32), "xyxy", height=image_size,
                               width=image_size)
        label_dir.mkdir(parents=True, exist_ok=True)
        (label_dir / f"{pathlib.Path(file_name).stem}.txt").write_text(
            yolo_label_text(np.asarray(relative), labels))
        num_images_written += 1
        num_boxes += len(labels)
    data_yaml = write_yolo_yaml(str(out_dir), split, SHAPE_CLASSES)
    return {
        "spec": f"yolo:{data_yaml}",
        "annotation_file": data_yaml,
        "image_dir": str(pathlib.Path(out_dir) / "images" / split),
        "num_images": num_images_written,
        "num_boxes": num_boxes,
    }
