"""`classification_data(spec, ...)`: one split of a labelled image dataset, named by a spec."""

import os

from tfvision.data.classification.image_folder import image_folder, split_image_paths
from tfvision.data.classification.tfds_images import tfds_images
from tfvision.data.image_sizes import typical_side
from tfvision.data.synthetic.images import synthetic_images


def classification_data(spec, split, image_size, batch_size, training=None, seed=None,
                        strict=False, crop_scale=None, num_images=1000,
                        missing_test_uses_valid=False, augmentation=None):
    """Loads one split of a classification dataset named by `spec`.

    The classification counterpart of `detection_data`: every recipe that reads
    labelled images (the classifier, MoCo's kNN monitor and linear probe) parses
    its `--data` argument here.

    Args:
        spec: str. `"shapes"` (the built-in shapes, generated in memory),
            `"tfds:NAME"` (a TensorFlow Datasets classification dataset) or an
            image folder `DIR` laid out as `DIR/<split>/<class>/<image>`.
        split: str. `"train"`, `"valid"` or `"test"`.
        image_size: int. Side of the square output images.
        batch_size: int.
        training: bool or None. Random augmentation and shuffling when true;
            `None` means `split == "train"`. Defaults to `None`.
        seed: optional int. Shuffle and augmentation seed. Defaults to `None`.
        strict: bool. Raise at the first unreadable image of a folder instead of
            skipping it. Defaults to `False`.
        crop_scale: optional pair of floats. Area range of the training crops;
            `None` keeps the source's default. Defaults to `None`.
        num_images: int. Images generated for `"shapes"`. Defaults to `1000`.
        missing_test_uses_valid: bool. For a folder without a `test` split,
            read `valid` instead. Defaults to `False`.
        augmentation: optional `Augmentation` (see `augmentation_preset`): the
            training rotation, crop and flip, and the evaluation crop. `None`
            keeps the source's defaults; `crop_scale` still overrides its
            crop area. Defaults to `None`.

    Returns:
        A `tfvision.data.LabeledImages`.

    Example:
    >>> data = classification_data("shapes", "valid", image_size=32, batch_size=8,
    ...                             num_images=16)
    >>> data.class_names[:2]
    ['circle', 'cross']
    """
    options = dict(image_size=image_size, batch_size=batch_size, training=training)
    if augmentation is not None:
        options.update(augmentation.keywords())
    if crop_scale is not None:
        options["crop_scale"] = tuple(crop_scale)
    if spec == "shapes":
        return synthetic_images(num_images, split, seed=0 if seed is None else seed, **options)
    if spec.startswith("tfds:"):
        return tfds_images(spec[len("tfds:") :], split, seed=seed, **options)
    if (missing_test_uses_valid and split == "test"
            and not os.path.isdir(os.path.join(spec, "test"))):
        split = "valid"
    return image_folder(spec, split, strict=strict, seed=seed, **options)


def native_side(spec, split="train", image_key="image"):
    """The typical shorter side of the images of one split of `spec`, or `None` if unknown.

    An image folder: the median over a sample of its files' headers (see
    `typical_side`). `tfds:NAME`: the image feature's shape when the dataset
    declares a fixed one (32 for `cifar10`); nothing is downloaded. The
    built-in shapes are drawn at any size: `None`.
    """
    if spec == "shapes":
        return None
    if spec.startswith("tfds:"):
        try:
            import tensorflow_datasets as tfds

            shape = tfds.builder(spec[len("tfds:") :]).info.features[image_key].shape
        except Exception:  # unknown name or feature: the loader reports it with context
            return None
        sides = [side for side in shape[:2] if side]
        return min(sides) if len(sides) == 2 else None
    return typical_side(split_image_paths(spec, split))
