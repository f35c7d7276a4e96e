"""Detection data from a CSV file and an image folder (the fast.ai lecture's layout).

The CSV has a header row and one row per image, with three columns:

    file,bbox,label
    000012.jpg,96 155 269 350,car
    000017.jpg,61 184 198 278 77 89 335 402,person horse
    000023.jpg,,

`file` is the image path relative to the image folder; `bbox` the boxes as
space-separated pixel `y_min x_min y_max x_max` quadruples; `label` one class
per box, space-separated. The lecture's column names `fn` and `clas` are
accepted too. Empty `bbox` and `label` make an image with no objects.

Labels are either all class names or all integer ids. Names: the class names
are the sorted distinct names of the `class_source` file (the training CSV, so
every split agrees), a name it does not have is an unknown class. Ids: the
class names are `"0".."K"` for the largest id `K` of `class_source`.

What happens to bad input:

- a missing file, no header, or no `file` / `bbox` / `label` columns:
  `FileNotFoundError` / `ValueError` naming the file.
- an image path that is absolute or leaves the image folder: `ValueError`.
- a row whose `bbox` is not numbers in fours, or whose label count differs
  from its box count: the row (image) is skipped, its boxes counted as dropped.
- an unknown class: the box is dropped and counted.
- a box that is NaN, negative-sized, of zero area or outside the image, and an
  image file that is missing or not an image: as for every file source
  (see `annotated_images`).

With `strict=True` each of the counted cases raises `ValueError` instead.
"""

import csv

import numpy as np

from tfvision.data.detection.annotated_images import AnnotatedImage, Problems, annotated_image_data

_COLUMNS = {"file": ("file", "fn"), "bbox": ("bbox",), "label": ("label", "clas")}


def _read_rows(csv_file):
    try:
        with open(csv_file, newline="", encoding="utf-8") as file:
            rows = list(csv.reader(file))
    except FileNotFoundError:
        raise FileNotFoundError(f"CSV annotation file not found: {csv_file}") from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"{csv_file} is not a readable CSV file: {error}") from None
    if not rows:
        raise ValueError(f"{csv_file} is empty: expected a header row 'file,bbox,label'.")
    header = [name.strip().lower() for name in rows[0]]
    index = {}
    for column, names in _COLUMNS.items():
        found = [header.index(name) for name in names if name in header]
        if not found:
            raise ValueError(
                f"{csv_file} has no {column!r} column: expected a header row 'file,bbox,label'. "
                f"Received: {rows[0]}"
            )
        index[column] = found[0]
    return [
        (f"line {number}", [row[index[c]] if index[c] < len(row) else "" for c in _COLUMNS])
        for number, row in enumerate(rows[1:], start=2)
        if any(cell.strip() for cell in row)
    ]


def csv_class_names(csv_file):
    """The class names the labels of `csv_file` define (see the module docstring).

    Returns:
        `(class_names, by_id)`: list of str, and whether labels are integer ids.
    """
    tokens = {token for _, (_, _, labels) in _read_rows(csv_file) for token in labels.split()}
    if tokens and all(token.lstrip("-").isdigit() for token in tokens):
        return [str(i) for i in range(max(int(t) for t in tokens) + 1)], True
    return sorted(tokens), False


def read_csv_annotations(csv_file, class_names, by_id, strict=False):
    """Parses the CSV into per-image records with `yxyx` pixel boxes.

    Args:
        csv_file: str.
        class_names: list of str, from `csv_class_names` of the training CSV.
        by_id: bool, labels are integer ids rather than names.
        strict: bool, raise at the first bad row or box. Defaults to `False`.

    Returns:
        `(records, problems, num_annotations)`.
    """
    problems = Problems(csv_file, strict)
    label_of = {name: i for i, name in enumerate(class_names)}
    records, num_annotations = [], 0
    for where, (file_name, bbox, label) in _read_rows(csv_file):
        names = label.split()
        num_annotations += len(names)
        try:
            values = [float(v) for v in bbox.split()]
        except ValueError:
            values = None
        if values is None or len(values) % 4 or len(values) // 4 != len(names):
            problems.add(
                "in malformed rows (bbox not 4 numbers per label)",
                f"{where}: bbox {bbox!r}, label {label!r}",
                count=max(1, len(names)),
            )
            continue
        boxes, labels = np.array(values, np.float32).reshape(-1, 4), []
        for name in names:
            key = str(int(name)) if by_id and name.lstrip("-").isdigit() else name
            if key not in label_of:
                problems.add("with unknown classes", f"{where}: {name!r}")
            labels.append(label_of.get(key, -1))
        known = np.array(labels, np.int32) >= 0
        records.append(AnnotatedImage(file_name.strip(), boxes[known],
                                      np.array(labels, np.int32)[known], where))
    return records, problems, num_annotations


def csv_detection(
    csv_file,
    image_dir,
    image_size,
    batch_size,
    training=False,
    seed=None,
    max_boxes=None,
    strict=False,
    num_images=None,
    class_source=None,
    flip=True,
):
    """Loads a detection CSV and its image folder as padded detection batches.

    Args:
        csv_file: str, the CSV (see the module docstring).
        image_dir: str, the folder the `file` column is relative to.
        image_size: int, side of the output images.
        batch_size: int.
        training: bool, training augmentation and shuffling. Defaults to `False`.
        seed: optional int.
        max_boxes: int, padded box count `M`; defaults to the most boxes of an image.
        strict: bool, raise at the first bad row, box or image. Defaults to `False`.
        num_images: optional int, use only the first rows.
        class_source: str, the CSV whose labels define the classes (the training
            split's). Defaults to `csv_file`.
        flip: bool, random horizontal flips in training (off for digits, text
            and other objects that mirroring changes). Defaults to `True`.

    Returns:
        `DetectionData` yielding `(float32 [B, S, S, 3], {"boxes": [B, M, 4],
        "labels": [B, M]})`.

    Example:
    >>> data = csv_detection("boxes.csv", "images", 224, 16)
    >>> data.num_examples, data.class_names
    (4, ['circle', 'cross', 'ring', 'square', 'star', 'triangle'])
    """
    class_names, by_id = csv_class_names(class_source or csv_file)
    if not class_names:
        raise ValueError(f"{class_source or csv_file} has no labels, so no classes.")
    records, problems, num_annotations = read_csv_annotations(
        csv_file, class_names, by_id, strict
    )
    return annotated_image_data(
        records, image_dir, "yxyx", class_names, problems, num_annotations, image_size,
        batch_size, training, seed, max_boxes, num_images, flip=flip,
    )
