"""Detection data from a COCO-format JSON file and an image folder.

The JSON holds `images` (`id`, `file_name` relative to the image folder),
`annotations` (`image_id`, `category_id`, `bbox` absolute `[x, y, width, height]`
in pixels, optional `iscrowd`) and `categories` (`id`, `name`). Categories
sorted by id become the contiguous labels `0..C-1`; their names are the class
names. Every image listed is an example, with or without annotations.

What happens to bad input:

- not valid JSON, not an object, or without `images` / `annotations` /
  `categories`; an image without `id` / `file_name`; duplicate image or
  category ids: `ValueError` naming the file.
- an image path that is absolute or leaves the image folder: `ValueError`.
- an annotation without `image_id` / `category_id` / a 4-number `bbox`, or
  referencing an image id or category id the file does not list: dropped and
  counted (`SkippedAnnotationsWarning`, `DetectionData.dropped_boxes`).
- a box that is NaN, negative-sized, of zero area or outside the image: dropped
  and counted the same way (`sanitize_boxes`).
- an image file that is missing, empty or not an image: the image is skipped
  (`SkippedImagesWarning`).
- an image whose `width` / `height` differ from its decoded file: a warning
  (boxes are converted with the file's size).
- `iscrowd: 1` annotations (a crowd region, not one object) are left out of the
  targets, as COCO evaluation ignores them; they are not counted as dropped.

With `strict=True` each of the counted cases raises `ValueError` instead.
"""

import json
import numbers

import numpy as np

from tfvision.data.detection.annotated_images import AnnotatedImage, Problems, annotated_image_data


def _load_json(annotation_file):
    try:
        with open(annotation_file, encoding="utf-8") as file:
            content = json.load(file)
    except FileNotFoundError:
        raise FileNotFoundError(f"COCO annotation file not found: {annotation_file}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{annotation_file} is not valid JSON: {error}") from None
    if not isinstance(content, dict):
        raise ValueError(
            f"{annotation_file} is not a COCO annotation file: expected a JSON object with "
            f"'images', 'annotations' and 'categories'. Received: {type(content).__name__}"
        )
    missing = [key for key in ("images", "annotations", "categories") if key not in content]
    if missing:
        raise ValueError(
            f"{annotation_file} is not a COCO annotation file: missing key(s) {missing} "
            f"(found {sorted(content)})"
        )
    for key in ("images", "annotations", "categories"):
        if not isinstance(content[key], list):
            raise ValueError(
                f"{annotation_file}: {key!r} must be a list. "
                f"Received: {type(content[key]).__name__}"
            )
    return content


def _entries_with(annotation_file, entries, kind, keys):
    """Checks that every entry is an object with `keys`; returns a dict id -> entry."""
    by_id = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or any(key not in entry for key in keys):
            raise ValueError(
                f"{annotation_file}: {kind} #{index} must be an object with keys {list(keys)}. "
                f"Received: {entry!r}"
            )
        if entry["id"] in by_id:
            raise ValueError(f"{annotation_file}: duplicate {kind} id {entry['id']!r}")
        by_id[entry["id"]] = entry
    return by_id


def _is_bbox(bbox):
    return (
        isinstance(bbox, list)
        and len(bbox) == 4
        and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in bbox)
    )


def _stated_size(image):
    """`(height, width)` of a COCO image entry, if it states both as numbers."""
    height, width = image.get("height"), image.get("width")
    if isinstance(height, numbers.Real) and isinstance(width, numbers.Real):
        return int(height), int(width)
    return None


def read_coco_annotations(annotation_file, strict=False):
    """Parses a COCO-format JSON file into per-image records.

    Args:
        annotation_file: str, the JSON file.
        strict: bool, raise at the first bad annotation instead of counting it.
            Defaults to `False`.

    Returns:
        `(records, class_names, problems, num_annotations)`: `AnnotatedImage`
        records in the order of `images` with `xywh` pixel boxes, the category
        names sorted by category id, a `Problems` holding the dropped
        annotations, and the number of annotations in the file.

    Raises:
        FileNotFoundError, ValueError: see the module docstring.
    """
    content = _load_json(annotation_file)
    images = _entries_with(annotation_file, content["images"], "image", ("id", "file_name"))
    categories = _entries_with(annotation_file, content["categories"], "category", ("id", "name"))
    category_ids = sorted(categories, key=lambda i: (str(type(i)), i))
    label_of = {category_id: label for label, category_id in enumerate(category_ids)}
    problems = Problems(annotation_file, strict)
    boxes = {image_id: [] for image_id in images}
    labels = {image_id: [] for image_id in images}
    for index, annotation in enumerate(content["annotations"]):
        where = f"annotation #{index}"
        if not isinstance(annotation, dict) or not all(
            key in annotation for key in ("image_id", "category_id", "bbox")
        ):
            problems.add("malformed (need image_id, category_id, bbox)", f"{where}: {annotation!r}")
        elif not _is_bbox(annotation["bbox"]):
            problems.add("malformed (need image_id, category_id, bbox)",
                         f"{where}: bbox {annotation['bbox']!r}")
        elif annotation["image_id"] not in images:
            problems.add("referencing missing image ids",
                         f"{where}: image_id {annotation['image_id']!r}")
        elif annotation["category_id"] not in label_of:
            problems.add("with unknown category ids",
                         f"{where}: category_id {annotation['category_id']!r}")
        elif not annotation.get("iscrowd", 0):
            boxes[annotation["image_id"]].append(annotation["bbox"])
            labels[annotation["image_id"]].append(label_of[annotation["category_id"]])
    records = [
        AnnotatedImage(
            str(image["file_name"]),
            np.array(boxes[image_id], np.float32).reshape(-1, 4),
            np.array(labels[image_id], np.int32),
            f"(image id {image_id})",
            _stated_size(image),
        )
        for image_id, image in images.items()
    ]
    class_names = [str(categories[i]["name"]) for i in category_ids]
    return records, class_names, problems, len(content["annotations"])


def coco_detection(
    annotation_file,
    image_dir,
    image_size,
    batch_size,
    training=False,
    seed=None,
    max_boxes=None,
    strict=False,
    num_images=None,
    flip=True,
):
    """Loads a COCO-format JSON file and its image folder as padded detection batches.

    Boxes are converted from absolute `xywh` to relative `yxyx` with each
    image's decoded size; an image whose JSON `width` / `height` differ from
    the file's gets a warning (an error with `strict`).

    Args:
        annotation_file: str, the COCO JSON.
        image_dir: str, the folder the images' `file_name`s are relative to.
        image_size: int, side of the output images.
        batch_size: int.
        training: bool, training augmentation and shuffling. Defaults to `False`.
        seed: optional int.
        max_boxes: int, padded box count `M`; defaults to the most boxes of an image.
        strict: bool, raise at the first bad annotation or image. Defaults to `False`.
        num_images: optional int, use only the first images of the file.
        flip: bool, random horizontal flips in training (off for digits, text
            and other objects that mirroring changes). Defaults to `True`.

    Returns:
        `DetectionData` yielding `(float32 [B, S, S, 3], {"boxes": [B, M, 4],
        "labels": [B, M]})`; `class_names` are the category names by id.

    References:
        COCO data format: https://cocodataset.org/#format-data

    Example:
    >>> data = coco_detection("ann/train.json", "images/train", 320, 16)
    >>> data.num_examples, data.class_names
    (4, ['circle', 'cross', 'ring', 'square', 'star', 'triangle'])
    """
    records, class_names, problems, num_annotations = read_coco_annotations(
        annotation_file, strict
    )
    if not class_names:
        raise ValueError(f"{annotation_file} lists no categories.")
    return annotated_image_data(
        records, image_dir, "xywh", class_names, problems, num_annotations, image_size,
        batch_size, training, seed, max_boxes, num_images, flip=flip,
    )

