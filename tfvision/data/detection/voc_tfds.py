"""Pascal VOC 2007 / 2012 detection data through TensorFlow Datasets (`voc/2007`, `voc/2012`).

tfds stores VOC boxes as relative `yxyx` already (`tfds.features.BBoxFeature`),
so they enter the pipeline unchanged; labels are `objects/label` (the 20 VOC
classes, `aeroplane` .. `tvmonitor`). Objects marked `is_difficult` are left
out of the targets, as in the SSD reference implementations: the VOC
evaluation does not count them either, so a detector is neither taught nor
judged on them. Images are read undecoded and decoded in the pipeline by
`decode_image`, after shuffling.

Splits: `"train"`, `"valid"` (tfds `validation`) and `"test"` (VOC 2007 only
has test labels); tfds slicing such as `"train[:10%]"` passes through.
"""

import tensorflow as tf
import tensorflow_datasets as tfds

from tfvision.data.detection.pipeline import DetectionData, detection_batches
from tfvision.data.image_decoding import decode_image
from tfvision.data.classification.tfds_images import _count, _how_to_provide, _prepare

VOC_NAMES = {"voc2007": "voc/2007", "voc2012": "voc/2012"}
DEFAULT_VOC_MAX_BOXES = 42  # the most objects in one VOC 2007 / 2012 image
_SPLITS = {"valid": "validation"}


def _objects_without_difficult(record):
    objects = record["objects"]
    keep = tf.logical_not(objects["is_difficult"])
    boxes = tf.boolean_mask(objects["bbox"], keep)  # [K, 4] relative yxyx
    labels = tf.cast(tf.boolean_mask(objects["label"], keep), tf.int32)  # [K]
    return record["image"], boxes, labels


def voc_detection(
    name,
    split,
    image_size,
    batch_size,
    training=None,
    seed=None,
    max_boxes=None,
    num_images=None,
    data_dir=None,
    download=True,
    flip=True,
    mosaic=0.0,
    mixup=0.0,
    mixing_epochs=None,
):
    """Loads a Pascal VOC split from TensorFlow Datasets as padded detection batches.

    Args:
        name: str, `"voc2007"` or `"voc2012"`.
        split: str, `"train"`, `"valid"` or `"test"`, or any tfds split string.
        image_size: int, side of the output images.
        batch_size: int.
        training: bool, augmentation and shuffling; defaults to `split`
            starting with `"train"`.
        seed: optional int.
        max_boxes: int, padded box count `M`. Defaults to `42`.
        num_images: optional int, the first `num_images` examples of the split.
        data_dir: optional str, where tfds keeps (or finds prepared) data.
        download: bool, download and prepare the data if needed. Defaults to `True`.
        flip: bool, random horizontal flips in training. Defaults to `True`.
        mosaic, mixup, mixing_epochs: batch-level training mixing, see
            `detection_batches`. Default to `0.0`, `0.0`, `None` (off).

    Returns:
        `DetectionData` with the 20 VOC class names; `dropped_boxes` is 0 and
        `class_counts` `None` (tfds data is not scanned ahead; the pipeline
        still drops invalid boxes).

    Raises:
        RuntimeError: downloading failed (for example offline); the message says
            how to provide the data instead.
        FileNotFoundError: `download=False` and the data is not prepared.
        ValueError: an unknown `name`.

    References:
        Everingham et al., "The PASCAL Visual Object Classes (VOC) Challenge", IJCV 2010.

    Example:
    >>> data = voc_detection("voc2007", "train", 320, 16)
    >>> data.num_classes, data.class_names[:3]
    (20, ['aeroplane', 'bicycle', 'bird'])
    """
    if name not in VOC_NAMES:
        raise ValueError(f"`name` must be one of {sorted(VOC_NAMES)}. Received: name={name!r}")
    tfds_name = VOC_NAMES[name]
    tfds_split = _SPLITS.get(split, split)
    if num_images is not None:
        tfds_split = f"{tfds_split}[:{int(num_images)}]"
    builder = _prepare(tfds_name, data_dir, download)
    training = str(split).startswith("train") if training is None else training
    try:
        records = builder.as_dataset(
            split=tfds_split,
            decoders={"image": tfds.decode.SkipDecoding()},
            shuffle_files=bool(training),
            read_config=tfds.ReadConfig(shuffle_seed=seed),
        )
    except AssertionError:  # tfds's "could not find data in data_dir"
        raise FileNotFoundError(
            f"The TensorFlow Datasets dataset {tfds_name!r} is not prepared in "
            f"{builder.data_dir}. Pass download=True (needs internet access). "
            + _how_to_provide(tfds_name)
        ) from None
    examples = records.map(_objects_without_difficult, num_parallel_calls=tf.data.AUTOTUNE)
    num_examples = _count(builder, tfds_split, examples)
    dataset = detection_batches(
        examples,
        decode_image,
        image_size,
        batch_size,
        training=training,
        max_boxes=DEFAULT_VOC_MAX_BOXES if max_boxes is None else max_boxes,
        seed=seed,
        num_examples=num_examples,
        flip=flip,
        mosaic=mosaic,
        mixup=mixup,
        mixing_epochs=mixing_epochs,
    )
    class_names = [str(n) for n in builder.info.features["objects"]["label"].names]
    return DetectionData(dataset, class_names, num_examples, 0)
