"""Detection data from a list of annotated image files (what COCO, CSV and VOC XML parse to).

A source (a COCO JSON, a CSV, a folder of VOC XML files) is parsed into
`AnnotatedImage` records: an image path relative to the image folder, its
boxes in pixels and their labels.
`annotated_image_data` then does what every file source needs, in one place:

1. refuses an image path that escapes the image folder (absolute, `..`);
2. decodes every image once (`scan_images`): a missing, empty, truncated or
   non-image file is skipped with a `SkippedImagesWarning`;
3. converts the pixel boxes to relative `yxyx` with each image's real size
   (`tfvision.ops.to_internal`), and drops with `sanitize_boxes` the boxes that
   are NaN, negative-sized, inverted, of zero area or outside the image;
4. warns once (`SkippedAnnotationsWarning`) with the counts of dropped
   annotations, by reason, with the first examples;
5. builds the `tf.data` pipeline (`detection_batches`), which reads and decodes
   the files inside `tf.data`.

With `strict=True` the first problem raises a `ValueError` naming the file.
"""

import dataclasses
import os
import warnings

import numpy as np
import tensorflow as tf

from tfvision.data.detection.pipeline import DetectionData, boxes_per_class, detection_batches
from tfvision.data.detection.boxes import sanitize_boxes
from tfvision.data.image_decoding import decode_image, scan_images
from tfvision.data.classification.image_folder import SkippedImagesWarning
from tfvision.ops import to_internal

_SHOWN = 5


class SkippedAnnotationsWarning(UserWarning):
    """Some box annotations were invalid and were left out of a dataset."""


@dataclasses.dataclass
class AnnotatedImage:
    """One image of a file source.

    Attributes:
        file_name: str, the path relative to the image folder, as in the source file.
        boxes: float32 `[K, 4]` pixel boxes in the source's box format.
        labels: int32 `[K]`, indices into the class names.
        where: str, where the record is in the source file (e.g. `"line 3"`),
            for messages.
        size: optional `(height, width)` the source file states for the image.
    """

    file_name: str
    boxes: np.ndarray
    labels: np.ndarray
    where: str = ""
    size: tuple = None


class Problems:
    """Counts annotation problems by reason, keeping the first examples for the message.

    Args:
        source_file: str, the file the problems are in; every message names it.
        strict: bool, raise `ValueError` at the first problem instead of counting.
    """

    def __init__(self, source_file, strict):
        self.source_file = source_file
        self.strict = strict
        self.counts = {}
        self.examples = []

    def add(self, reason, detail, count=1):
        """Records `count` annotations dropped for `reason` (`detail` locates one)."""
        if self.strict:
            raise ValueError(f"{self.source_file}: {reason}: {detail}")
        self.counts[reason] = self.counts.get(reason, 0) + count
        if len(self.examples) < _SHOWN:
            self.examples.append(detail)

    @property
    def total(self):
        return sum(self.counts.values())

    def warn(self, num_annotations):
        """Emits one `SkippedAnnotationsWarning` if anything was dropped."""
        if not self.total:
            return
        reasons = ", ".join(f"{n} {reason}" for reason, n in self.counts.items())
        warnings.warn(
            f"Dropped {self.total} of {num_annotations} box annotations in {self.source_file}: "
            f"{reasons} (e.g. {'; '.join(self.examples)}). Pass strict=True to stop at the "
            "first one.",
            SkippedAnnotationsWarning,
            stacklevel=5,  # the caller of detection_data
        )


def substitute_split(spec_part, split):
    """`spec_part` with `{split}` replaced by `split` (the per-split file convention)."""
    return spec_part.replace("{split}", str(split))


def resolve_image_path(image_dir, file_name, source_file, where=""):
    """The path of `file_name` inside `image_dir`, refusing one that escapes it.

    Raises:
        ValueError: `file_name` is absolute or leaves `image_dir` (through `..`
            or a symbolic link), naming `source_file`.
    """
    root = os.path.realpath(image_dir)
    path = os.path.realpath(os.path.join(root, file_name))
    if os.path.isabs(file_name) or os.path.commonpath([root, path]) != root:
        raise ValueError(
            f"{source_file}{' ' + where if where else ''}: image path {file_name!r} escapes the "
            f"image folder {image_dir}; paths must be relative and stay inside it."
        )
    return path


def _skip_unreadable(records, paths, image_dir, strict):
    sizes, unreadable = scan_images(paths)
    if unreadable and strict:
        path, reason = unreadable[0]
        raise ValueError(f"Cannot decode image {path}: {reason}")
    if unreadable:
        shown = "; ".join(
            f"{os.path.relpath(p, image_dir)} ({r})" for p, r in unreadable[:_SHOWN]
        )
        more = f"; and {len(unreadable) - _SHOWN} more" if len(unreadable) > _SHOWN else ""
        warnings.warn(
            f"Skipped {len(unreadable)} of {len(paths)} image files in {image_dir} that are "
            f"missing or could not be decoded: {shown}{more}. Pass strict=True to stop at "
            "the first one.",
            SkippedImagesWarning,
            stacklevel=5,  # the caller of detection_data
        )
    kept = [i for i, size in enumerate(sizes) if size is not None]
    return [records[i] for i in kept], [paths[i] for i in kept], [sizes[i] for i in kept]


def _check_stated_sizes(records, sizes, source_file, strict):
    """Warns (or raises) when the source states an image size the file does not have."""
    wrong = [
        f"{r.file_name}: stated {r.size[1]}x{r.size[0]}, file {w}x{h}"
        for r, (h, w) in zip(records, sizes)
        if r.size is not None and tuple(r.size) != (h, w)
    ]
    if wrong and strict:
        raise ValueError(f"{source_file}: image size differs from the file: {wrong[0]}")
    if wrong:
        warnings.warn(
            f"{len(wrong)} images in {source_file} have a width / height different from their "
            f"file (e.g. {'; '.join(wrong[:_SHOWN])}); their boxes are converted with the "
            "file's size. A rotated or replaced image would make them wrong.",
            UserWarning,
            stacklevel=5,  # the caller of detection_data
        )


def relative_boxes(records, sizes, box_format, problems):
    """Relative `yxyx` boxes of every record, invalid ones dropped and counted.

    Args:
        records: list of `AnnotatedImage`.
        sizes: list of `(height, width)` of each record's image.
        box_format: str, the Keras format of `records[i].boxes` (pixels).
        problems: `Problems`, receives the dropped boxes.

    Returns:
        `(boxes float32 [N, M, 4], labels int32 [N, M])`, valid boxes first,
        `M = max(1, most boxes of a record)`, label -1 at padding.
    """
    n = len(records)
    m = max([1] + [len(record.labels) for record in records])
    boxes = np.zeros((n, m, 4), np.float32)
    labels = np.full((n, m), -1, np.int32)
    for i, record in enumerate(records):
        boxes[i, : len(record.labels)] = record.boxes
        labels[i, : len(record.labels)] = record.labels
    heights = np.array([h for h, _ in sizes], np.float32).reshape(n, 1, 1)
    widths = np.array([w for _, w in sizes], np.float32).reshape(n, 1, 1)
    converted = np.asarray(to_internal(boxes, box_format, height=heights, width=widths))
    converted = np.where(labels[..., None] >= 0, converted, 0.0)  # [N, M, 4]
    # One box per row gives the verdict on each box: [N, M].
    bad = sanitize_boxes(converted[..., None, :], labels[..., None])[2].numpy()
    for i, j in zip(*np.nonzero(bad)):
        record, (height, width) = records[i], sizes[i]
        problems.add(
            "invalid boxes (NaN, inverted, zero-area or outside the image)",
            f"{record.file_name}{' ' + record.where if record.where else ''} box "
            f"{record.boxes[j].tolist()} ({box_format}, image {width}x{height})",
        )
    kept_boxes, kept_labels, _ = sanitize_boxes(converted, labels)
    return kept_boxes.numpy(), kept_labels.numpy()


def resolve_annotated_images(records, image_dir, box_format, problems, num_annotations,
                             num_images=None):
    """Steps 1-4 of the module docstring: the readable images and their valid relative boxes.

    Args:
        records: list of `AnnotatedImage`, in file order.
        image_dir: str, the folder the records' file names are relative to.
        box_format: str, Keras box format of the records' boxes (`"xywh"` for
            COCO, `"yxyx"` for the CSV, `"rel_center_xywh"` for YOLO).
        problems: `Problems` already holding the parser's dropped annotations.
        num_annotations: int, annotations in the source file (for the warning).
        num_images: int or `None`, keep only the first `num_images` records.

    Returns:
        `(records, paths, sizes, boxes, labels)`: the records whose image
        decodes, their absolute paths, `(height, width)` sizes, and relative
        `yxyx` boxes `float32 [N, M, 4]` with labels `int32 [N, M]` (`-1` at
        padding, valid boxes first).

    Raises:
        FileNotFoundError: `image_dir` does not exist.
        ValueError: no records, an image path escaping `image_dir`, no image
            that decodes, or (with `strict`) the first problem.
    """
    if not os.path.isdir(image_dir):
        raise FileNotFoundError(
            f"Image folder not found: {image_dir} (named in the spec with {problems.source_file})"
        )
    if num_images is not None:
        records = records[: int(num_images)]
    if not records:
        raise ValueError(f"{problems.source_file} lists no images.")
    paths = [
        resolve_image_path(image_dir, r.file_name, problems.source_file, r.where) for r in records
    ]
    records, paths, sizes = _skip_unreadable(records, paths, image_dir, problems.strict)
    if not records:
        raise ValueError(f"None of the images listed in {problems.source_file} could be decoded")
    _check_stated_sizes(records, sizes, problems.source_file, problems.strict)
    boxes, labels = relative_boxes(records, sizes, box_format, problems)
    problems.warn(num_annotations)
    return records, paths, sizes, boxes, labels


def annotated_image_data(
    records,
    image_dir,
    box_format,
    class_names,
    problems,
    num_annotations,
    image_size,
    batch_size,
    training,
    seed,
    max_boxes,
    num_images,
    flip=True,
    mosaic=0.0,
    mixup=0.0,
    mixing_epochs=None,
):
    """Detection batches from parsed records; see the module docstring for the steps.

    Args:
        records, image_dir, box_format, problems, num_annotations, num_images:
            as `resolve_annotated_images`.
        class_names: list of str.
        image_size: int, side of the output images.
        batch_size: int.
        training: bool, training augmentation and shuffling.
        seed: optional int for shuffling and augmentation.
        max_boxes: int, padded box count `M`, or `None` for the most boxes of
            an image (at least 1).
        flip: bool, random horizontal flips in training. Defaults to `True`.
        mosaic, mixup, mixing_epochs: batch-level training mixing, see
            `detection_batches`. Default to `0.0`, `0.0`, `None` (off).

    Returns:
        `DetectionData` yielding `(float32 [B, S, S, 3], {"boxes": float32
        [B, M, 4], "labels": int32 [B, M]})`; `dropped_boxes` counts every
        dropped annotation, `class_counts` the valid boxes of each class.

    Raises:
        FileNotFoundError, ValueError: as `resolve_annotated_images`.
    """
    _, paths, _, boxes, labels = resolve_annotated_images(
        records, image_dir, box_format, problems, num_annotations, num_images)
    if max_boxes is None:
        max_boxes = max(1, int(np.max(np.sum(labels >= 0, axis=1))))
    examples = tf.data.Dataset.from_tensor_slices((tf.constant(paths), boxes, labels))
    dataset = detection_batches(
        examples,
        lambda path: decode_image(tf.io.read_file(path)),
        image_size,
        batch_size,
        training=training,
        max_boxes=max_boxes,
        seed=seed,
        num_examples=len(paths),
        flip=flip,
        mosaic=mosaic,
        mixup=mixup,
        mixing_epochs=mixing_epochs,
    )
    return DetectionData(dataset, list(class_names), len(paths), problems.total,
                         boxes_per_class(labels, len(class_names)))
