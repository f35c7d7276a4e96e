"""The tf.data pipeline shared by every classification source: shuffle, decode, transform, batch.

Training: shuffle -> decode -> random rotation -> random resized crop -> flip ->
batch -> prefetch. Evaluation: decode -> resize short side + centre crop ->
batch -> prefetch. Maps run with `num_parallel_calls=AUTOTUNE`; a seeded
training pipeline is reproducible: each epoch's shuffle and per-example stateless
augmentation seeds follow from the seed and the epoch number (`EpochSeeds`), so
a run resumed at epoch n sees the batches an uninterrupted run saw.
"""

import tensorflow as tf

from tfvision.data.epoch_seeds import EpochSeeds, attach_epoch_seeds
from tfvision.data.transforms import (
    DEFAULT_CROP_FRACTION,
    DEFAULT_CROP_RATIO,
    DEFAULT_CROP_SCALE,
    DEFAULT_ROTATION_DEGREES,
    resize_short_side_and_center_crop,
    training_transform,
)

MAX_SHUFFLE_BUFFER = 16384


def classification_batches(
    examples,
    decode_fn,
    image_size,
    batch_size,
    training,
    shuffle=None,
    seed=None,
    num_examples=None,
    rotation_degrees=DEFAULT_ROTATION_DEGREES,
    crop_scale=DEFAULT_CROP_SCALE,
    crop_ratio=DEFAULT_CROP_RATIO,
    crop_fraction=DEFAULT_CROP_FRACTION,
    drop_remainder=False,
    flip=True,
):
    """Turns `(source, label)` examples into batches of transformed images.

    Args:
        examples: `tf.data.Dataset` of `(source, label)`; `source` is what
            `decode_fn` reads (a path, encoded bytes or an image), so shuffling
            happens on cheap sources before decoding.
        decode_fn: `source -> [H, W, 3]` image tensor, values 0..255.
        image_size: int, side of the output images.
        batch_size: int.
        training: bool, training augmentation (else the evaluation crop).
        shuffle: bool; defaults to `training`.
        seed: optional int, seeds shuffling and augmentation.
        num_examples: optional int, sizes the shuffle buffer (capped at 16384).
        rotation_degrees: float, maximum training rotation. Defaults to `30`.
        crop_scale: training random-resized-crop area range. Defaults to `(0.08, 1.0)`.
        crop_ratio: training random-resized-crop aspect range. Defaults to `(3/4, 4/3)`.
        crop_fraction: evaluation centre-crop fraction. Defaults to `224/256`.
        drop_remainder: bool, drop the last partial batch. Defaults to `False`.
        flip: bool, random horizontal flip in training. Defaults to `True`.

    Returns:
        A prefetched `tf.data.Dataset` of `(float32 [B, S, S, 3], labels [B, ...])`.
    """
    if int(batch_size) < 1:
        raise ValueError(f"`batch_size` must be >= 1. Received: batch_size={batch_size}")
    if int(image_size) < 1:
        raise ValueError(f"`image_size` must be >= 1. Received: image_size={image_size}")
    shuffle = training if shuffle is None else shuffle
    epoch_seeds = None
    if shuffle or training:
        buffer = MAX_SHUFFLE_BUFFER if num_examples is None else num_examples
        buffer = max(1, min(int(buffer), MAX_SHUFFLE_BUFFER)) if shuffle else None
        # Each epoch's order and augmentation seeds follow from (seed, epoch).
        epoch_seeds = EpochSeeds(seed)
        examples = epoch_seeds.shuffle_with_seeds(examples, buffer, seeds_per_example=2)
    if training:

        def transform(example, example_seed):
            source, label = example
            image = training_transform(
                decode_fn(source), image_size, example_seed,
                rotation_degrees=rotation_degrees, scale=crop_scale, ratio=crop_ratio,
                flip=flip,
            )
            return image, label

    else:

        def transform(source, label):
            image = resize_short_side_and_center_crop(decode_fn(source), image_size, crop_fraction)
            return image, label

        if epoch_seeds is not None:  # shuffled evaluation images: drop the seeds
            examples = examples.map(lambda example, _: example)

    images = examples.map(transform, num_parallel_calls=tf.data.AUTOTUNE)
    batches = images.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
    return attach_epoch_seeds(batches, epoch_seeds) if epoch_seeds else batches
