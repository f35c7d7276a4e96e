"""Converting detection data between file formats: COCO JSON, YOLO, Pascal VOC XML and CSV.

`convert_detection(spec, to, out_dir)` reads every split of any file source the way
training reads it (`parse_annotations`, then `resolve_annotated_images`: bad boxes and
unreadable images are dropped and counted, never passed on), copies the images, and
writes the annotations in the target format:

| `to` | layout written under `OUT` | spec that reads it back |
| --- | --- | --- |
| `coco` | `{split}.json`, images in `{split}/` | `coco:OUT/{split}.json:OUT/{split}` |
| `csv` | `{split}.csv` (`file,bbox,label`), images in `{split}/` | `csv:OUT/{split}.csv:OUT/{split}` |
| `voc` | `{split}/Annotations/*.xml`, images in `{split}/JPEGImages/` | `voc:OUT/{split}/Annotations:OUT/{split}/JPEGImages` |
| `yolo` | `data.yaml`, `images/{split}/`, `labels/{split}/*.txt` | `yolo:OUT/data.yaml` |

An image keeps its path relative to the folder all images of its split share. Pixel coordinates are written
to 1/1000 px, YOLO's relative ones to 7 decimals. COCO and YOLO keep the class order;
CSV and VOC readers sort the class names, so their label ids follow the names.
"""

import csv
import dataclasses
import json
import os
import shutil
import xml.etree.ElementTree as ElementTree

import numpy as np

from tfvision.data.detection.annotated_images import resolve_annotated_images, substitute_split
from tfvision.data.detection.sources import file_kind, parse_annotations
from tfvision.data.detection.yolo import SPLIT_KEYS, read_yolo_yaml
from tfvision.ops import from_internal

FORMATS = ("coco", "csv", "voc", "yolo")
SPLITS = ("train", "valid", "test")
_DECIMALS = 3  # pixels
_RELATIVE_DECIMALS = 7


@dataclasses.dataclass
class DetectionSplit:
    """One split of a detection source, checked against its images.

    Attributes:
        files: list of str, image paths relative to `image_dir`.
        image_dir: str, the folder they are in.
        sizes: list of `(height, width)`.
        boxes: list of float32 `[K, 4]` relative `yxyx` boxes per image.
        labels: list of int32 `[K]` labels per image.
        class_names: list of str.
        dropped: int, annotations dropped while reading.
    """

    files: list
    image_dir: str
    sizes: list
    boxes: list
    labels: list
    class_names: list
    dropped: int = 0

    @property
    def num_boxes(self):
        return int(sum(len(labels) for labels in self.labels))

    def pixel_boxes(self, index, box_format):
        """The boxes of image `index` in a pixel format (`"xyxy"`, `"yxyx"`, `"xywh"`)."""
        height, width = self.sizes[index]
        boxes = np.asarray(from_internal(self.boxes[index].reshape(-1, 4), box_format,
                                         height=height, width=width))
        return np.round(boxes.reshape(-1, 4).astype(np.float64), _DECIMALS)


def read_detection_split(spec, split, strict=False):
    """Reads one split of a file source (`coco:`, `csv:`, `voc:`, `yolo:`) as a `DetectionSplit`."""
    parsed = parse_annotations(spec, split, strict)
    records, paths, sizes, boxes, labels = resolve_annotated_images(
        parsed.records, parsed.image_dir, parsed.box_format, parsed.problems,
        parsed.num_annotations)
    # Names relative to the folder all the split's images share (a YOLO split's
    # `images/train`, not the dataset root).
    real_paths = [os.path.realpath(path) for path in paths]
    root = os.path.commonpath([os.path.dirname(path) for path in real_paths])
    kept = labels >= 0
    return DetectionSplit(
        files=[os.path.relpath(path, root) for path in real_paths],
        image_dir=root,
        sizes=[tuple(int(v) for v in size) for size in sizes],
        boxes=[boxes[i][kept[i]] for i in range(len(paths))],
        labels=[labels[i][kept[i]] for i in range(len(paths))],
        class_names=list(parsed.class_names),
        dropped=parsed.problems.total,
    )


def available_splits(spec):
    """The splits of a file source that exist: those its `data.yaml` names (YOLO), those
    whose `{split}` files exist, or `["train"]` for a spec without `{split}`."""
    kind, rest = file_kind(spec), spec.partition(":")[2]
    if kind == "yolo":
        _, splits, _ = read_yolo_yaml(rest)
        return [s for s in SPLITS if any(key in splits for key in SPLIT_KEYS[s])]
    annotations = rest.partition(":")[0]
    if "{split}" not in annotations:
        return ["train"]
    return [s for s in SPLITS if os.path.exists(substitute_split(annotations, s))]


def _fresh(path, overwrite):
    if os.path.exists(path) and (not os.path.isdir(path) or os.listdir(path)):
        if not overwrite:
            raise FileExistsError(f"{path} already exists; choose another folder or pass "
                                  "overwrite=True to replace it.")
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


def _copy_images(data, target_dir):
    for name in data.files:
        target = os.path.join(target_dir, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(os.path.join(data.image_dir, name), target)


def write_coco(data, out_dir, split, overwrite=False):
    """Writes `OUT/{split}.json` and copies the images to `OUT/{split}/`."""
    annotation_file = os.path.join(out_dir, f"{split}.json")
    for path in (annotation_file, os.path.join(out_dir, split)):
        _fresh(path, overwrite)
    images, annotations = [], []
    for index, name in enumerate(data.files):
        height, width = data.sizes[index]
        images.append({"id": index, "file_name": name.replace(os.sep, "/"),
                       "width": width, "height": height})
        for (x, y, w, h), label in zip(data.pixel_boxes(index, "xywh").tolist(),
                                       data.labels[index].tolist()):
            annotations.append({"id": len(annotations) + 1, "image_id": index,
                                "category_id": int(label) + 1, "bbox": [x, y, w, h],
                                "area": round(w * h, _DECIMALS), "iscrowd": 0})
    categories = [{"id": i + 1, "name": name} for i, name in enumerate(data.class_names)]
    os.makedirs(out_dir, exist_ok=True)
    _copy_images(data, os.path.join(out_dir, split))
    with open(annotation_file, "w", encoding="utf-8") as file:
        json.dump({"images": images, "annotations": annotations, "categories": categories}, file)
    return "coco:" + os.path.join(out_dir, "{split}.json") + ":" + os.path.join(out_dir, "{split}")


def write_csv(data, out_dir, split, overwrite=False):
    """Writes `OUT/{split}.csv` (`file,bbox,label`, pixel `yxyx`) and copies the images."""
    annotation_file = os.path.join(out_dir, f"{split}.csv")
    for path in (annotation_file, os.path.join(out_dir, split)):
        _fresh(path, overwrite)
    unsafe = [n for n in data.class_names if not n or any(c.isspace() for c in n)]
    if unsafe:
        raise ValueError(f"The CSV format separates labels by spaces, so class names cannot "
                         f"hold whitespace: {unsafe}")
    rows = [["file", "bbox", "label"]]
    for index, name in enumerate(data.files):
        boxes = data.pixel_boxes(index, "yxyx")
        rows.append([name.replace(os.sep, "/"),
                     " ".join(format(v, ".10g") for v in boxes.reshape(-1).tolist()),
                     " ".join(data.class_names[i] for i in data.labels[index].tolist())])
    os.makedirs(out_dir, exist_ok=True)
    _copy_images(data, os.path.join(out_dir, split))
    with open(annotation_file, "w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows(rows)
    return "csv:" + os.path.join(out_dir, "{split}.csv") + ":" + os.path.join(out_dir, "{split}")


def write_voc(data, out_dir, split, overwrite=False):
    """Writes one VOC XML file per image to `OUT/{split}/Annotations/`, images to `JPEGImages/`."""
    split_dir = os.path.join(out_dir, split)
    _fresh(split_dir, overwrite)
    annotation_dir = os.path.join(split_dir, "Annotations")
    os.makedirs(annotation_dir)
    _copy_images(data, os.path.join(split_dir, "JPEGImages"))
    for index, name in enumerate(data.files):
        height, width = data.sizes[index]
        root = ElementTree.Element("annotation")
        ElementTree.SubElement(root, "filename").text = name.replace(os.sep, "/")
        size = ElementTree.SubElement(root, "size")
        for tag, value in (("width", width), ("height", height), ("depth", 3)):
            ElementTree.SubElement(size, tag).text = str(value)
        for box, label in zip(data.pixel_boxes(index, "xyxy").tolist(),
                              data.labels[index].tolist()):
            item = ElementTree.SubElement(root, "object")
            ElementTree.SubElement(item, "name").text = data.class_names[label]
            ElementTree.SubElement(item, "difficult").text = "0"
            bndbox = ElementTree.SubElement(item, "bndbox")
            for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), box):
                ElementTree.SubElement(bndbox, tag).text = format(value, ".10g")
        stem = os.path.splitext(name)[0].replace(os.sep, "__")
        ElementTree.ElementTree(root).write(os.path.join(annotation_dir, f"{stem}.xml"),
                                            encoding="utf-8", xml_declaration=True)
    return ("voc:" + os.path.join(out_dir, "{split}", "Annotations") + ":"
            + os.path.join(out_dir, "{split}", "JPEGImages"))


def yolo_label_text(boxes, labels):
    """YOLO label lines (`class cx cy w h`, relative) of relative `yxyx` boxes."""
    centres = np.asarray(from_internal(np.reshape(boxes, (-1, 4)), "rel_center_xywh"))
    return "".join(
        f"{int(label)} " + " ".join(format(round(float(v), _RELATIVE_DECIMALS), ".7g")
                                    for v in box) + "\n"
        for box, label in zip(centres.reshape(-1, 4).tolist(), np.reshape(labels, -1).tolist()))


def write_yolo_yaml(out_dir, split, class_names):
    """Adds `split` to `OUT/data.yaml` (written with `names` if new); returns its path.

    Raises:
        ValueError: the file exists with other class names.
    """
    import yaml

    path = os.path.join(out_dir, "data.yaml")
    content = {"path": ".", "names": dict(enumerate(class_names))}
    if os.path.isfile(path):
        root, splits, names = read_yolo_yaml(path)
        if names != list(class_names):
            raise ValueError(f"{path} names the classes {names}, not {list(class_names)}.")
        content.update(splits)
    key = SPLIT_KEYS[split][0]
    content[key] = f"images/{split}"
    ordered = {k: content[k] for k in ("path", "train", "val", "valid", "test", "names")
               if k in content}
    os.makedirs(out_dir, exist_ok=True)
    with open(path, "w", encoding="utf-8") as file:
        yaml.safe_dump(ordered, file, sort_keys=False, allow_unicode=True)
    return path


def write_yolo(data, out_dir, split, overwrite=False):
    """Writes `OUT/images/{split}/`, `OUT/labels/{split}/*.txt` and updates `OUT/data.yaml`."""
    image_dir = os.path.join(out_dir, "images", split)
    label_dir = os.path.join(out_dir, "labels", split)
    for path in (image_dir, label_dir):
        _fresh(path, overwrite)
    _copy_images(data, image_dir)
    for index, name in enumerate(data.files):
        target = os.path.join(label_dir, os.path.splitext(name)[0] + ".txt")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w", encoding="utf-8") as file:
            file.write(yolo_label_text(data.boxes[index], data.labels[index]))
    return "yolo:" + write_yolo_yaml(out_dir, split, data.class_names)


WRITERS = {"coco": write_coco, "csv": write_csv, "voc": write_voc, "yolo": write_yolo}


def convert_detection(spec, to, out_dir, splits=None, strict=False, overwrite=False):
    """Converts the splits of a file source to another detection format.

    Args:
        spec: str, a file source: `coco:...`, `csv:...`, `voc:...` or `yolo:DATA_YAML`.
        to: str, `"coco"`, `"csv"`, `"voc"` or `"yolo"`.
        out_dir: str, the output folder (layouts in the module docstring).
        splits: list of split names, or `None` for every split the source has
            (`available_splits`).
        strict: bool, raise at the first bad annotation or image instead of
            dropping and counting it. Defaults to `False`.
        overwrite: bool, replace output files and folders that exist instead of
            raising `FileExistsError`. Defaults to `False`.

    Returns:
        `(read_back_spec, {split: {"images", "boxes", "dropped"}})`.

    Raises:
        ValueError: an unknown format or spec, or a bad source (see `detection_data`).
        FileExistsError: an output exists and `overwrite` is false.

    Example:
    >>> spec, counts = convert_detection("coco:ann/{split}.json:images/{split}", "yolo", "out")
    >>> spec, counts
    ('yolo:out/data.yaml', {'train': {'images': 4, 'boxes': 9, 'dropped': 0}})
    """
    if to not in WRITERS:
        raise ValueError(f"`to` must be one of {FORMATS}. Received: to={to!r}")
    splits = available_splits(spec) if splits is None else list(splits)
    if not splits:
        raise ValueError(f"{spec} has no train, valid or test split to convert.")
    unknown = [s for s in splits if s not in SPLITS]
    if unknown:
        raise ValueError(f"Splits must be among {SPLITS}. Received: {unknown}")
    summary, read_back, class_names = {}, None, None
    for split in splits:
        data = read_detection_split(spec, split, strict)
        if class_names is not None and data.class_names != class_names:
            raise ValueError(f"The {split} split of {spec} has the classes {data.class_names}, "
                             f"the first split {class_names}.")
        class_names = data.class_names
        read_back = WRITERS[to](data, out_dir, split, overwrite=overwrite)
        summary[split] = {"images": len(data.files), "boxes": data.num_boxes,
                          "dropped": data.dropped}
    return read_back, summary
