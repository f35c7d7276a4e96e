"""The built-in synthetic shapes as a classification dataset, with no file on disk."""

import tensorflow as tf

from tfvision.data.classification.pipeline import classification_batches
from tfvision.data.classification.labeled_images import LabeledImages
from tfvision.data.synthetic.shape_drawing import SHAPE_CLASSES
from tfvision.data.synthetic.scenes import generate_shapes, split_seed
from tfvision.data.transforms import (
    DEFAULT_CROP_FRACTION,
    DEFAULT_CROP_RATIO,
    DEFAULT_ROTATION_DEGREES,
)

# Random-resized-crop area range for the shapes. With torchvision's (0.08, 1.0),
# 38 % of crops keep less than half of the dominant object's box (measured on
# 300 images), which makes its label noise; with (0.35, 1.0), 6 %.
SHAPES_CROP_SCALE = (0.35, 1.0)


def synthetic_images(
    num_images=1000,
    split="train",
    image_size=96,
    batch_size=32,
    training=None,
    multi_label=False,
    seed=0,
    shuffle=None,
    min_objects=1,
    max_objects=4,
    rotation_degrees=DEFAULT_ROTATION_DEGREES,
    crop_scale=SHAPES_CROP_SCALE,
    crop_fraction=DEFAULT_CROP_FRACTION,
    crop_ratio=DEFAULT_CROP_RATIO,
    flip=True,
):
    """Generates the synthetic shapes in memory and batches them like an image folder.

    The images of a split are those `write_image_folder(..., seed=seed)` writes for
    that split (same `split_seed`), and go through the same transforms as the
    image-folder and tfds pipelines.

    Args:
        num_images: int, examples in the split. Defaults to `1000`.
        split: str, selects the split's seed (`"train"`, `"valid"`, `"test"`).
            Defaults to `"train"`.
        image_size: int, side of the generated and of the output images. Defaults to `96`.
        batch_size: int. Defaults to `32`.
        training: bool, training augmentation; defaults to `split == "train"`.
        multi_label: bool, labels are float32 multi-hot `[B, C]` vectors of the
            classes present instead of the dominant object's int32 class `[B]`.
            Defaults to `False`.
        seed: int, seeds generation, shuffling and augmentation. Defaults to `0`.
        shuffle: bool; defaults to `training`.
        min_objects: int. Defaults to `1`.
        max_objects: int. Defaults to `4`.
        rotation_degrees: float, training rotation range. Defaults to `30`.
        crop_scale: training random-resized-crop area range. Defaults to
            `SHAPES_CROP_SCALE = (0.35, 1.0)`, which keeps the dominant object in view.
        crop_fraction: evaluation centre-crop fraction. Defaults to `224/256`.
        crop_ratio: training random-resized-crop aspect range. Defaults to `(3/4, 4/3)`.
        flip: bool, random horizontal flip in training. Defaults to `True`.

    Returns:
        `LabeledImages` with `class_names == display_names == list(SHAPE_CLASSES)`.

    Example:
    >>> data = synthetic_images(64, "valid", image_size=64, batch_size=16)
    >>> images, labels = next(iter(data.dataset))
    >>> images.shape, labels.shape
    (TensorShape([16, 64, 64, 3]), TensorShape([16]))
    """
    seed_of_split = split_seed(seed, split)
    data = generate_shapes(num_images, image_size, seed_of_split, min_objects, max_objects)
    labels = data["multi_hot"] if multi_label else data["class_label"]
    examples = tf.data.Dataset.from_tensor_slices((data["images"], labels))
    dataset = classification_batches(
        examples,
        lambda image: image,
        image_size,
        batch_size,
        training=split == "train" if training is None else training,
        shuffle=shuffle,
        seed=seed,
        num_examples=int(num_images),
        rotation_degrees=rotation_degrees,
        crop_scale=crop_scale,
        crop_fraction=crop_fraction,
        crop_ratio=crop_ratio,
        flip=flip,
    )
    names = list(SHAPE_CLASSES)
    return LabeledImages(dataset, names, list(names), int(num_images))
