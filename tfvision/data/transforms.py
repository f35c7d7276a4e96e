"""Image transforms as pure TensorFlow functions: evaluation crop and training augmentation.

They trace under `tf.function`, run inside `tf.data` maps and inside an exported
SavedModel graph. Images are RGB, any numeric dtype, values 0..255; outputs are
float32 0..255 (normalisation belongs to the model). Random transforms are
*stateless*: they take a seed tensor of shape `[2]` (for example from
`EpochSeeds.shuffle_with_seeds`), so a seeded pipeline is reproducible even with
parallel maps; without a seed one is drawn from the global generator.

The training recipe follows torchvision's ImageNet one: random rotation, random
resized crop, horizontal flip. The evaluation recipe resizes the short side to
`size / crop_fraction` (256 for 224) and takes the centre crop.
"""

import math

import tensorflow as tf

DEFAULT_CROP_FRACTION = 224 / 256
DEFAULT_CROP_SCALE = (0.08, 1.0)
DEFAULT_CROP_RATIO = (3 / 4, 4 / 3)
DEFAULT_ROTATION_DEGREES = 30.0
_FILL_MODES = ("reflect", "wrap", "constant", "nearest")


def _as_seed(seed):
    """A stateless seed `[2]` int64: the given one, or one from the global generator."""
    if seed is None:
        return tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int64)
    return tf.cast(seed, tf.int64)


# Training augmentation works on at most this many times the output side: a
# 10000 x 10000 photo is scaled down first instead of being rotated and
# jittered at full size (15-20 s per image on CPU). A random resized crop of a
# quarter of the short side still samples at least the output resolution.
TRAINING_SIDE_LIMIT = 4


def limit_short_side(image, max_side):
    """Scales an image down so its short side is at most `max_side`; smaller ones pass unchanged.

    Args:
        image: `[H, W, C]` tensor, values 0..255.
        max_side: int, largest short side kept.

    Returns:
        float32 `[H', W', C]` with `min(H', W') <= max_side`, aspect ratio kept
        (bilinear, antialiased), or the image itself as float32.

    Example:
    >>> limit_short_side(tf.zeros([1000, 500, 3]), 100).shape.as_list()
    [200, 100, 3]
    """
    image = tf.cast(image, tf.float32)
    shape = tf.shape(image)
    height, width = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
    scale = float(max_side) / tf.minimum(height, width)

    def scaled():
        new_size = tf.cast(tf.round(tf.stack([height, width]) * scale), tf.int32)
        return tf.image.resize(image, tf.maximum(new_size, 1), antialias=True)

    return tf.cond(scale < 1.0, scaled, lambda: image)


def resize_short_side_and_center_crop(image, size, crop_fraction=DEFAULT_CROP_FRACTION):
    """Evaluation transform: resize the short side, then take the centre square.

    The short side becomes `round(size / crop_fraction)` (256 for `size=224`), the
    long side `floor(long * new_short / short)` as in torchvision's `Resize`, with
    bilinear, antialiased resampling; the crop starts at `(new - size) // 2`.

    Args:
        image: `[H, W, C]` or `[B, H, W, C]` tensor, values 0..255.
        size: int, side of the square output.
        crop_fraction: float in (0, 1], the crop's share of the resized short side.
            Defaults to `224 / 256`.

    Returns:
        float32 `[size, size, C]` (or `[B, size, size, C]`).

    Example:
    >>> resize_short_side_and_center_crop(tf.zeros([300, 200, 3]), 224).shape
    TensorShape([224, 224, 3])
    """
    if not 0.0 < crop_fraction <= 1.0:
        raise ValueError(
            f"`crop_fraction` must be in (0, 1]. Received: crop_fraction={crop_fraction}"
        )
    image = tf.cast(image, tf.float32)
    short_target = int(round(size / crop_fraction))
    shape = tf.shape(image)
    height = tf.cast(shape[-3], tf.float64)
    width = tf.cast(shape[-2], tf.float64)
    short = tf.minimum(height, width)
    new_height = tf.cast(tf.floor(short_target * height / short), tf.int32)
    new_width = tf.cast(tf.floor(short_target * width / short), tf.int32)
    resized = tf.image.resize(image, tf.stack([new_height, new_width]), antialias=True)
    top = (new_height - size) // 2
    left = (new_width - size) // 2
    cropped = resized[..., top : top + size, left : left + size, :]
    if image.shape.rank is None:
        return cropped
    return tf.ensure_shape(cropped, image.shape[:-3] + (size, size, image.shape[-1]))


def rotate(image, degrees, fill_mode="reflect"):
    """Rotates an image counter-clockwise about its centre, keeping its size.

    Args:
        image: `[H, W, C]` tensor, values 0..255.
        degrees: float scalar (tensor or number), counter-clockwise angle.
        fill_mode: how points outside the image are filled: `"reflect"`, `"wrap"`,
            `"constant"` (zeros) or `"nearest"`. Defaults to `"reflect"`.

    Returns:
        float32 `[H, W, C]`, bilinear resampling.

    Example:
    >>> image = tf.reshape(tf.range(9.0), [3, 3, 1])
    >>> tf.round(rotate(image, 90.0))[..., 0].numpy().tolist()
    [[2.0, 5.0, 8.0], [1.0, 4.0, 7.0], [0.0, 3.0, 6.0]]
    """
    if fill_mode not in _FILL_MODES:
        raise ValueError(
            f"`fill_mode` must be one of {_FILL_MODES}. Received: fill_mode={fill_mode!r}"
        )
    image = tf.cast(image, tf.float32)
    shape = tf.shape(image)
    h, w = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
    theta = tf.cast(degrees, tf.float32) * (math.pi / 180.0)
    cos, sin = tf.cos(theta), tf.sin(theta)
    # Output pixel (x, y) samples the input at R(theta) (x - c) + c, c = centre.
    cx, cy = (w - 1.0) / 2.0, (h - 1.0) / 2.0
    transform = tf.stack(
        [cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy, 0.0, 0.0]
    )
    rotated = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None],
        transforms=transform[None],
        output_shape=shape[:2],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode=fill_mode.upper(),
    )
    return tf.ensure_shape(rotated[0], image.shape)


def random_rotation(image, max_degrees=DEFAULT_ROTATION_DEGREES, seed=None, fill_mode="reflect"):
    """Rotates by an angle drawn uniformly from `[-max_degrees, max_degrees]`.

    Args:
        image: `[H, W, C]` tensor, values 0..255.
        max_degrees: float >= 0. Defaults to `30`.
        seed: optional stateless seed, int tensor `[2]`.
        fill_mode: see `rotate`. Defaults to `"reflect"`.

    Returns:
        float32 `[H, W, C]`.
    """
    if max_degrees < 0:
        raise ValueError(f"`max_degrees` must be >= 0. Received: max_degrees={max_degrees}")
    degrees = tf.random.stateless_uniform(
        [], _as_seed(seed), minval=-float(max_degrees), maxval=float(max_degrees)
    )
    return rotate(image, degrees, fill_mode)


def random_crop_window(image_shape, scale=DEFAULT_CROP_SCALE, ratio=DEFAULT_CROP_RATIO, seed=None):
    """Samples the window of a random resized crop (torchvision semantics).

    The window covers a fraction of the image area drawn from `scale` and has a
    width / height aspect ratio drawn from `ratio`; after 10 failed attempts it
    is the whole image. Sampling uses `tf.image.stateless_sample_distorted_bounding_box`,
    which draws the ratio uniformly (torchvision draws its logarithm uniformly).

    Args:
        image_shape: int tensor `[3]`, `(H, W, C)`.
        scale: `(min, max)` area fractions. Defaults to `(0.08, 1.0)`.
        ratio: `(min, max)` width / height. Defaults to `(3/4, 4/3)`.
        seed: optional stateless seed, int tensor `[2]`.

    Returns:
        int32 tensor `[4]`: `(top, left, height, width)` inside the image.

    References:
        Szegedy et al., "Going Deeper with Convolutions", CVPR 2015 (section 6:
        crops of 8 %-100 % of the image area, aspect ratio in [3/4, 4/3]).
    """
    if not 0.0 < scale[0] <= scale[1] <= 1.0:
        raise ValueError(f"`scale` must satisfy 0 < min <= max <= 1. Received: scale={scale}")
    if not 0.0 < ratio[0] <= ratio[1]:
        raise ValueError(f"`ratio` must satisfy 0 < min <= max. Received: ratio={ratio}")
    begin, crop_size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.cast(image_shape, tf.int32),
        bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
        seed=_as_seed(seed),
        min_object_covered=0.0,
        aspect_ratio_range=ratio,
        area_range=scale,
        max_attempts=10,
        use_image_if_no_bounding_boxes=True,
    )
    return tf.concat([begin[:2], crop_size[:2]], axis=0)


def random_resized_crop(image, size, scale=DEFAULT_CROP_SCALE, ratio=DEFAULT_CROP_RATIO, seed=None):
    """Crops a random window (see `random_crop_window`) and resizes it to `size` x `size`.

    Args:
        image: `[H, W, C]` tensor, values 0..255.
        size: int, side of the square output.
        scale: `(min, max)` area fractions. Defaults to `(0.08, 1.0)`.
        ratio: `(min, max)` width / height. Defaults to `(3/4, 4/3)`.
        seed: optional stateless seed, int tensor `[2]`.

    Returns:
        float32 `[size, size, C]`, bilinear antialiased resampling.

    Example:
    >>> random_resized_crop(tf.zeros([300, 200, 3]), 96, seed=[1, 2]).shape
    TensorShape([96, 96, 3])
    """
    image = tf.cast(image, tf.float32)
    top, left, height, width = tf.unstack(random_crop_window(tf.shape(image), scale, ratio, seed))
    crop = image[top : top + height, left : left + width]
    resized = tf.image.resize(crop, [size, size], antialias=True)
    return tf.ensure_shape(resized, (size, size, image.shape[-1]))


def training_transform(
    image,
    size,
    seed=None,
    rotation_degrees=DEFAULT_ROTATION_DEGREES,
    scale=DEFAULT_CROP_SCALE,
    ratio=DEFAULT_CROP_RATIO,
    flip=True,
):
    """Training augmentation: random rotation, random resized crop, horizontal flip.

    Args:
        image: `[H, W, C]` tensor, values 0..255.
        size: int, side of the square output.
        seed: optional stateless seed, int tensor `[2]`; split into one per step.
        rotation_degrees: float, maximum rotation either way; 0 turns it off.
            Defaults to `30`.
        scale: random resized crop area range. Defaults to `(0.08, 1.0)`.
        ratio: random resized crop aspect range. Defaults to `(3/4, 4/3)`.
        flip: bool, random horizontal flip. Defaults to `True`.

    Returns:
        float32 `[size, size, C]`, values 0..255.

    Example:
    >>> training_transform(tf.zeros([120, 80, 3], tf.uint8), 64, seed=[0, 1]).shape
    TensorShape([64, 64, 3])
    """
    rotation_seed, crop_seed, flip_seed = tf.unstack(
        tf.random.experimental.stateless_split(_as_seed(seed), num=3)
    )
    image = limit_short_side(image, TRAINING_SIDE_LIMIT * size)
    if rotation_degrees:
        image = random_rotation(image, rotation_degrees, rotation_seed)
    image = random_resized_crop(image, size, scale, ratio, crop_seed)
    if flip:
        image = tf.image.stateless_random_flip_left_right(image, flip_seed)
    return image
