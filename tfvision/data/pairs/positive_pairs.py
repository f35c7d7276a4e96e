"""Positive pairs for contrastive pretraining: two independent augmentations per image.

Each image is augmented twice, independently, and the pair `(view_1, view_2)`
is one training example of MoCo: the views are the query and its positive
key. The augmentations (`tfvision.data.pairs.augmentation`) are those of the
MoCo CIFAR-10 demo and of MoCo v2; every random choice comes from a
per-example stateless seed, so a seeded pipeline is reproducible.

Sources: `"shapes"` (the built-in dataset, generated in memory), an image
folder (`DIR/train/<class>/*` or `DIR/<class>/*`; labels unused), or
`"tfds:NAME"` (for example `tfds:cifar10`).
"""

import os
import warnings

import tensorflow as tf

from tfvision.data.epoch_seeds import EpochSeeds, attach_epoch_seeds
from tfvision.data.image_decoding import decode_image, find_unreadable_images
from tfvision.data.pairs.augmentation import SHAPES_AUGMENTATION, PairAugmentation, augment_view

MAX_SHUFFLE_BUFFER = 16384


def positive_pairs(examples, decode_fn, image_size, batch_size, augmentation=None, seed=None,
                   shuffle=True, num_examples=None, drop_remainder=True):
    """Batches of `(view_1, view_2)`: two independent augmentations of each image.

    Args:
        examples: `tf.data.Dataset` of sources (paths, bytes or images) that
            `decode_fn` reads; shuffled before decoding.
        decode_fn: `source -> [H, W, 3]` image, values 0..255.
        image_size: int, side of the views.
        batch_size: int.
        augmentation: `PairAugmentation`, or `None` for the defaults.
        seed: optional int; seeds the shuffle and the augmentations.
        shuffle: bool. Defaults to `True`.
        num_examples: optional int, sizes the shuffle buffer.
        drop_remainder: bool. MoCo's steps keep a fixed batch (static shapes,
            split batch norm). Defaults to `True`.

    Returns:
        A prefetched `tf.data.Dataset` of `(float32 [B, S, S, 3], float32 [B, S, S, 3])`.
    """
    if int(batch_size) < 1 or int(image_size) < 1:
        raise ValueError(
            "`batch_size` and `image_size` must be >= 1. "
            f"Received: batch_size={batch_size}, image_size={image_size}"
        )
    augmentation = augmentation or PairAugmentation()
    buffer = None
    if shuffle:
        buffer = max(1, min(int(num_examples or MAX_SHUFFLE_BUFFER), MAX_SHUFFLE_BUFFER))
    # Each epoch's order and augmentation seeds follow from (seed, epoch).
    epoch_seeds = EpochSeeds(seed)

    def views(source, example_seeds):
        image = decode_fn(source)
        return (augment_view(image, image_size, example_seeds[:2], augmentation),
                augment_view(image, image_size, example_seeds[2:], augmentation))

    pairs = epoch_seeds.shuffle_with_seeds(examples, buffer, seeds_per_example=4)
    pairs = pairs.map(views, num_parallel_calls=tf.data.AUTOTUNE)
    pairs = pairs.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
    return attach_epoch_seeds(pairs, epoch_seeds)


def positive_pairs_dataset(data, image_size, batch_size, augmentation=None, seed=None,
                     num_images=2000, split="train", data_dir=None):
    """View pairs from `"shapes"`, an image folder or `"tfds:NAME"`.

    Args:
        data: str. `"shapes"` (the built-in dataset, `num_images` of them at
            `image_size`), an image-folder path (`DIR/<split>/<class>/*` if it
            exists, else `DIR/<class>/*`), or `"tfds:NAME"`.
        image_size: int, side of the views.
        batch_size: int.
        augmentation: `PairAugmentation` or `None`: `SHAPES_AUGMENTATION`
            for `"shapes"`, the MoCo v2 defaults otherwise.
        seed: optional int.
        num_images: int, images generated for `"shapes"`. Defaults to `2000`.
        split: str, the split to read. Defaults to `"train"`.
        data_dir: optional str, tfds data directory.

    Returns:
        `(dataset, num_examples)`: the pairs dataset (see `positive_pairs`) and
        the number of images it draws from per epoch.

    Raises:
        FileNotFoundError: the folder does not exist. ValueError: no readable image.

    Example:
    >>> pairs, count = positive_pairs_dataset("shapes", 32, 8, num_images=16, seed=0)
    >>> [tuple(v.shape) for v in next(iter(pairs))]
    [(8, 32, 32, 3), (8, 32, 32, 3)]
    """
    options = dict(augmentation=augmentation, seed=seed)
    if data == "shapes":
        options["augmentation"] = augmentation or SHAPES_AUGMENTATION
        from tfvision.data.synthetic.scenes import generate_shapes, split_seed

        images = generate_shapes(int(num_images), image_size, split_seed(seed or 0, split))["images"]
        examples = tf.data.Dataset.from_tensor_slices(images)
        return positive_pairs(examples, lambda x: x, image_size, batch_size,
                              num_examples=len(images), **options), len(images)
    if data.startswith("tfds:"):
        import tensorflow_datasets as tfds

        from tfvision.data.classification.tfds_images import _count, _prepare

        name = data[len("tfds:") :]
        builder = _prepare(name, data_dir, download=True)
        records = builder.as_dataset(split=split, decoders={"image": tfds.decode.SkipDecoding()})
        examples = records.map(lambda record: record["image"])
        count = _count(builder, split, examples)
        return positive_pairs(examples, decode_image, image_size, batch_size,
                              num_examples=count, **options), count
    paths = _folder_images(data, split)
    examples = tf.data.Dataset.from_tensor_slices(tf.constant(paths, tf.string))
    return positive_pairs(examples, lambda path: decode_image(tf.io.read_file(path)), image_size,
                          batch_size, num_examples=len(paths), **options), len(paths)


def _folder_images(data, split):
    """Readable image files under `data/split/<class>/` (or `data/<class>/`); bad ones skipped."""
    from tfvision.data.classification.image_folder import list_image_folder

    if not os.path.isdir(data):
        raise FileNotFoundError(f"Image folder not found: {data} (or use shapes, tfds:NAME)")
    directory = os.path.join(data, split) if os.path.isdir(os.path.join(data, split)) else data
    classes = sorted(e.name for e in os.scandir(directory) if e.is_dir()
                     and not e.name.startswith("."))
    if not classes:
        raise ValueError(f"No class folders in {directory} (expected {directory}/<class>/<image>)")
    paths, _ = list_image_folder(directory, classes)
    skipped = find_unreadable_images(paths)
    if skipped:
        from tfvision.data.classification.image_folder import SkippedImagesWarning

        shown = "; ".join(f"{os.path.relpath(p, directory)} ({r})" for p, r in skipped[:5])
        warnings.warn(
            f"Skipped {len(skipped)} of {len(paths)} image files in {directory} that could not "
            f"be decoded: {shown}{'; and more' if len(skipped) > 5 else ''}.",
            SkippedImagesWarning, stacklevel=3,
        )
        bad = {path for path, _ in skipped}
        paths = [p for p in paths if p not in bad]
    if not paths:
        raise ValueError(f"No readable image in {directory}")
    return paths
