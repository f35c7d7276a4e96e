"""Detection data in the YOLO layout: a `data.yaml`, `images/` and `labels/*.txt`.

The layout Ultralytics' YOLO models train on. The YAML names the dataset root, the
image sets of each split and the classes:

    path: .                 # the root; relative to the YAML's folder (default: that folder)
    train: images/train     # a folder of images, a .txt list of images, or a list of either
    val: images/val
    test: images/test       # optional
    names: {0: cat, 1: dog} # or a list; `nc`, when given, must match

tfvision's splits map to its keys: `train` → `train`, `valid` → `val` (`valid` is
accepted too), `test` → `test`. A folder is read recursively. In a list file, a line
starting with `./` is relative to the list file's folder, any other relative line to the
root.

Each image `.../images/.../NAME.jpg` has its labels in `.../labels/.../NAME.txt` (the
last `images` folder of its path replaced by `labels`; an image path without one keeps
its `.txt` next to it). One line per object, `class cx cy w h`, normalised to 0..1 of
the image; a line with more numbers is a polygon `class x1 y1 x2 y2 ...` (YOLO's
segmentation labels) and gives its bounding box.

What happens to bad input:

- a missing YAML, one that is not a mapping, has no `names`, a `nc` that disagrees
  with them, or no entry for the split asked for: `FileNotFoundError` / `ValueError`
  naming the file. The YAML is read with `yaml.safe_load` only.
- an image set or list line that is absolute outside the root, leaves it through `..`
  or a symbolic link, or does not exist: `ValueError` / `FileNotFoundError`.
- an image without a label file, or with an empty one: an image with no objects
  (background), as YOLO treats it.
- a line that is not numbers, has too few, or a polygon with an odd coordinate count:
  the line is dropped and counted; a class that is not an integer of `names`: dropped
  and counted.
- a box that is NaN, inverted, of zero area or outside the image, and an image file
  that is missing or not an image: as for every file source (see `annotated_images`).

With `strict=True` each of the counted cases raises `ValueError` instead.

References:
    Ultralytics, "Object Detection Datasets Overview":
    https://docs.ultralytics.com/datasets/detect/
"""

import os

import numpy as np

from tfvision.data.detection.annotated_images import AnnotatedImage, Problems, annotated_image_data
from tfvision.data.image_decoding import IMAGE_EXTENSIONS

# tfvision's split names, and the data.yaml keys each is read from (first found).
SPLIT_KEYS = {"train": ("train",), "valid": ("val", "valid"), "test": ("test",)}
BOX_FORMAT = "rel_center_xywh"


def read_yolo_yaml(data_yaml):
    """The root folder, image sets and class names a YOLO `data.yaml` names.

    Returns:
        `(root, splits, class_names)`: the dataset root (absolute), `{key: entry}`
        for every split key present (`train`, `val`, `valid`, `test`; an entry is a
        str or a list of str), and the class names in id order.

    Raises:
        FileNotFoundError: `data_yaml` does not exist.
        ValueError: not YAML, not a mapping, no usable `names`, or `nc` disagrees.
    """
    import yaml

    try:
        with open(data_yaml, encoding="utf-8") as file:
            content = yaml.safe_load(file)
    except FileNotFoundError:
        raise FileNotFoundError(f"YOLO data file not found: {data_yaml}") from None
    except (UnicodeDecodeError, yaml.YAMLError) as error:
        raise ValueError(f"{data_yaml} is not a readable YAML file: {error}") from None
    if not isinstance(content, dict):
        raise ValueError(f"{data_yaml} must be a YAML mapping with `names` and the splits "
                         f"(train, val, test). Received: {type(content).__name__}")
    class_names = _class_names(data_yaml, content.get("names"))
    if "nc" in content and content["nc"] != len(class_names):
        raise ValueError(f"{data_yaml}: nc is {content['nc']!r} but names lists "
                         f"{len(class_names)} classes.")
    folder = os.path.dirname(os.path.abspath(data_yaml))
    root = content.get("path") or folder
    if not isinstance(root, str):
        raise ValueError(f"{data_yaml}: `path` must be a folder. Received: {root!r}")
    root = os.path.normpath(os.path.join(folder, root))
    splits = {key: content[key] for key in ("train", "val", "valid", "test")
              if content.get(key)}
    for key, entry in splits.items():
        entries = entry if isinstance(entry, list) else [entry]
        if not entries or not all(isinstance(e, str) and e for e in entries):
            raise ValueError(f"{data_yaml}: `{key}` must be a folder, a .txt list of images or "
                             f"a list of those. Received: {entry!r}")
    return root, splits, class_names


def _class_names(data_yaml, names):
    if isinstance(names, dict):
        if not names or not all(isinstance(k, int) for k in names) or \
                sorted(names) != list(range(len(names))):
            raise ValueError(f"{data_yaml}: `names` as a mapping must have the ids 0..N-1. "
                             f"Received: {sorted(names, key=str) if names else names!r}")
        names = [names[i] for i in range(len(names))]
    if not isinstance(names, list) or not names:
        raise ValueError(f"{data_yaml} needs `names`: a list of class names or a mapping "
                         f"{{id: name}}. Received: {names!r}")
    return [str(name) for name in names]


def _inside(root, path, data_yaml, what):
    real_root, real = os.path.realpath(root), os.path.realpath(path)
    if os.path.commonpath([real_root, real]) != real_root:
        raise ValueError(f"{data_yaml}: {what} escapes the dataset root {root}; "
                         "paths must stay inside it.")
    return real


def _image_files(root, entry, data_yaml):
    """Image paths of one image set (folder, list file), relative to the root."""
    path = _inside(root, os.path.join(root, entry), data_yaml, f"image set {entry!r}")
    if os.path.isdir(path):
        found = []
        for folder, subfolders, files in os.walk(path):
            subfolders.sort()
            found.extend(os.path.join(folder, name) for name in sorted(files)
                         if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS)
        if not found:
            raise ValueError(f"{data_yaml}: image folder {path} holds no "
                             f"{'/'.join(IMAGE_EXTENSIONS)} files.")
    elif os.path.isfile(path):
        found = []
        with open(path, encoding="utf-8") as file:
            for line in file:
                line = line.strip()
                if line:
                    base = os.path.dirname(path) if line.startswith("./") else root
                    found.append(_inside(root, os.path.join(base, line), data_yaml,
                                         f"image {line!r} of {entry}"))
    else:
        raise FileNotFoundError(f"{data_yaml}: image set {entry!r} not found under {root}.")
    return [os.path.relpath(p, os.path.realpath(root)) for p in found]


def label_path(image_path):
    """The YOLO label file of an image: its last `images` folder replaced by `labels`, `.txt`."""
    images, labels = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    if images in image_path:
        head, tail = image_path.rsplit(images, 1)
        image_path = head + labels + tail
    elif image_path.startswith(f"images{os.sep}"):
        image_path = f"labels{os.sep}" + image_path[len(f"images{os.sep}"):]
    return os.path.splitext(image_path)[0] + ".txt"


def _read_labels(path, where, num_classes, problems):
    """`(boxes [K, 4] relative cx cy w h, labels [K], lines)` of one label file."""
    boxes, labels, lines = [], [], 0
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except FileNotFoundError:
        return boxes, labels, 0  # no label file: a background image
    except (UnicodeDecodeError, OSError) as error:
        problems.add("in unreadable label files", f"{where}: {error}")
        return boxes, labels, 1
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        lines += 1
        detail = f"{where} line {number}: {line.strip()[:60]!r}"
        try:
            values = [float(v) for v in line.split()]
        except ValueError:
            values = []
        if len(values) < 5 or (len(values) > 5 and len(values) % 2 == 0):
            problems.add("malformed (need 'class cx cy w h' or a polygon)", detail)
            continue
        label = values[0]
        if not label.is_integer() or not 0 <= label < num_classes:
            problems.add("with unknown classes", detail)
            continue
        if len(values) == 5:
            boxes.append(values[1:])
        else:  # a polygon: its bounding box
            xs, ys = np.array(values[1::2]), np.array(values[2::2])
            boxes.append([(xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2,
                          xs.max() - xs.min(), ys.max() - ys.min()])
        labels.append(int(label))
    return boxes, labels, lines


def read_yolo_annotations(data_yaml, split, strict=False):
    """Parses one split of a YOLO dataset into records with relative `cx cy w h` boxes.

    Args:
        data_yaml: str, the `data.yaml`.
        split: str, `"train"`, `"valid"` or `"test"`.
        strict: bool, raise at the first bad label instead of counting it.
            Defaults to `False`.

    Returns:
        `(records, root, class_names, problems, num_annotations)`: `AnnotatedImage`
        records (image paths relative to `root`, boxes in `rel_center_xywh`).

    Raises:
        FileNotFoundError, ValueError: see the module docstring.
    """
    if split not in SPLIT_KEYS:
        raise ValueError(f"`split` must be one of {list(SPLIT_KEYS)}. Received: split={split!r}")
    root, splits, class_names = read_yolo_yaml(data_yaml)
    key = next((k for k in SPLIT_KEYS[split] if k in splits), None)
    if key is None:
        raise ValueError(f"{data_yaml} has no {' or '.join(SPLIT_KEYS[split])} entry for the "
                         f"{split!r} split.")
    entries = splits[key] if isinstance(splits[key], list) else [splits[key]]
    files = [name for entry in entries for name in _image_files(root, entry, data_yaml)]
    problems = Problems(data_yaml, strict)
    records, num_annotations = [], 0
    for name in files:
        labels_file = _inside(root, os.path.join(root, label_path(name)), data_yaml,
                              f"label file of {name!r}")
        boxes, labels, lines = _read_labels(labels_file, label_path(name), len(class_names),
                                            problems)
        num_annotations += lines
        records.append(AnnotatedImage(name, np.array(boxes, np.float32).reshape(-1, 4),
                                      np.array(labels, np.int32), f"({label_path(name)})"))
    return records, root, class_names, problems, num_annotations


def yolo_detection(
    data_yaml,
    split,
    image_size,
    batch_size,
    training=False,
    seed=None,
    max_boxes=None,
    strict=False,
    num_images=None,
    flip=True,
):
    """Loads one split of a YOLO-layout dataset as padded detection batches.

    Args:
        data_yaml: str, the dataset's `data.yaml` (see the module docstring).
        split: str, `"train"`, `"valid"` (the YAML's `val`) or `"test"`.
        image_size: int, side of the output images.
        batch_size: int.
        training: bool, training augmentation and shuffling. Defaults to `False`.
        seed: optional int.
        max_boxes: int, padded box count `M`; defaults to the most boxes of an image.
        strict: bool, raise at the first bad label or image. Defaults to `False`.
        num_images: optional int, use only the first images (sorted by path).
        flip: bool, random horizontal flips in training. Defaults to `True`.

    Returns:
        `DetectionData` yielding `(float32 [B, S, S, 3], {"boxes": [B, M, 4],
        "labels": [B, M]})`; `class_names` are the YAML's `names`.

    Example:
    >>> data = yolo_detection("datasets/coco8/data.yaml", "valid", 320, 16)
    >>> data.num_examples, data.class_names
    (4, ['circle', 'cross', 'ring', 'square', 'star', 'triangle'])
    """
    records, root, class_names, problems, num_annotations = read_yolo_annotations(
        data_yaml, split, strict)
    return annotated_image_data(
        records, root, BOX_FORMAT, class_names, problems, num_annotations, image_size,
        batch_size, training, seed, max_boxes, num_images, flip=flip,
    )
