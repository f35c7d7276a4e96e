"""The tf.data pipeline shared by detection sources, and the built-in shapes as detection data.

Training: shuffle -> decode -> flip -> small rotation -> lighting -> crop / zoom
-> resize -> sanitize -> pad to `max_boxes` -> batch -> mosaic / mixup (when
asked for) -> prefetch. Evaluation:
decode -> resize -> sanitize -> pad -> batch -> prefetch. Maps run with
`num_parallel_calls=AUTOTUNE`; each epoch's order and per-example stateless
seeds follow from the seed and the epoch (`EpochSeeds`), so a seeded pipeline
is reproducible, resumed runs included. Targets are
dense and padded: `{"boxes": [B, M, 4], "labels": [B, M]}`, label `-1` at padding.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from tfvision.data.classification.pipeline import MAX_SHUFFLE_BUFFER
from tfvision.data.epoch_seeds import EpochSeeds, attach_epoch_seeds
from tfvision.data.detection.boxes import DEFAULT_MIN_BOX_AREA, pad_or_truncate_boxes, sanitize_boxes
from tfvision.data.detection.mixing import check_mixing, mix_batch
from tfvision.data.detection.transforms import (
    DEFAULT_CROP_ZOOM_SCALE,
    DEFAULT_DETECTION_ROTATION_DEGREES,
    random_crop_zoom,
    random_flip_horizontal,
    random_lighting,
    random_rotation_with_boxes,
    resize,
)
from tfvision.data.synthetic.shape_drawing import SHAPE_CLASSES
from tfvision.data.synthetic.scenes import generate_shapes, split_seed
from tfvision.data.transforms import TRAINING_SIDE_LIMIT, limit_short_side


@dataclasses.dataclass
class DetectionData:
    """A batched detection dataset and what a model needs to know about it.

    Attributes:
        dataset: batched, prefetched `tf.data.Dataset` of `(images, targets)`:
            images float32 `[B, S, S, 3]` 0..255, targets
            `{"boxes": float32 [B, M, 4] relative yxyx, "labels": int32 [B, M]}`.
        class_names: list of str; a label indexes this list.
        num_examples: int, examples per epoch.
        dropped_boxes: int, source annotations dropped as invalid (NaN, inverted,
            zero-area or outside the image). Boxes that augmentation pushes out
            of view are dropped too but not counted.
        class_counts: list of int or `None`, the valid boxes of each class in
            the split's annotations (before augmentation and `max_boxes`), as
            `boxes_per_class` counts them; `None` where the loader does not
            hold the annotations in memory (VOC through tfds).
    """

    dataset: tf.data.Dataset
    class_names: list
    num_examples: int
    dropped_boxes: int = 0
    class_counts: list = None

    @property
    def num_classes(self):
        """Number of classes."""
        return len(self.class_names)


def boxes_per_class(labels, num_classes):
    """Boxes of each class in padded labels.

    Args:
        labels: int array `[N, M]` (or any shape), class ids, `-1` at padding.
        num_classes: int `C`.

    Returns:
        list of `C` ints.

    Example:
    >>> boxes_per_class([[0, 2, -1], [2, -1, -1]], 3)
    [1, 0, 2]
    """
    labels = np.asarray(labels).reshape(-1)
    return np.bincount(labels[labels >= 0], minlength=int(num_classes)).tolist()


def _training_augmentation(image, boxes, labels, seed, flip, rotation_degrees, crop_scale,
                           lighting):
    flip_seed, rotation_seed, lighting_seed, crop_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, num=4)
    )
    if flip:
        image, boxes, labels = random_flip_horizontal(image, boxes, labels, flip_seed)
    if rotation_degrees:
        image, boxes, labels = random_rotation_with_boxes(
            image, boxes, labels, rotation_degrees, rotation_seed
        )
    if lighting is not None:
        brightness, contrast = lighting
        image, boxes, labels = random_lighting(
            image, boxes, labels, brightness, contrast, lighting_seed
        )
    if crop_scale is not None:
        image, boxes, labels = random_crop_zoom(
            image, boxes, labels, crop_scale[0], crop_scale[1], crop_seed
        )
    return image, boxes, labels


def detection_batches(
    examples,
    decode_fn,
    image_size,
    batch_size,
    training,
    max_boxes,
    seed=None,
    shuffle=None,
    num_examples=None,
    flip=True,
    rotation_degrees=DEFAULT_DETECTION_ROTATION_DEGREES,
    crop_scale=DEFAULT_CROP_ZOOM_SCALE,
    lighting=(0.2, 0.2),
    min_box_area=DEFAULT_MIN_BOX_AREA,
    drop_remainder=None,
    mosaic=0.0,
    mixup=0.0,
    mixing_epochs=None,
):
    """Turns `(source, boxes, labels)` examples into padded detection batches.

    Args:
        examples: `tf.data.Dataset` of `(source, boxes [M, 4] relative yxyx,
            labels [M] int, -1 at padding)`; `source` is what `decode_fn` reads.
        decode_fn: `source -> [H, W, 3]` image tensor, values 0..255.
        image_size: int, side of the output images.
        batch_size: int.
        training: bool, training augmentation.
        max_boxes: int, the padded box count `M` of the output.
        seed: optional int, seeds shuffling and augmentation.
        shuffle: bool; defaults to `training`.
        num_examples: optional int, sizes the shuffle buffer (capped at 16384).
        flip: bool, random horizontal flips in training. Turn them off where a
            mirrored object is another class or none (digits, text, arrows).
            Defaults to `True`.
        rotation_degrees: float, maximum training rotation; 0 turns it off.
            Defaults to `5`.
        crop_scale: `(min, max)` window side of `random_crop_zoom`, or `None` to
            turn it off. Defaults to `(0.5, 1.5)`.
        lighting: `(brightness, contrast)` of `random_lighting`, or `None`.
            Defaults to `(0.2, 0.2)`.
        min_box_area: float, see `sanitize_boxes`. Defaults to `1e-4`.
        drop_remainder: bool, drop the last partial batch (a static batch
            size); defaults to `training`.
        mosaic: float in [0, 1], training only: the chance that an image of a
            batch becomes a mosaic of 4 (`mixing.mosaic_batch`). Defaults to `0.0`.
        mixup: float in [0, 1], training only: the chance that an image is
            blended with another (`mixing.mixup_batch`), after mosaic.
            Defaults to `0.0`.
        mixing_epochs: int or None. Mosaic and mixup run only while the epoch
            `fit` is in (`EpochSeeds`) is below it, so `epochs - N` turns them
            off for the last `N` epochs; without the epoch callback, and with
            `None`, they always run. Defaults to `None`.

    Returns:
        A prefetched `tf.data.Dataset` of `(float32 [B, S, S, 3],
        {"boxes": float32 [B, M, 4], "labels": int32 [B, M]})`; in training
        `M` is `max_boxes` times 4 with mosaic and times 2 with mixup (the
        same in every batch and epoch, mixing on or off).
    """
    if int(batch_size) < 1:
        raise ValueError(f"`batch_size` must be >= 1. Received: batch_size={batch_size}")
    if int(image_size) < 1:
        raise ValueError(f"`image_size` must be >= 1. Received: image_size={image_size}")
    if int(max_boxes) < 1:
        raise ValueError(f"`max_boxes` must be >= 1. Received: max_boxes={max_boxes}")
    check_mixing(mosaic, mixup, mixing_epochs)
    mixing = bool(training) and (mosaic > 0 or mixup > 0)
    shuffle = training if shuffle is None else shuffle
    drop_remainder = training if drop_remainder is None else drop_remainder
    buffer = None
    if shuffle:
        buffer = MAX_SHUFFLE_BUFFER if num_examples is None else num_examples
        buffer = max(1, min(int(buffer), MAX_SHUFFLE_BUFFER))
    # Each epoch's order and augmentation seeds follow from (seed, epoch).
    epoch_seeds = EpochSeeds(seed)

    def transform(example, seeds):
        # With mixing, seeds[2:] seed the batch (see `mix`); seeds[:2] are those
        # drawn without mixing (stateless draws share their prefix).
        example_seed = seeds[:2]
        source, boxes, labels = example
        image = tf.cast(decode_fn(source), tf.float32)
        boxes, labels = tf.cast(boxes, tf.float32), tf.cast(labels, tf.int32)
        if training:  # boxes are relative: scaling a huge image down first leaves them
            image = limit_short_side(image, TRAINING_SIDE_LIMIT * int(image_size))
            image, boxes, labels = _training_augmentation(
                image, boxes, labels, example_seed, flip, rotation_degrees, crop_scale, lighting
            )
        image, boxes, labels = resize(image, boxes, labels, int(image_size))
        boxes, labels, _ = sanitize_boxes(boxes, labels, min_area=min_box_area)
        boxes, labels = pad_or_truncate_boxes(boxes, labels, int(max_boxes))
        if mixing:
            return image, {"boxes": boxes, "labels": labels}, seeds[2:]
        return image, {"boxes": boxes, "labels": labels}

    def mix(images, targets, seeds):
        # The batch's seed is its first example's: per epoch, and the same when resumed.
        enabled = True
        if mixing_epochs is not None:
            epoch = tf.identity(epoch_seeds._epoch)  # -1: no epoch callback
            enabled = (epoch < 0) | (epoch < int(mixing_epochs))
        images, boxes, labels = mix_batch(
            images, targets["boxes"], targets["labels"], seeds[0], mosaic, mixup, enabled,
            min_area=min_box_area,
        )
        return images, {"boxes": boxes, "labels": labels}

    seeds_per_example = 4 if mixing else 2
    batches = epoch_seeds.shuffle_with_seeds(examples, buffer, seeds_per_example).map(
        transform, num_parallel_calls=tf.data.AUTOTUNE
    )
    batches = batches.batch(batch_size, drop_remainder=drop_remainder)
    if mixing:
        batches = batches.map(mix, num_parallel_calls=tf.data.AUTOTUNE)
    batches = batches.prefetch(tf.data.AUTOTUNE)
    return attach_epoch_seeds(batches, epoch_seeds)


def synthetic_detection(
    num_images=1000,
    split="train",
    image_size=96,
    batch_size=32,
    training=None,
    seed=0,
    min_objects=1,
    max_objects=4,
    max_boxes=None,
    shuffle=None,
    flip=True,
    rotation_degrees=DEFAULT_DETECTION_ROTATION_DEGREES,
    crop_scale=DEFAULT_CROP_ZOOM_SCALE,
    drop_remainder=None,
    class_weights=None,
    mosaic=0.0,
    mixup=0.0,
    mixing_epochs=None,
):
    """The built-in synthetic shapes as padded detection batches.

    The images of a split are those of `generate_shapes(num_images, image_size,
    split_seed(seed, split))` (and of `write_image_folder` for that split).

    Args:
        num_images: int, examples in the split. Defaults to `1000`.
        split: str, selects the split's seed. Defaults to `"train"`.
        image_size: int, side of the generated and output images. Defaults to `96`.
        batch_size: int. Defaults to `32`.
        training: bool, training augmentation; defaults to `split == "train"`.
        seed: int, seeds generation, shuffling and augmentation. Defaults to `0`.
        min_objects: int. Defaults to `1`.
        max_objects: int. Defaults to `4`.
        max_boxes: int, padded box count `M`; defaults to `max_objects`.
        shuffle: bool; defaults to `training`.
        flip: bool, random horizontal flips in training. Defaults to `True`.
        rotation_degrees: float, training rotation range. Defaults to `5`.
        crop_scale: training crop / zoom range, or `None`. Defaults to `(0.5, 1.5)`.
        drop_remainder: bool; defaults to `training`.
        class_weights: `None` (uniform classes) or one relative frequency per
            class, see `generate_shapes`. Defaults to `None`.
        mosaic: float, training mosaic probability; see `detection_batches`.
            Defaults to `0.0`.
        mixup: float, training mixup probability. Defaults to `0.0`.
        mixing_epochs: int or None, the epoch from which mosaic and mixup stop.
            Defaults to `None` (never).

    Returns:
        `DetectionData` with `class_names == list(SHAPE_CLASSES)` and
        `class_counts`.

    Example:
    >>> data = synthetic_detection(16, "valid", image_size=64, batch_size=8)
    >>> images, targets = next(iter(data.dataset))
    >>> images.shape, targets["boxes"].shape, targets["labels"].shape
    (TensorShape([8, 64, 64, 3]), TensorShape([8, 4, 4]), TensorShape([8, 4]))
    """
    check_mixing(mosaic, mixup, mixing_epochs)
    training = split == "train" if training is None else training
    seed_of_split = split_seed(seed, split)
    data = generate_shapes(num_images, image_size, seed_of_split, min_objects, max_objects,
                           class_weights)
    boxes, labels, dropped = sanitize_boxes(data["boxes"], data["labels"])
    examples = tf.data.Dataset.from_tensor_slices((data["images"], boxes, labels))
    dataset = detection_batches(
        examples,
        lambda image: image,
        image_size,
        batch_size,
        training=training,
        max_boxes=max_objects if max_boxes is None else max_boxes,
        seed=seed,
        shuffle=shuffle,
        num_examples=int(num_images),
        flip=flip,
        rotation_degrees=rotation_degrees,
        crop_scale=crop_scale,
        drop_remainder=drop_remainder,
        mosaic=mosaic,
        mixup=mixup,
        mixing_epochs=mixing_epochs,
    )
    return DetectionData(dataset, list(SHAPE_CLASSES), int(num_images), int(np.sum(dropped)),
                         boxes_per_class(labels, len(SHAPE_CLASSES)))
