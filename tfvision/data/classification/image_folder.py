"""Classification data from an image folder: `data_dir/<split>/<class_name>/*.jpg`.

This is the layout of the flowers dataset and of torchvision's `ImageFolder`:
class ids are the sorted class-folder names, and an optional category-names JSON
(`cat_to_name.json`) gives their display names. Every file is decoded once
before the first epoch with the pipeline's own decoder; files that do not
decode (empty, truncated, not an image) are skipped with one warning, or
raise at once with `strict=True`.
"""

import os
import warnings

import tensorflow as tf

from tfvision.data.category_names import display_names_for
from tfvision.data.classification.pipeline import classification_batches
from tfvision.data.image_decoding import IMAGE_EXTENSIONS, decode_image, find_unreadable_images
from tfvision.data.classification.labeled_images import LabeledImages
from tfvision.data.transforms import (
    DEFAULT_CROP_FRACTION,
    DEFAULT_CROP_RATIO,
    DEFAULT_CROP_SCALE,
    DEFAULT_ROTATION_DEGREES,
)

_SHOWN_SKIPPED = 5


class SkippedImagesWarning(UserWarning):
    """Some image files could not be decoded and were left out of a dataset."""


def _subfolders(directory):
    return sorted(
        entry.name
        for entry in os.scandir(directory)
        if entry.is_dir() and not entry.name.startswith(".")
    )


def _image_files(directory):
    return sorted(
        entry.path
        for entry in os.scandir(directory)
        if entry.is_file()
        and not entry.name.startswith(".")
        and os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS
    )


def _split_dir(data_dir, split):
    root = os.fspath(data_dir)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"Image folder not found: {root}")
    if split is None:
        return root
    directory = os.path.join(root, split)
    if not os.path.isdir(directory):
        found = ", ".join(_subfolders(root)) or "nothing"
        raise FileNotFoundError(
            f"Split folder not found: {directory} "
            f"(expected {root}/<split>/<class>/; found: {found})"
        )
    return directory


def _default_class_names(data_dir, split, directory):
    """Sorted class folders of the training split if there is one, so ids agree across splits."""
    train_dir = os.path.join(os.fspath(data_dir), "train")
    if split is not None and split != "train" and os.path.isdir(train_dir):
        return _subfolders(train_dir)
    return _subfolders(directory)


def list_image_folder(directory, class_names):
    """File paths and class ids of `directory/<class_name>/*` for the given classes.

    Args:
        directory: str, a folder of class folders.
        class_names: list of str; the id of a class is its index here.

    Returns:
        `(paths, labels)`: lists of str and int, sorted by class then file name.

    Raises:
        ValueError: a class folder that is not in `class_names`, or one holding no image file.
    """
    present = _subfolders(directory)
    unknown = sorted(set(present) - set(class_names))
    if unknown:
        listed = ", ".join(class_names[:10]) + (", ..." if len(class_names) > 10 else "")
        raise ValueError(
            f"Class folder {os.path.join(directory, unknown[0])} is not one of the "
            f"{len(class_names)} classes ({listed})."
        )
    paths, labels = [], []
    for label, name in enumerate(class_names):
        class_dir = os.path.join(directory, name)
        if not os.path.isdir(class_dir):
            continue
        files = _image_files(class_dir)
        if not files:
            raise ValueError(
                f"Class folder is empty: {class_dir} (no {'/'.join(IMAGE_EXTENSIONS)} files)"
            )
        paths += files
        labels += [label] * len(files)
    return paths, labels


def split_image_paths(data_dir, split):
    """The image files of `data_dir/split/<class>/`, with the classes `image_folder` reads."""
    directory = _split_dir(data_dir, split)
    paths, _ = list_image_folder(directory, _default_class_names(data_dir, split, directory))
    return paths


def _drop_unreadable(paths, labels, directory, strict):
    skipped = find_unreadable_images(paths)
    if not skipped:
        return paths, labels, []
    if strict:
        path, reason = skipped[0]
        raise ValueError(f"Cannot decode image {path}: {reason}")
    shown = "; ".join(f"{os.path.relpath(p, directory)} ({r})" for p, r in skipped[:_SHOWN_SKIPPED])
    more = f"; and {len(skipped) - _SHOWN_SKIPPED} more" if len(skipped) > _SHOWN_SKIPPED else ""
    warnings.warn(
        f"Skipped {len(skipped)} of {len(paths)} image files in {directory} that could not be "
        f"decoded: {shown}{more}. Pass strict=True to stop at the first one.",
        SkippedImagesWarning,
        stacklevel=3,
    )
    bad = {path for path, _ in skipped}
    kept = [(p, l) for p, l in zip(paths, labels) if p not in bad]
    return [p for p, _ in kept], [l for _, l in kept], skipped


def image_folder(
    data_dir,
    split="train",
    image_size=224,
    batch_size=32,
    training=None,
    category_names=None,
    shuffle=None,
    seed=None,
    strict=False,
    class_names=None,
    rotation_degrees=DEFAULT_ROTATION_DEGREES,
    crop_scale=DEFAULT_CROP_SCALE,
    crop_fraction=DEFAULT_CROP_FRACTION,
    crop_ratio=DEFAULT_CROP_RATIO,
    flip=True,
):
    """Loads one split of an image-folder dataset as batches of labelled images.

    Args:
        data_dir: str or path, the dataset root `data_dir/<split>/<class>/<image>`.
        split: str, the split folder (`"train"`, `"valid"`, `"test"`), or `None`
            when `data_dir` directly holds the class folders. Defaults to `"train"`.
        image_size: int, side of the square output images. Defaults to `224`.
        batch_size: int. Defaults to `32`.
        training: bool, training augmentation; defaults to `split == "train"`.
        category_names: optional path to a JSON object, or a dict, mapping class
            folder names to display names; unmapped folders keep their names.
        shuffle: bool; defaults to `training`.
        seed: optional int for shuffling and augmentation.
        strict: bool, raise at the first file that does not decode instead of
            skipping it. Defaults to `False`.
        class_names: optional list of class names fixing the class ids. Defaults to
            the sorted folders of `data_dir/train` when it exists (so every split
            agrees with training), else of the split folder.
        rotation_degrees: float, training rotation range. Defaults to `30`.
        crop_scale: training random-resized-crop area range. Defaults to `(0.08, 1.0)`.
        crop_fraction: evaluation centre-crop fraction. Defaults to `224/256`.
        crop_ratio: training random-resized-crop aspect range. Defaults to `(3/4, 4/3)`.
        flip: bool, random horizontal flip in training. Defaults to `True`.

    Returns:
        `LabeledImages` whose dataset yields `(float32 [B, S, S, 3] in 0..255, int32 [B])`.

    Raises:
        FileNotFoundError: `data_dir` or the split folder does not exist.
        ValueError: no class folders, an empty or unknown class folder, a bad
            category-names JSON, or (with `strict`) a file that does not decode.

    Example:
    >>> data = image_folder("data/shapes", "valid", image_size=96)
    >>> images, labels = next(iter(data.dataset))
    >>> images.shape, labels.shape
    (TensorShape([6, 96, 96, 3]), TensorShape([6]))
    """
    directory = _split_dir(data_dir, split)
    if class_names is None:
        class_names = _default_class_names(data_dir, split, directory)
    class_names = [str(name) for name in class_names]
    if not class_names:
        raise ValueError(f"No class folders in {directory} (expected {directory}/<class>/<image>)")
    display_names = display_names_for(class_names, category_names)
    paths, labels = list_image_folder(directory, class_names)
    if not paths:
        raise ValueError(f"No image files in the class folders of {directory}")
    paths, labels, skipped = _drop_unreadable(paths, labels, directory, strict)
    if not paths:
        raise ValueError(f"None of the {len(skipped)} image files in {directory} could be decoded")
    examples = tf.data.Dataset.from_tensor_slices(
        (tf.constant(paths, tf.string), tf.constant(labels, tf.int32))
    )
    training = split == "train" if training is None else training
    dataset = classification_batches(
        examples,
        lambda path: decode_image(tf.io.read_file(path)),
        image_size,
        batch_size,
        training=training,
        shuffle=shuffle,
        seed=seed,
        num_examples=len(paths),
        rotation_degrees=rotation_degrees,
        crop_scale=crop_scale,
        crop_fraction=crop_fraction,
        crop_ratio=crop_ratio,
        flip=flip,
    )
    return LabeledImages(dataset, class_names, display_names, len(paths), skipped)
