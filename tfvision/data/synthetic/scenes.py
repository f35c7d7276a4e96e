"""The built-in synthetic shapes dataset: coloured geometric shapes on varied backgrounds.

It is tfvision's embedded default data: the demo, the notebooks and the tests use it,
so nothing needs a download. Each image holds one *dominant* object (35-70 % of the
image side, drawn on top, fully inside the image) and up to `max_objects - 1` smaller
distractors (at most half its size, mostly visible). The dominant object's class is
the image's classification label, the classes present give the multi-label target,
and every object's tight box gives the detection target. Dominant classes are
balanced: over `num_images` images each class is dominant equally often (±1),
unless `class_weights` asks for other class frequencies (an imbalanced variant).

Generation is deterministic: the same arguments give byte-identical arrays.
"""

import pathlib
import shutil
import zlib

import numpy as np
from PIL import Image

from tfvision.data.synthetic.shape_drawing import (
    SHAPE_CLASSES,
    draw_background,
    random_color,
    shape_mask,
)

_DOMINANT_DIAMETER = (0.35, 0.70)  # of the image side
_MIN_DISTRACTOR_DIAMETER = 0.12  # of the image side
_MAX_DISTRACTOR_RATIO = 0.5  # of the dominant object's diameter
_MAX_HIDDEN_FRACTION = 0.25  # of a distractor, under the objects drawn over it
_PLACEMENT_TRIES = 10
_COLOR_CANDIDATES = 24
_MIN_COLOR_DISTANCE = 100.0  # Euclidean RGB distance to the surroundings
_MIN_IMAGE_SIZE = 32


def split_seed(seed, split):
    """The generator seed of one split, so that splits never share images.

    Args:
        seed: int, the dataset seed.
        split: str or None, e.g. `"train"`; `None` returns `seed` unchanged.

    Returns:
        `seed` or a `[seed, crc32(split)]` list accepted by `numpy.random.default_rng`.

    Example:
    >>> split_seed(0, "train") != split_seed(0, "test")
    True
    """
    if split is None:
        return seed
    return [int(seed), zlib.crc32(str(split).encode("utf-8"))]


def _validate(num_images, image_size, min_objects, max_objects):
    if int(num_images) < 0:
        raise ValueError(f"`num_images` must be >= 0. Received: num_images={num_images}")
    if int(image_size) < _MIN_IMAGE_SIZE:
        raise ValueError(
            f"`image_size` must be >= {_MIN_IMAGE_SIZE}. Received: image_size={image_size}"
        )
    if not 1 <= int(min_objects) <= int(max_objects):
        raise ValueError(
            "Expected 1 <= min_objects <= max_objects. "
            f"Received: min_objects={min_objects}, max_objects={max_objects}"
        )


def class_probabilities(class_weights):
    """The class probabilities `[C]` of relative frequencies, or `None` for `None`.

    Args:
        class_weights: `None` or `C = len(SHAPE_CLASSES)` non-negative numbers,
            not all zero, in `SHAPE_CLASSES` order.

    Returns:
        float64 array `[C]` summing to 1, or `None`.

    Example:
    >>> class_probabilities([1, 1, 2, 0, 0, 0]).tolist()
    [0.25, 0.25, 0.5, 0.0, 0.0, 0.0]
    """
    if class_weights is None:
        return None
    weights = np.asarray(class_weights, dtype=np.float64)
    if (weights.shape != (len(SHAPE_CLASSES),) or not np.all(np.isfinite(weights))
            or np.any(weights < 0) or weights.sum() <= 0):
        raise ValueError(
            f"`class_weights` must be {len(SHAPE_CLASSES)} non-negative numbers, one per "
            f"class of {SHAPE_CLASSES}, not all zero. Received: class_weights={class_weights!r}"
        )
    return weights / weights.sum()


def _dominant_classes(rng, num_images, probabilities):
    """The dominant class of each image: each class `round(n p_c)` times, shuffled.

    Uniform `probabilities` (`None`) give each class equally often (±1); others
    give class `c` `floor(n p_c)` images plus one for the largest remainders
    (Hamilton's method), so the counts sum to `num_images`.
    """
    num_classes = len(SHAPE_CLASSES)
    if probabilities is None:
        return rng.permutation(np.arange(num_images) % num_classes)
    quotas = num_images * probabilities
    counts = np.floor(quotas).astype(np.int64)
    largest_remainders = np.argsort(-(quotas - counts), kind="stable")
    counts[largest_remainders[: num_images - counts.sum()]] += 1
    return rng.permutation(np.repeat(np.arange(num_classes), counts))


def _rotated_mask(rng, shape, diameter, center, size):
    """The bool mask `[S, S]` of a shape at a random rotation, and its tight pixel box.

    The box is `(y1, x1, y2, x2)` with exclusive ends, or `None` for an empty mask.
    """
    mask = shape_mask(shape, center, diameter, rng.uniform(0, 2 * np.pi), size)
    box = mask.getbbox()  # (left, upper, right, lower)
    box = None if box is None else (box[1], box[0], box[3], box[2])
    return np.asarray(mask) > 0, box


def _place_objects(rng, size, num_objects, dominant_class, class_probabilities=None):
    """Masks and classes of the objects, dominant first; each is drawn under the previous ones."""
    d0 = rng.uniform(*_DOMINANT_DIAMETER) * size
    center = rng.uniform(d0 / 2, size - d0 / 2, size=2)
    mask, box = _rotated_mask(rng, SHAPE_CLASSES[dominant_class], d0, center, size)
    masks, boxes, classes = [mask], [box], [dominant_class]
    above = mask.copy()  # pixels covered by objects drawn later (on top)
    for _ in range(num_objects - 1):
        if class_probabilities is None:
            cls = int(rng.integers(len(SHAPE_CLASSES)))
        else:
            cls = int(rng.choice(len(SHAPE_CLASSES), p=class_probabilities))
        for _ in range(_PLACEMENT_TRIES):
            d = rng.uniform(_MIN_DISTRACTOR_DIAMETER * size, _MAX_DISTRACTOR_RATIO * d0)
            center = rng.uniform(d / 4, size - d / 4, size=2)  # at least ~60 % inside
            mask, box = _rotated_mask(rng, SHAPE_CLASSES[cls], d, center, size)
            if box is None:
                continue
            y1, x1, y2, x2 = box
            window = mask[y1:y2, x1:x2]
            if (window & above[y1:y2, x1:x2]).sum() <= _MAX_HIDDEN_FRACTION * window.sum():
                masks.append(mask)
                boxes.append(box)
                classes.append(cls)
                above[y1:y2, x1:x2] |= window
                break
    return masks, boxes, classes


def _contrasting_color(rng, canvas, mask, box):
    """A random colour far from the pixels around the mask (background and objects below)."""
    y1, x1, y2, x2 = box
    size = canvas.shape[0]
    y1, x1, y2, x2 = max(y1 - 2, 0), max(x1 - 2, 0), min(y2 + 2, size), min(x2 + 2, size)
    # Pixels next to the shape, on a 2-pixel grid: [P, 3].
    around = canvas[y1:y2:2, x1:x2:2][~mask[y1:y2:2, x1:x2:2]]
    if len(around) == 0:
        around = canvas.reshape(-1, 3)
    refs = around[:: max(1, len(around) // 64)].astype(np.float64)  # [R, 3]
    refs = np.concatenate([refs, refs.mean(0, keepdims=True)])
    candidates = random_color(rng, _COLOR_CANDIDATES)  # [K, 3]
    squared = ((candidates[:, None] - refs[None]) ** 2).sum(-1).min(axis=1)  # [K]
    good = np.flatnonzero(squared >= _MIN_COLOR_DISTANCE**2)
    best = good[0] if len(good) else np.argmax(squared)
    return np.round(candidates[best]).astype(np.uint8)


def render_scene(rng, image_size, num_objects, dominant_class, class_probabilities=None):
    """Draws one image of the dataset.

    Args:
        rng: `numpy.random.Generator`, advanced by the call.
        image_size: int, side of the square image in pixels.
        num_objects: int >= 1, objects to try to place (a distractor that cannot be
            placed mostly visible after a few tries is left out).
        dominant_class: int, index into `SHAPE_CLASSES` of the dominant object.
        class_probabilities: float array `[C]` summing to 1, the distractors'
            class probabilities, or `None` for uniform. Defaults to `None`.

    Returns:
        `(image, boxes, labels)`: uint8 `[S, S, 3]`, float32 `[n, 4]` relative `yxyx`
        boxes and int32 `[n]` labels, the dominant object first.
    """
    canvas = draw_background(rng, image_size)
    masks, boxes, classes = _place_objects(
        rng, image_size, num_objects, dominant_class, class_probabilities
    )
    for mask, box in zip(reversed(masks), reversed(boxes)):  # distractors first, dominant last
        y1, x1, y2, x2 = box
        color = _contrasting_color(rng, canvas, mask, box)
        canvas[y1:y2, x1:x2][mask[y1:y2, x1:x2]] = color
    boxes = np.asarray(boxes, dtype=np.float32) / np.float32(image_size)
    return canvas, boxes, np.asarray(classes, dtype=np.int32)


def iterate_scenes(num_images, image_size=96, seed=0, min_objects=1, max_objects=4,
                   class_weights=None):
    """Yields `(image, boxes, labels)` of each image in turn, as `render_scene`.

    The same arguments give the same sequence as `generate_shapes`; use this to
    stream a large dataset to disk without holding it in memory.
    """
    _validate(num_images, image_size, min_objects, max_objects)
    probabilities = class_probabilities(class_weights)
    rng = np.random.default_rng(seed)
    for cls in _dominant_classes(rng, int(num_images), probabilities):
        num_objects = int(rng.integers(min_objects, max_objects + 1))
        yield render_scene(rng, int(image_size), num_objects, int(cls), probabilities)


def generate_shapes(num_images, image_size=96, seed=0, min_objects=1, max_objects=4,
                    class_weights=None):
    """Generates the synthetic shapes dataset in memory.

    With `class_weights`, every object's class is drawn with probabilities
    proportional to them instead of uniformly: the dominant classes by quota
    (`round(n p_c)` images each, shuffled), the distractors at random. Boxes
    per class then follow the weights too (a distractor that cannot be placed
    is left out whatever its class).

    Args:
        num_images: int, number of images.
        image_size: int, side of the square images. Defaults to `96`.
        seed: int (or a sequence of ints, see `split_seed`). Defaults to `0`.
        min_objects: int, fewest objects per image. Defaults to `1`.
        max_objects: int, most objects per image; the padded box count `M`.
            Defaults to `4`.
        class_weights: `None` or one relative frequency per class of
            `SHAPE_CLASSES` (e.g. `[19, 19, 5, 19, 19, 19]`: rings 5 % of the
            objects). Defaults to `None`: uniform, each class dominant equally
            often.

    Returns:
        A dict of NumPy arrays:

            - `"images"`: uint8 `[N, S, S, 3]`.
            - `"boxes"`: float32 `[N, M, 4]`, relative `yxyx` tight boxes (0..1), zeros
              at padding. Object 0 is the dominant object.
            - `"labels"`: int32 `[N, M]`, indices into `SHAPE_CLASSES`, `-1` at padding.
            - `"class_label"`: int32 `[N]`, the dominant object's class.
            - `"multi_hot"`: float32 `[N, C]`, 1 for each class present.

    Example:
    >>> data = generate_shapes(8, image_size=64, seed=1)
    >>> data["images"].shape, data["labels"].shape
    ((8, 64, 64, 3), (8, 4))
    """
    n, size, m = int(num_images), int(image_size), int(max_objects)
    data = {
        "images": np.zeros((n, size, size, 3), np.uint8),
        "boxes": np.zeros((n, m, 4), np.float32),
        "labels": np.full((n, m), -1, np.int32),
        "class_label": np.zeros((n,), np.int32),
        "multi_hot": np.zeros((n, len(SHAPE_CLASSES)), np.float32),
    }
    scenes = iterate_scenes(n, size, seed, min_objects, max_objects, class_weights)
    for i, (image, boxes, labels) in enumerate(scenes):
        data["images"][i] = image
        data["boxes"][i, : len(boxes)] = boxes
        data["labels"][i, : len(labels)] = labels
        data["class_label"][i] = labels[0]
        data["multi_hot"][i, labels] = 1.0
    return data


DEFAULT_SPLIT_COUNTS = {"train": 600, "valid": 120, "test": 120}
_IMAGE_FORMATS = {"jpg": ("JPEG", {"quality": 95}), "png": ("PNG", {"compress_level": 1})}


def write_image_folder(
    out_dir,
    counts=None,
    image_size=96,
    seed=0,
    image_format="jpg",
    min_objects=1,
    max_objects=4,
    overwrite=False,
):
    """Writes the synthetic shapes as an image-folder dataset.

    The layout is the standard `out_dir/<split>/<class_name>/<index>.<ext>`, the
    class of an image being its dominant object's and `<index>` counting from 0
    within each class folder. Each split has its own seed (`split_seed`), so splits
    never share images, and `generate_shapes(n, image_size, split_seed(seed, split))`
    gives the same images in memory.

    Args:
        out_dir: str or path, the dataset root.
        counts: dict split name -> number of images. Defaults to
            `{"train": 600, "valid": 120, "test": 120}`.
        image_size: int, image side. Defaults to `96`.
        seed: int. Defaults to `0`.
        image_format: `"jpg"` or `"png"`. Defaults to `"jpg"`.
        min_objects: int. Defaults to `1`.
        max_objects: int. Defaults to `4`.
        overwrite: bool, replace split folders that already hold files instead of
            raising `FileExistsError`. Defaults to `False`.

    Returns:
        A JSON-serialisable dict: `{"out_dir", "image_size", "image_format",
        "class_names", "counts": {split: {class_name: n}}, "num_images"}`.

    Example:
    >>> summary = write_image_folder("/tmp/shapes", {"train": 12, "test": 6}, overwrite=True)
    >>> summary["num_images"]
    18
    """
    if image_format not in _IMAGE_FORMATS:
        raise ValueError(
            f"`image_format` must be one of {sorted(_IMAGE_FORMATS)}. "
            f"Received: image_format={image_format!r}"
        )
    counts = dict(DEFAULT_SPLIT_COUNTS if counts is None else counts)
    root = pathlib.Path(out_dir)
    for split in counts:
        split_dir = root / split
        if split_dir.exists() and any(split_dir.iterdir()):
            if not overwrite:
                raise FileExistsError(
                    f"{split_dir} already holds files; choose another directory "
                    "or pass overwrite=True to replace it."
                )
            shutil.rmtree(split_dir)
    pil_format, save_options = _IMAGE_FORMATS[image_format]
    summary = {split: {name: 0 for name in SHAPE_CLASSES} for split in counts}
    for split, num_images in counts.items():
        for name in SHAPE_CLASSES:
            (root / split / name).mkdir(parents=True, exist_ok=True)
        scenes = iterate_scenes(
            num_images, image_size, split_seed(seed, split), min_objects, max_objects
        )
        for image, _, labels in scenes:
            name = SHAPE_CLASSES[labels[0]]
            path = root / split / name / f"{summary[split][name]}.{image_format}"
            Image.fromarray(image).save(path, pil_format, **save_options)
            summary[split][name] += 1
    return {
        "out_dir": str(root),
        "image_size": int(image_size),
        "image_format": image_format,
        "class_names": list(SHAPE_CLASSES),
        "counts": summary,
        "num_images": int(sum(counts.values())),
    }
