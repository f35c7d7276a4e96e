"""Detection transforms: pure TensorFlow functions that move the boxes with the pixels.

Each works on ONE example `(image, boxes, labels)`: image `[H, W, 3]` values
0..255 (returned as float32), boxes `[M, 4]` relative `yxyx` (0..1), labels `[M]`
int32 with `-1` at padding (boxes are zero there). They return the same triple
with the same `M`, padding kept at the end and zero. Random transforms are
stateless like `transforms.py`: they take a seed tensor `[2]`, so a seeded
`tf.data` pipeline is reproducible even with parallel maps.

Geometric transforms may push boxes partly or fully out of the image;
`boxes.sanitize_boxes` (run once after all of them) clips, drops and compacts.
"""

import math

import tensorflow as tf

from tfvision.data.transforms import _as_seed, rotate

DEFAULT_DETECTION_ROTATION_DEGREES = 5.0
DEFAULT_CROP_ZOOM_SCALE = (0.5, 1.5)  # window side / image side; > 1 zooms out


def _zero_padding(boxes, labels):
    """Boxes with zeros where `labels == -1`."""
    return tf.where(labels[:, None] >= 0, boxes, tf.zeros_like(boxes))


def _as_example(image, boxes, labels):
    return (
        tf.cast(image, tf.float32),
        tf.cast(boxes, tf.float32),
        tf.cast(labels, tf.int32),
    )


def flip_boxes_horizontal(boxes, labels):
    """Mirrors boxes left-right: `x -> 1 - x`, swapping `x_min` and `x_max`.

    Args:
        boxes: float32 `[M, 4]` relative `yxyx`.
        labels: int32 `[M]`, `-1` at padding (kept zero).

    Returns:
        float32 `[M, 4]`.
    """
    y1, x1, y2, x2 = tf.unstack(boxes, axis=-1)
    return _zero_padding(tf.stack([y1, 1.0 - x2, y2, 1.0 - x1], axis=-1), labels)


def random_flip_horizontal(image, boxes, labels, seed=None):
    """Flips image and boxes left-right with probability 1/2.

    Args:
        image: `[H, W, 3]`, values 0..255.
        boxes: `[M, 4]` relative `yxyx`.
        labels: int32 `[M]`, `-1` at padding.
        seed: optional stateless seed, int tensor `[2]`.

    Returns:
        `(image float32 [H, W, 3], boxes [M, 4], labels [M])`.

    Example:
    >>> image, boxes, labels = random_flip_horizontal(
    ...     tf.zeros([8, 8, 3]), [[0.0, 0.0, 0.5, 0.25]], [1], seed=[0, 0])
    >>> boxes.shape
    TensorShape([1, 4])
    """
    image, boxes, labels = _as_example(image, boxes, labels)
    flip = tf.random.stateless_uniform([], _as_seed(seed)) < 0.5
    image = tf.cond(flip, lambda: tf.reverse(image, axis=[1]), lambda: image)
    boxes = tf.cond(flip, lambda: flip_boxes_horizontal(boxes, labels), lambda: boxes)
    return image, boxes, labels


def rotate_boxes(boxes, labels, degrees, image_height, image_width):
    """The axis-aligned boxes of the 4 corners of each box rotated with `rotate`.

    Rotation is counter-clockwise about the image centre, in pixel coordinates
    (so it stays a rotation for non-square images); the result is clipped to
    [0, 1]. The box is a little larger than the rotated object's tight box.

    Args:
        boxes: float32 `[M, 4]` relative `yxyx`.
        labels: int32 `[M]`, `-1` at padding (kept zero).
        degrees: float scalar, counter-clockwise angle, as for `rotate`.
        image_height: int scalar, `H`.
        image_width: int scalar, `W`.

    Returns:
        float32 `[M, 4]`.
    """
    h = tf.cast(image_height, tf.float32)
    w = tf.cast(image_width, tf.float32)
    theta = tf.cast(degrees, tf.float32) * (math.pi / 180.0)
    cos, sin = tf.cos(theta), tf.sin(theta)
    y1, x1, y2, x2 = tf.unstack(boxes, axis=-1)
    # Corners in pixel-edge coordinates, centred on the image centre: [M, 4].
    xs = tf.stack([x1, x2, x1, x2], axis=-1) * w - w / 2.0
    ys = tf.stack([y1, y1, y2, y2], axis=-1) * h - h / 2.0
    # `rotate` samples input R(theta) (p - c) + c, so content moves by R(-theta).
    new_xs = (cos * xs + sin * ys + w / 2.0) / w
    new_ys = (-sin * xs + cos * ys + h / 2.0) / h
    rotated = tf.stack(
        [
            tf.reduce_min(new_ys, -1),
            tf.reduce_min(new_xs, -1),
            tf.reduce_max(new_ys, -1),
            tf.reduce_max(new_xs, -1),
        ],
        axis=-1,
    )
    return _zero_padding(tf.clip_by_value(rotated, 0.0, 1.0), labels)


def random_rotation_with_boxes(
    image,
    boxes,
    labels,
    max_degrees=DEFAULT_DETECTION_ROTATION_DEGREES,
    seed=None,
    fill_mode="constant",
):
    """Rotates the image by a uniform angle in `[-max_degrees, max_degrees]`, boxes too.

    Each box becomes the axis-aligned box of its 4 rotated corners (see
    `rotate_boxes`), clipped to [0, 1]. Keep the angle small: the box grows
    with the angle.

    Args:
        image: `[H, W, 3]`, values 0..255.
        boxes: `[M, 4]` relative `yxyx`.
        labels: int32 `[M]`, `-1` at padding.
        max_degrees: float >= 0. Defaults to `5`.
        seed: optional stateless seed, int tensor `[2]`.
        fill_mode: see `transforms.rotate`. Defaults to `"constant"` (black
            corners: `"reflect"` would mirror objects that have no box).

    Returns:
        `(image float32 [H, W, 3], boxes [M, 4], labels [M])`.
    """
    if max_degrees < 0:
        raise ValueError(f"`max_degrees` must be >= 0. Received: max_degrees={max_degrees}")
    image, boxes, labels = _as_example(image, boxes, labels)
    degrees = tf.random.stateless_uniform(
        [], _as_seed(seed), minval=-float(max_degrees), maxval=float(max_degrees)
    )
    shape = tf.shape(image)
    boxes = rotate_boxes(boxes, labels, degrees, shape[0], shape[1])
    return rotate(image, degrees, fill_mode), boxes, labels


def random_lighting(image, boxes, labels, brightness=0.2, contrast=0.2, seed=None):
    """Random brightness shift and contrast scaling; boxes unchanged.

    Args:
        image: `[H, W, 3]`, values 0..255.
        boxes: `[M, 4]` relative `yxyx`.
        labels: int32 `[M]`.
        brightness: float >= 0, maximum shift as a fraction of 255. Defaults to `0.2`.
        contrast: float in [0, 1), contrast factor drawn from
            `[1 - contrast, 1 + contrast]`. Defaults to `0.2`.
        seed: optional stateless seed, int tensor `[2]`.

    Returns:
        `(image float32 [H, W, 3] clipped to 0..255, boxes, labels)`.
    """
    if brightness < 0 or not 0 <= contrast < 1:
        raise ValueError(
            "Expected brightness >= 0 and 0 <= contrast < 1. "
            f"Received: brightness={brightness}, contrast={contrast}"
        )
    image, boxes, labels = _as_example(image, boxes, labels)
    brightness_seed, contrast_seed = tf.unstack(
        tf.random.experimental.stateless_split(_as_seed(seed), num=2)
    )
    if brightness:
        image = tf.image.stateless_random_brightness(image, brightness * 255.0, brightness_seed)
    if contrast:
        image = tf.image.stateless_random_contrast(
            image, 1.0 - contrast, 1.0 + contrast, contrast_seed
        )
    return tf.clip_by_value(image, 0.0, 255.0), boxes, labels


def crop_zoom(image, boxes, labels, window, fill_value=127.5):
    """Resamples the relative `yxyx` window to the image's size; boxes follow.

    A window inside the image crops (zooms in); one larger than the image zooms
    out, the outside filled with `fill_value`. Boxes are moved into the window's
    coordinates and not clipped (see `sanitize_boxes`).

    Args:
        image: `[H, W, 3]`, values 0..255.
        boxes: `[M, 4]` relative `yxyx`.
        labels: int32 `[M]`, `-1` at padding.
        window: float `[4]`, relative `yxyx`, may extend beyond [0, 1].
        fill_value: float, pixel value outside the image. Defaults to `127.5`.

    Returns:
        `(image float32 [H, W, 3], boxes [M, 4], labels [M])`.
    """
    image, boxes, labels = _as_example(image, boxes, labels)
    window = tf.cast(window, tf.float32)
    wy1, wx1, wy2, wx2 = tf.unstack(window)
    shape = tf.shape(image)
    size = tf.cast(shape[:2], tf.float32)  # [2] (H, W)
    # Output pixel j samples the input at pixel-centre index
    # (w1 + (w2 - w1) (j + 0.5) / S) * S - 0.5; crop_and_resize takes the two
    # end points over (S - 1) (align-corners convention).
    low, span = tf.stack([wy1, wx1]), tf.stack([wy2 - wy1, wx2 - wx1])  # [2] (y, x)
    first = (low + span * 0.5 / size) * size - 0.5  # first sample, pixel-centre index
    last = (low + span * (1.0 - 0.5 / size)) * size - 0.5
    denominator = tf.maximum(size - 1.0, 1.0)
    resampled = tf.image.crop_and_resize(
        image[None],
        tf.concat([first, last], 0)[None] / tf.tile(denominator, [2])[None],
        [0],
        shape[:2],
        extrapolation_value=fill_value,
    )[0]
    offset = tf.stack([wy1, wx1, wy1, wx1])
    scale = tf.stack([wy2 - wy1, wx2 - wx1, wy2 - wy1, wx2 - wx1])
    moved = _zero_padding((boxes - offset) / scale, labels)
    return tf.ensure_shape(resampled, image.shape), moved, labels


def random_crop_zoom(
    image,
    boxes,
    labels,
    min_scale=DEFAULT_CROP_ZOOM_SCALE[0],
    max_scale=DEFAULT_CROP_ZOOM_SCALE[1],
    seed=None,
    fill_value=127.5,
):
    """Crops a random square-scaled window (zoom in) or zooms out; boxes follow.

    The window's side, as a fraction of the image's, is uniform in
    `[min_scale, max_scale]` (aspect ratio kept); a window smaller than the
    image lies inside it, a larger one contains it. SSD's "sample a patch" and
    "zoom out" augmentations in one.

    Args:
        image: `[H, W, 3]`, values 0..255.
        boxes: `[M, 4]` relative `yxyx`.
        labels: int32 `[M]`, `-1` at padding.
        min_scale: float in (0, 1]. Defaults to `0.5`.
        max_scale: float >= `min_scale`. Defaults to `1.5`.
        seed: optional stateless seed, int tensor `[2]`.
        fill_value: float, pixel value outside the image. Defaults to `127.5`.

    Returns:
        `(image float32 [H, W, 3], boxes [M, 4] unclipped, labels [M])`.

    References:
        Liu et al., "SSD: Single Shot MultiBox Detector", ECCV 2016 (section 2.2
        "Data augmentation" and 3.6 "zoom out").
    """
    if not 0.0 < min_scale <= max_scale:
        raise ValueError(
            "Expected 0 < min_scale <= max_scale. "
            f"Received: min_scale={min_scale}, max_scale={max_scale}"
        )
    uniform = tf.random.stateless_uniform([3], _as_seed(seed))
    scale = min_scale + (max_scale - min_scale) * uniform[0]
    # The window's corner lies between 0 and 1 - scale (negative when zooming out).
    y1 = tf.minimum(0.0, 1.0 - scale) + tf.abs(1.0 - scale) * uniform[1]
    x1 = tf.minimum(0.0, 1.0 - scale) + tf.abs(1.0 - scale) * uniform[2]
    window = tf.stack([y1, x1, y1 + scale, x1 + scale])
    return crop_zoom(image, boxes, labels, window, fill_value)


def resize(image, boxes, labels, size):
    """Resizes the image to `size` x `size` (antialiased bilinear); relative boxes are unchanged.

    Returns:
        `(image float32 [size, size, 3], boxes, labels)`.
    """
    image, boxes, labels = _as_example(image, boxes, labels)
    resized = tf.image.resize(image, [size, size], antialias=True)
    return tf.ensure_shape(resized, (size, size, image.shape[-1])), boxes, labels
