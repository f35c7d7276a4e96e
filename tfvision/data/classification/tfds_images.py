"""Classification data from TensorFlow Datasets by name (`oxford_flowers102`, `cifar10`, ...)."""

import tensorflow as tf
import tensorflow_datasets as tfds

from tfvision.data.category_names import display_names_for
from tfvision.data.classification.pipeline import classification_batches
from tfvision.data.image_decoding import decode_image
from tfvision.data.classification.labeled_images import LabeledImages
from tfvision.data.transforms import (
    DEFAULT_CROP_FRACTION,
    DEFAULT_CROP_RATIO,
    DEFAULT_CROP_SCALE,
    DEFAULT_ROTATION_DEGREES,
)


def _first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _how_to_provide(name):
    return (
        f"To use it offline, prepare it on a machine with internet access "
        f"(`tfds build {name} --data_dir DIR`), copy DIR here and pass data_dir=DIR."
    )


def _prepare(name, data_dir, download):
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError as error:
        raise ValueError(
            f"Unknown TensorFlow Datasets name {name!r}: {_first_line(error)}"
        ) from None
    if download:
        try:
            builder.download_and_prepare()
        except Exception as error:  # network, checksum, missing-dependency errors alike
            raise RuntimeError(
                f"The TensorFlow Datasets dataset {name!r} could not be downloaded and "
                f"prepared in {builder.data_dir} ({type(error).__name__}: {_first_line(error)}). "
                + _how_to_provide(name)
            ) from error
    return builder


def _class_label_feature(builder, name, image_key, label_key):
    features = builder.info.features
    keys = list(features.keys())
    for key in (image_key, label_key):
        if key not in keys:
            raise ValueError(
                f"Dataset {name!r} has no feature {key!r}; its features are {keys}. "
                "Pass image_key= / label_key=."
            )
    label = features[label_key]
    if not isinstance(label, tfds.features.ClassLabel):
        raise ValueError(
            f"Feature {label_key!r} of {name!r} is not a class label. "
            f"Received: {type(label).__name__}"
        )
    return label


def _count(builder, split, examples):
    """Examples in `split`: from the dataset info, else the cardinality, else by counting."""
    try:
        return int(builder.info.splits[split].num_examples)
    except (KeyError, ValueError):
        pass
    cardinality = int(examples.cardinality())
    if cardinality >= 0:
        return cardinality
    return int(examples.reduce(0, lambda count, _: count + 1))


def tfds_images(
    name,
    split="train",
    image_size=224,
    batch_size=32,
    training=None,
    data_dir=None,
    download=True,
    shuffle=None,
    seed=None,
    category_names=None,
    image_key="image",
    label_key="label",
    rotation_degrees=DEFAULT_ROTATION_DEGREES,
    crop_scale=DEFAULT_CROP_SCALE,
    crop_fraction=DEFAULT_CROP_FRACTION,
    crop_ratio=DEFAULT_CROP_RATIO,
    flip=True,
):
    """Loads a TensorFlow Datasets classification split as batches of labelled images.

    Images are read undecoded (`tfds.decode.SkipDecoding`) and decoded by the same
    decoder as image folders, after shuffling, so the shuffle buffer holds bytes.

    Args:
        name: str, a tfds name, e.g. `"oxford_flowers102"` or `"cifar10"`.
        split: str, a tfds split, slicing allowed (`"train[:80%]"`). Defaults to `"train"`.
        image_size: int. Defaults to `224`.
        batch_size: int. Defaults to `32`.
        training: bool, training augmentation; defaults to `split` starting with `"train"`.
        data_dir: optional str, where tfds keeps (or finds prepared) data.
        download: bool, download and prepare the data if needed. Defaults to `True`.
        shuffle: bool; defaults to `training`.
        seed: optional int for shuffling and augmentation.
        category_names: optional JSON path or dict overriding display names.
        image_key: str. Defaults to `"image"`.
        label_key: str, a `ClassLabel` feature. Defaults to `"label"`.
        rotation_degrees: float, training rotation range. Defaults to `30`.
        crop_scale: training random-resized-crop area range. Defaults to `(0.08, 1.0)`.
        crop_fraction: evaluation centre-crop fraction. Defaults to `224/256`.
        crop_ratio: training random-resized-crop aspect range. Defaults to `(3/4, 4/3)`.
        flip: bool, random horizontal flip in training. Defaults to `True`.

    Returns:
        `LabeledImages`; `class_names` from `info.features[label_key].names`.

    Raises:
        RuntimeError: downloading failed (for example offline); the message says how
            to provide the data instead.
        FileNotFoundError: `download=False` and the data is not prepared in `data_dir`.
        ValueError: unknown dataset name or features.

    Example:
    >>> data = tfds_images("cifar10", "test", image_size=32)
    >>> images, labels = next(iter(data.dataset))
    >>> images.shape[1:], images.dtype.name
    (TensorShape([32, 32, 3]), 'float32')
    """
    builder = _prepare(name, data_dir, download)
    label_feature = _class_label_feature(builder, name, image_key, label_key)
    training = str(split).startswith("train") if training is None else training
    shuffle = training if shuffle is None else shuffle
    try:
        records = builder.as_dataset(
            split=split,
            decoders={image_key: tfds.decode.SkipDecoding()},
            shuffle_files=bool(shuffle),
            read_config=tfds.ReadConfig(shuffle_seed=seed),
        )
    except AssertionError:  # tfds's "could not find data in data_dir"
        raise FileNotFoundError(
            f"The TensorFlow Datasets dataset {name!r} is not prepared in {builder.data_dir}. "
            "Pass download=True (needs internet access). " + _how_to_provide(name)
        ) from None
    examples = records.map(
        lambda record: (record[image_key], tf.cast(record[label_key], tf.int32)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    num_examples = _count(builder, split, examples)
    class_names = [str(n) for n in label_feature.names]
    dataset = classification_batches(
        examples,
        decode_image,
        image_size,
        batch_size,
        training=training,
        shuffle=shuffle,
        seed=seed,
        num_examples=num_examples,
        rotation_degrees=rotation_degrees,
        crop_scale=crop_scale,
        crop_fraction=crop_fraction,
        crop_ratio=crop_ratio,
        flip=flip,
    )
    display_names = display_names_for(class_names, category_names)
    return LabeledImages(dataset, class_names, display_names, num_examples)
