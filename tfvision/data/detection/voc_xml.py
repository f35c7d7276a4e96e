"""Detection data from a folder of Pascal VOC XML files and an image folder.

One XML file per image, as the VOC devkit's `Annotations/` and labelling tools
(LabelImg, CVAT's VOC export) write them:

    <annotation>
      <filename>000005.jpg</filename>
      <size><width>500</width><height>375</height><depth>3</depth></size>
      <object>
        <name>chair</name><difficult>0</difficult>
        <bndbox><xmin>263</xmin><ymin>211</ymin><xmax>324</xmax><ymax>339</ymax></bndbox>
      </object>
    </annotation>

`filename` is the image path relative to the image folder; boxes are pixel
`x_min y_min x_max y_max`, divided by the image size as TensorFlow Datasets'
VOC builder does (so both VOC sources give the same boxes). Objects marked
`difficult` are left out of the targets, as in `voc_detection`. The class names
are the sorted object names of the `class_source` folder (the training split's),
which for VOC itself are its 20 classes in the usual order.

What happens to bad input:

- a missing annotation folder, or one without `.xml` files:
  `FileNotFoundError` / `ValueError` naming it.
- an XML file that does not parse, declares a DTD or entities (refused
  unparsed: no entity expansion), or lacks `filename`: its image is skipped
  and the file counted (`SkippedAnnotationsWarning`, `dropped_boxes`).
- an object without `name` or a 4-number `bndbox`: dropped and counted.
- an unknown class: the box is dropped and counted.
- an image path that leaves the image folder: `ValueError`; a box that is NaN,
  inverted, of zero area or outside the image, an image file that is missing or
  not an image, a stated size that differs from the file: as for every file
  source (see `annotated_images`).

With `strict=True` each of the counted cases raises `ValueError` instead.
"""

import math
import os
import xml.etree.ElementTree as ElementTree

import numpy as np

from tfvision.data.detection.annotated_images import AnnotatedImage, Problems, annotated_image_data

_COORDINATES = ("xmin", "ymin", "xmax", "ymax")
_UNREADABLE = "in unreadable XML files (image skipped)"


def _xml_files(annotation_dir):
    if not os.path.isdir(annotation_dir):
        raise FileNotFoundError(f"VOC annotation folder not found: {annotation_dir}")
    names = sorted(n for n in os.listdir(annotation_dir) if n.lower().endswith(".xml"))
    if not names:
        raise ValueError(f"{annotation_dir} holds no .xml annotation files.")
    return [os.path.join(annotation_dir, name) for name in names]


def _parse(path):
    """The XML root of `path`, or `ValueError` saying why it cannot be read."""
    with open(path, "rb") as handle:
        content = handle.read()
    if b"<!DOCTYPE" in content or b"<!ENTITY" in content:
        raise ValueError("declares a DTD or entities, which are refused")
    try:
        root = ElementTree.fromstring(content)
    except ElementTree.ParseError as error:
        raise ValueError(f"is not valid XML: {error}") from None
    if root.find("filename") is None or not (root.findtext("filename") or "").strip():
        raise ValueError("has no <filename>")
    return root


def _number(element, tag):
    try:
        return float(element.findtext(tag))
    except (TypeError, ValueError):
        return None


def _stated_size(root):
    height, width = _number(root, "size/height"), _number(root, "size/width")
    if height is None or width is None or not (math.isfinite(height) and math.isfinite(width)):
        return None
    return int(height), int(width)


def voc_class_names(annotation_dir):
    """The sorted object names of the readable XML files in `annotation_dir`."""
    names = set()
    for path in _xml_files(annotation_dir):
        try:
            root = _parse(path)
        except ValueError:
            continue
        names.update((o.findtext("name") or "").strip() for o in root.iter("object"))
    return sorted(names - {""})


def read_voc_annotations(annotation_dir, class_names, strict=False):
    """Parses every XML file of `annotation_dir` into a record with `xyxy` pixel boxes.

    Args:
        annotation_dir: str, the folder of `.xml` files.
        class_names: list of str, from `voc_class_names` of the training folder.
        strict: bool, raise at the first bad file or object. Defaults to `False`.

    Returns:
        `(records, problems, num_annotations)`.
    """
    problems = Problems(annotation_dir, strict)
    label_of = {name: i for i, name in enumerate(class_names)}
    records, num_annotations = [], 0
    for path in _xml_files(annotation_dir):
        where = os.path.basename(path)
        try:
            root = _parse(path)
        except ValueError as error:
            num_annotations += 1
            problems.add(_UNREADABLE, f"{where} {error}")
            continue
        boxes, labels = [], []
        for index, item in enumerate(root.iter("object")):
            num_annotations += 1
            name = (item.findtext("name") or "").strip()
            values = [_number(item, f"bndbox/{c}") for c in _COORDINATES]
            if not name or None in values:
                problems.add("malformed (need name and bndbox xmin ymin xmax ymax)",
                             f"{where} object #{index}")
            elif name not in label_of:
                problems.add("with unknown classes", f"{where} object #{index}: {name!r}")
            elif (item.findtext("difficult") or "0").strip() != "1":
                boxes.append(values)
                labels.append(label_of[name])
        records.append(AnnotatedImage(root.findtext("filename").strip(),
                                      np.array(boxes, np.float32).reshape(-1, 4),
                                      np.array(labels, np.int32), f"({where})",
                                      _stated_size(root)))
    return records, problems, num_annotations


def voc_xml_detection(
    annotation_dir,
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
    """Loads a folder of VOC XML files and its image folder as padded detection batches.

    Args:
        annotation_dir: str, the folder of `.xml` files (see the module docstring).
        image_dir: str, the folder the files' `filename`s are relative to.
        image_size: int, side of the output images.
        batch_size: int.
        training: bool, training augmentation and shuffling. Defaults to `False`.
        seed: optional int.
        max_boxes: int, padded box count `M`; defaults to the most boxes of an image.
        strict: bool, raise at the first bad file, object or image. Defaults to `False`.
        num_images: optional int, use only the first files (sorted by name).
        class_source: str, the annotation folder whose object names define the
            classes (the training split's). Defaults to `annotation_dir`.
        flip: bool, random horizontal flips in training (off for digits, text
            and other objects that mirroring changes). Defaults to `True`.

    Returns:
        `DetectionData` yielding `(float32 [B, S, S, 3], {"boxes": [B, M, 4],
        "labels": [B, M]})`.

    References:
        Everingham et al., "The PASCAL Visual Object Classes (VOC) Challenge", IJCV 2010.

    Example:
    >>> data = voc_xml_detection("VOC2007/Annotations", "VOC2007/JPEGImages", 300, 16)
    >>> data.num_examples, data.class_names
    (4, ['circle', 'cross', 'ring', 'square', 'star', 'triangle'])
    """
    class_names = voc_class_names(class_source or annotation_dir)
    if not class_names:
        raise ValueError(f"{class_source or annotation_dir} names no objects, so no classes.")
    records, problems, num_annotations = read_voc_annotations(annotation_dir, class_names, strict)
    return annotated_image_data(
        records, image_dir, "xyxy", class_names, problems, num_annotations, image_size,
        batch_size, training, seed, max_boxes, num_images, flip=flip,
    )
