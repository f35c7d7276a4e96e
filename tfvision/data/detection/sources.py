"""One entry point for every detection data source, chosen by a spec string.

| spec | data |
| --- | --- |
| `shapes` | the built-in synthetic shapes (`synthetic_detection`) |
| `shapes-imbalanced` | the same with rings at 5 % of the objects, the other classes 19 % each |
| `voc2007`, `voc2012` | Pascal VOC through TensorFlow Datasets (`voc_detection`) |
| `coco:ANNOTATIONS.json:IMAGE_DIR` | a COCO-format JSON and its image folder (`coco_detection`) |
| `csv:FILE.csv:IMAGE_DIR` | the lecture's CSV and its image folder (`csv_detection`) |
| `voc:XML_DIR:IMAGE_DIR` | a folder of Pascal VOC XML files and its images (`voc_xml_detection`) |
| `yolo:DATA_YAML` | a YOLO-layout dataset: `data.yaml`, `images/`, `labels/*.txt` (`yolo_detection`) |

Splits of file sources: a `{split}` placeholder in either path is replaced by the
split name, so `coco:ann/{split}.json:images/{split}` reads `ann/train.json` with
`images/train` for `"train"` and `ann/valid.json` with `images/valid` for
`"valid"`. A path without the placeholder is used as it is for whatever split
is asked for (for example to evaluate on one file). For a CSV with `{split}`,
the training CSV (VOC: the training XML folder) defines the classes, so every
split has the same label ids. A YOLO dataset names its splits in its `data.yaml`
(`valid` is its `val`).
"""

import dataclasses
import os

from tfvision.data.detection.annotated_images import annotated_image_data, substitute_split
from tfvision.data.detection.coco import read_coco_annotations
from tfvision.data.detection.csv_files import csv_class_names, read_csv_annotations
from tfvision.data.detection.mixing import check_mixing
from tfvision.data.detection.pipeline import synthetic_detection
from tfvision.data.detection.voc_tfds import VOC_NAMES, voc_detection
from tfvision.data.detection.voc_xml import read_voc_annotations, voc_class_names
from tfvision.data.detection.yolo import BOX_FORMAT as YOLO_BOX_FORMAT
from tfvision.data.detection.yolo import read_yolo_annotations
from tfvision.data.synthetic.shape_drawing import SHAPE_CLASSES

SHAPES_SPLIT_SIZES = {"train": 2000, "valid": 300, "test": 300}
# `shapes-imbalanced`, a long tail in miniature: one class at 5 % of the objects, the
# others equal (19 % each). The rare class is the ring, whose outline is the circle's (a
# detector short of rings may call them circles), yet learnable from 5 %: AP50 0.78 in
# `make demo`'s settings. A rare triangle, the weakest class even when common (0.66),
# fell to 0.42, and to 0.44 with class weights: it measures triangles more than balance.
IMBALANCED_SHAPES_RARE_CLASS = "ring"
IMBALANCED_SHAPES_CLASS_WEIGHTS = tuple(
    5.0 if name == IMBALANCED_SHAPES_RARE_CLASS else 19.0 for name in SHAPE_CLASSES
)
SHAPES_CLASS_WEIGHTS = {"shapes": None, "shapes-imbalanced": IMBALANCED_SHAPES_CLASS_WEIGHTS}
FILE_KINDS = ("coco", "csv", "voc", "yolo")
_SPEC_HELP = ("shapes, shapes-imbalanced, voc2007, voc2012, coco:ANNOTATIONS.json:IMAGE_DIR, "
              "csv:FILE.csv:IMAGE_DIR, voc:XML_DIR:IMAGE_DIR or yolo:DATA_YAML")


def _file_spec(spec):
    kind, _, rest = spec.partition(":")
    annotation_file, separator, image_dir = rest.partition(":")
    if not separator or not annotation_file or not image_dir:
        raise ValueError(
            f"A {kind} data spec is '{kind}:ANNOTATIONS:IMAGE_DIR' (either path may hold "
            f"{{split}}). Received: spec={spec!r}"
        )
    return annotation_file, image_dir


@dataclasses.dataclass
class ParsedAnnotations:
    """One split of a file source, parsed but not yet checked against its images.

    Attributes:
        records: list of `AnnotatedImage`.
        image_dir: str, the folder the records' file names are relative to.
        box_format: str, the Keras box format of the records' boxes.
        class_names: list of str.
        problems: `Problems`, the annotations the parser dropped.
        num_annotations: int, annotations in the source.
    """

    records: list
    image_dir: str
    box_format: str
    class_names: list
    problems: object
    num_annotations: int


def file_kind(spec):
    """The kind of a file-source spec (`coco`, `csv`, `voc`, `yolo`); `ValueError` for others."""
    kind = spec.partition(":")[0] if isinstance(spec, str) else None
    if kind not in FILE_KINDS:
        kinds = ", ".join(f"{k}:..." for k in FILE_KINDS)
        raise ValueError(f"`spec` must be a file source ({kinds}). Received: spec={spec!r}")
    return kind


def parse_annotations(spec, split, strict=False):
    """Parses one split of a file source (`coco:`, `csv:`, `voc:`, `yolo:` specs).

    Returns:
        `ParsedAnnotations`; `annotated_image_data` or `resolve_annotated_images`
        take it on.

    Raises:
        ValueError: not a file spec, no classes, or a bad file (see `detection_data`).
        FileNotFoundError: a missing annotation file or folder.
    """
    kind, rest = file_kind(spec), spec.partition(":")[2]
    if kind == "yolo":
        if not rest:
            raise ValueError(f"A yolo data spec is 'yolo:DATA_YAML'. Received: spec={spec!r}")
        records, root, class_names, problems, count = read_yolo_annotations(rest, split, strict)
        return ParsedAnnotations(records, root, YOLO_BOX_FORMAT, class_names, problems, count)
    annotation_file, image_dir = _file_spec(spec)
    source = substitute_split(annotation_file, split)
    image_dir = substitute_split(image_dir, split)
    train_source = substitute_split(annotation_file, "train")
    if kind == "coco":
        records, class_names, problems, count = read_coco_annotations(source, strict)
        box_format, empty = "xywh", f"{source} lists no categories."
    elif kind == "voc":
        class_source = train_source if os.path.isdir(train_source) else source
        class_names = voc_class_names(class_source)
        empty = f"{class_source} names no objects, so no classes."
        records, problems, count = read_voc_annotations(source, class_names, strict)
        box_format = "xyxy"
    else:
        class_source = train_source if os.path.isfile(train_source) else source
        class_names, by_id = csv_class_names(class_source)
        empty = f"{class_source} has no labels, so no classes."
        records, problems, count = read_csv_annotations(source, class_names, by_id, strict)
        box_format = "yxyx"
    if not class_names:
        raise ValueError(empty)
    return ParsedAnnotations(records, image_dir, box_format, class_names, problems, count)


def detection_data(
    spec,
    split,
    image_size,
    batch_size,
    training=None,
    seed=None,
    max_boxes=None,
    strict=False,
    num_images=None,
    flip=True,
    mosaic=0.0,
    mixup=0.0,
    mixing_epochs=None,
):
    """Loads one split of a detection dataset named by `spec` as padded batches.

    Bad input in file sources (see `coco_detection`, `csv_detection`,
    `voc_xml_detection` and `yolo_detection` for the full list): a file that is not valid JSON /
    CSV, lacks keys or columns, or names an image outside `IMAGE_DIR` raises
    `ValueError` naming it (an unreadable VOC XML file skips its one image,
    counted); missing or
    undecodable images are skipped (`SkippedImagesWarning`); annotations with
    unknown image or class ids and boxes that are NaN, inverted, of zero area or
    outside the image are dropped and counted (`SkippedAnnotationsWarning`,
    `dropped_boxes`); images without boxes are examples whose targets are all
    padding. `strict=True` raises at the first of these problems instead.

    Args:
        spec: str, one of `shapes`, `shapes-imbalanced`, `voc2007`, `voc2012`,
            `coco:ANNOTATIONS.json:IMAGE_DIR`, `csv:FILE.csv:IMAGE_DIR`,
            `voc:XML_DIR:IMAGE_DIR`, `yolo:DATA_YAML`.
        split: str, `"train"`, `"valid"` or `"test"`.
        image_size: int, side of the square output images.
        batch_size: int.
        training: bool, training augmentation and shuffling; defaults to
            `split == "train"`.
        seed: optional int for shuffling and augmentation (and the shapes'
            generation, where `None` means `0`).
        max_boxes: int, padded box count `M`. Defaults to 4 for shapes, 42 for
            VOC and the most boxes of one image for files.
        strict: bool, raise at the first bad annotation or image. Defaults to `False`.
        num_images: optional int, examples to use; for shapes the split size
            (defaults to 2000 / 300 / 300).
        flip: bool, random horizontal flips in training: turn them off where a
            mirrored object is another class or none (digits, text). Defaults to `True`.
        mosaic: float in [0, 1], training mosaic probability (`mosaic_batch`);
            the box count becomes `4 M`. Defaults to `0.0`.
        mixup: float in [0, 1], training mixup probability (`mixup_batch`);
            the box count doubles. Defaults to `0.0`.
        mixing_epochs: int or None, mosaic and mixup only while the epoch `fit`
            is in is below it (`epochs - N` closes them for the last `N`).
            Defaults to `None` (always).

    Returns:
        `DetectionData(dataset, class_names, num_examples, dropped_boxes,
        class_counts)` (`class_counts` `None` for VOC); the
        dataset yields `(float32 [B, S, S, 3] in 0..255, {"boxes": float32
        [B, M, 4] relative yxyx, "labels": int32 [B, M], -1 at padding})`.

    Raises:
        ValueError: an unknown spec or split, or a bad file (see above).
        FileNotFoundError: a missing annotation file or image folder.
        RuntimeError: VOC not downloadable (offline); the message says how to
            provide it.

    Example:
    >>> data = detection_data("shapes", "valid", image_size=64, batch_size=8, num_images=16)
    >>> images, targets = next(iter(data.dataset))
    >>> images.shape, targets["boxes"].shape
    (TensorShape([8, 64, 64, 3]), TensorShape([8, 4, 4]))
    """
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"`spec` must be one of {_SPEC_HELP}. Received: spec={spec!r}")
    check_mixing(mosaic, mixup, mixing_epochs)  # before reading any file
    mixing = dict(mosaic=mosaic, mixup=mixup, mixing_epochs=mixing_epochs)
    training = split == "train" if training is None else training
    if spec in SHAPES_CLASS_WEIGHTS:
        if num_images is None and split not in SHAPES_SPLIT_SIZES:
            raise ValueError(
                f"`split` must be one of {sorted(SHAPES_SPLIT_SIZES)} for {spec}. "
                f"Received: split={split!r}"
            )
        return synthetic_detection(
            num_images or SHAPES_SPLIT_SIZES[split], split, image_size, batch_size,
            training=training, seed=0 if seed is None else seed, max_boxes=max_boxes, flip=flip,
            class_weights=SHAPES_CLASS_WEIGHTS[spec], **mixing,
        )
    if spec in VOC_NAMES:
        return voc_detection(spec, split, image_size, batch_size, training=training,
                             seed=seed, max_boxes=max_boxes, num_images=num_images, flip=flip,
                             **mixing)
    if spec.partition(":")[0] not in FILE_KINDS:
        raise ValueError(f"`spec` must be one of {_SPEC_HELP}. Received: spec={spec!r}")
    parsed = parse_annotations(spec, split, strict)
    return annotated_image_data(
        parsed.records, parsed.image_dir, parsed.box_format, parsed.class_names, parsed.problems,
        parsed.num_annotations, image_size, batch_size, training, seed, max_boxes, num_images,
        flip=flip, **mixing,
    )
