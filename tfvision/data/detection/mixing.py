"""Batch-level detection augmentations: mosaic and mixup, images mixed with others of the batch.

They work on ONE batch `(images [B, H, W, 3] 0..255, boxes [B, M, 4] relative
yxyx, labels [B, M] int32 with -1 at padding)`; an image's partners are other
images of the same batch, chosen by the seed. No box is lost: mosaic returns
`4 * M` boxes, mixup `2 * M`, valid boxes first, padding zero with label -1,
and an image left alone keeps its boxes, padded to the same count. Random
choices are stateless, from a seed tensor `[2]`, so a seeded `tf.data`
pipeline is reproducible; everything is dense (no Python branching on tensor
values), so it traces in a `tf.data` map.
"""

import tensorflow as tf

from tfvision.data.detection.boxes import (
    DEFAULT_MIN_BOX_AREA,
    DEFAULT_MIN_VISIBLE_FRACTION,
    sanitize_boxes,
)
from tfvision.data.transforms import _as_seed

DEFAULT_MOSAIC_SCALE = (0.5, 1.0)  # common scale of a mosaic's four images
DEFAULT_MIXUP_ALPHA = 32.0  # Beta(32, 32), as Ultralytics: weights near 0.5
MOSAIC_CENTRE_RANGE = (0.25, 0.75)  # of the output side
_QUADRANT_SIDES = ((0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0))  # (bottom, right)


def check_mixing(mosaic=0.0, mixup=0.0, mixing_epochs=None):
    """`ValueError` unless both probabilities are in [0, 1] and `mixing_epochs` is None or >= 0."""
    for name, value in (("mosaic", mosaic), ("mixup", mixup)):
        if isinstance(value, bool) or not 0.0 <= float(value) <= 1.0:
            raise ValueError(
                f"`{name}` must be a probability in [0, 1]. Received: {name}={value!r}"
            )
    epochs = mixing_epochs
    if epochs is not None and (isinstance(epochs, bool) or int(epochs) != epochs or epochs < 0):
        raise ValueError(
            f"`mixing_epochs` must be None or an int >= 0. Received: mixing_epochs={epochs!r}"
        )


def _as_batch(images, boxes, labels):
    return tf.cast(images, tf.float32), tf.cast(boxes, tf.float32), tf.cast(labels, tf.int32)


def _pad_boxes(boxes, labels, factor):
    """Padding appended: `[B, M, 4], [B, M] -> [B, factor M, 4], [B, factor M]`."""
    count = None if labels.shape[1] is None else factor * labels.shape[1]
    missing = (factor - 1) * tf.shape(labels)[1]
    boxes = tf.pad(boxes, [[0, 0], [0, missing], [0, 0]])
    labels = tf.pad(labels, [[0, 0], [0, missing]], constant_values=-1)
    return tf.ensure_shape(boxes, [None, count, 4]), tf.ensure_shape(labels, [None, count])


def _partners(batch_size, count, seed):
    """int32 `[B, count]`: other images of the batch for each image, in random order.

    Distinct while `B > count`; they repeat when the batch has fewer others, and
    an image is its own partner only in a batch of one.
    """
    keys = tf.random.stateless_uniform([batch_size, batch_size], seed)
    keys = tf.where(tf.eye(batch_size, dtype=tf.bool), 2.0, keys)  # itself sorts last
    order = tf.argsort(keys, axis=1)  # [B, B]
    return tf.gather(order, tf.range(count) % tf.maximum(batch_size - 1, 1), axis=1)


def _apply(seed, batch_size, probability):
    """bool `[B]`: which images are augmented."""
    return tf.random.stateless_uniform([batch_size], seed) < probability


def _resample_windows(images, sources, windows, fill_value):
    """`images[sources]` resampled from relative yxyx `windows` to the full size: `[B, K, H, W, 3]`.

    The pixel-centre convention of `transforms.crop_zoom`, for `[B, K]` windows
    at once. The images get a 1-pixel border copied from their edge first:
    `crop_and_resize` fills samples beyond the outer pixel centres, which would
    draw a fill-coloured line where two images of a mosaic meet.
    """
    shape = tf.shape(images)
    size = tf.cast(shape[1:3], tf.float32)  # [2] (H, W)
    low, high = windows[..., :2], windows[..., 2:]  # [B, K, 2]
    span = high - low
    # Pixel-centre indices of the first and last samples, in the bordered image.
    first = (low + span * 0.5 / size) * size + 0.5
    last = (low + span * (1.0 - 0.5 / size)) * size + 0.5
    crops = tf.reshape(tf.concat([first, last], -1) / tf.tile(size + 1.0, [2]), [-1, 4])
    bordered = tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")
    resampled = tf.image.crop_and_resize(
        bordered, crops, tf.reshape(sources, [-1]), shape[1:3], extrapolation_value=fill_value
    )  # [B K, H, W, 3]
    return tf.reshape(resampled, tf.concat([tf.shape(sources), shape[1:]], 0))


def mosaic_batch(
    images,
    boxes,
    labels,
    seed,
    probability=1.0,
    scale=DEFAULT_MOSAIC_SCALE,
    min_area=DEFAULT_MIN_BOX_AREA,
    min_visible_fraction=DEFAULT_MIN_VISIBLE_FRACTION,
    fill_value=127.5,
):
    """Replaces images, with probability `probability`, by mosaics of 4 images of the batch.

    The mosaic of image `i` holds `i` and three other images of the batch in
    random quadrants around a random centre `(cy, cx)`, uniform in
    `[0.25, 0.75]` of the side. The four images are scaled by one common factor,
    uniform in `scale`, and each is placed with its corner facing the centre on
    the centre, so its quadrant shows the part of it next to that corner (as
    Ultralytics' mosaic followed by its centre crop); a quadrant larger than
    the scaled image shows `fill_value` beyond it. The output side is the
    input side. Boxes move with their image; as an image ends at the centre, a
    box can leave the output but never enter another quadrant. `sanitize_boxes`
    clips them to the output and drops those with less than
    `min_visible_fraction` of their area left in view or a clipped area below
    `min_area`.

    Args:
        images: float `[B, H, W, 3]`, values 0..255.
        boxes: float `[B, M, 4]` relative `yxyx`.
        labels: int `[B, M]`, `-1` at padding.
        seed: stateless seed, int tensor `[2]`.
        probability: float in [0, 1], chance that an image becomes a mosaic.
            Defaults to `1.0`.
        scale: `(min, max)`, range of the images' common scale factor (1 keeps
            their size). Defaults to `(0.5, 1.0)`.
        min_area: float, smallest clipped box area, relative to the output.
            Defaults to `1e-4`.
        min_visible_fraction: float, smallest visible part of a box. Defaults
            to `0.25`.
        fill_value: float, pixel value where no image is. Defaults to `127.5`.

    Returns:
        `(images float32 [B, H, W, 3], boxes float32 [B, 4 M, 4], labels int32
        [B, 4 M])`, valid boxes first.

    References:
        Bochkovskiy et al., "YOLOv4: Optimal Speed and Accuracy of Object
        Detection", 2020 (section 3.3, "Mosaic").

    Example:
    >>> images = tf.zeros([4, 32, 32, 3])
    >>> boxes = tf.constant([[[0.2, 0.2, 0.8, 0.8]]] * 4)
    >>> images, boxes, labels = mosaic_batch(images, boxes, [[0], [1], [2], [3]], seed=[0, 1])
    >>> images.shape, boxes.shape, labels.shape
    (TensorShape([4, 32, 32, 3]), TensorShape([4, 4, 4]), TensorShape([4, 4]))
    """
    check_mixing(mosaic=probability)
    if not 0.0 < scale[0] <= scale[1]:
        raise ValueError(f"Expected 0 < scale[0] <= scale[1]. Received: scale={scale}")
    images, boxes, labels = _as_batch(images, boxes, labels)
    if probability == 0:
        return (images,) + _pad_boxes(boxes, labels, 4)
    apply_seed, partner_seed, quadrant_seed, centre_seed, scale_seed = tf.unstack(
        tf.random.experimental.stateless_split(_as_seed(seed), num=5)
    )
    batch_size = tf.shape(images)[0]
    # Which image goes to which quadrant (top-left, top-right, bottom-left, bottom-right).
    sources = tf.concat([tf.range(batch_size)[:, None], _partners(batch_size, 3, partner_seed)], 1)
    order = tf.argsort(tf.random.stateless_uniform([batch_size, 4], quadrant_seed), axis=1)
    sources = tf.gather(sources, order, batch_dims=1)  # [B, 4]
    centre = tf.random.stateless_uniform([batch_size, 1, 2], centre_seed, *MOSAIC_CENTRE_RANGE)
    factor = tf.random.stateless_uniform([batch_size, 1, 1], scale_seed, scale[0], scale[1])
    sides = tf.constant(_QUADRANT_SIDES)  # [4, 2] (y, x): 0 before the centre, 1 after
    # The scaled source's top-left corner, in output coordinates: [B, 4, 2].
    origin = centre - factor * (1.0 - sides)

    # The whole output in each source's coordinates, then each pixel from its quadrant's source.
    windows = tf.concat([-origin, 1.0 - origin], -1) / factor  # [B, 4, 4]
    canvases = _resample_windows(images, sources, windows, fill_value)  # [B, 4, H, W, 3]
    size = tf.shape(images)[1:3]
    rows = (tf.range(size[0], dtype=tf.float32) + 0.5) / tf.cast(size[0], tf.float32)  # [H]
    columns = (tf.range(size[1], dtype=tf.float32) + 0.5) / tf.cast(size[1], tf.float32)  # [W]
    bottom = tf.cast(rows[None, :, None] >= centre[:, :, :1], tf.int32)  # [B, H, 1]
    right = tf.cast(columns[None, None, :] >= centre[:, :, 1:], tf.int32)  # [B, 1, W]
    quadrant = tf.one_hot(2 * bottom + right, 4, axis=1)  # [B, 4, H, W]
    mosaics = tf.reduce_sum(canvases * quadrant[..., None], axis=1)  # [B, H, W, 3]

    # Inside its image (so inside its quadrant), then moved with it: [B, 4, M, 4].
    source_boxes = tf.clip_by_value(tf.gather(boxes, sources), 0.0, 1.0)
    moved = tf.tile(origin, [1, 1, 2])[:, :, None] + factor[..., None] * source_boxes
    count = 4 * boxes.shape[1] if boxes.shape[1] is not None else -1
    mosaic_boxes, mosaic_labels, _ = sanitize_boxes(
        tf.reshape(moved, [batch_size, count, 4]),
        tf.reshape(tf.gather(labels, sources), [batch_size, count]),
        min_area,
        min_visible_fraction,
    )

    apply = _apply(apply_seed, batch_size, probability)  # [B]
    own_boxes, own_labels = _pad_boxes(boxes, labels, 4)
    return (
        tf.where(apply[:, None, None, None], mosaics, images),
        tf.where(apply[:, None, None], mosaic_boxes, own_boxes),
        tf.where(apply[:, None], mosaic_labels, own_labels),
    )


def _stateless_beta(shape, alpha, seed):
    """Beta(alpha, alpha) samples as `X / (X + Y)` of two Gamma(alpha) draws."""
    x_seed, y_seed = tf.unstack(tf.random.experimental.stateless_split(seed, num=2))
    x = tf.random.stateless_gamma(shape, x_seed, alpha)
    y = tf.random.stateless_gamma(shape, y_seed, alpha)
    return x / (x + y)


def mixup_batch(images, boxes, labels, seed, probability=1.0, alpha=DEFAULT_MIXUP_ALPHA):
    """Blends images, with probability `probability`, with another image of the batch.

    Image `i` becomes `w x_i + (1 - w) x_j` for a random other image `j` of the
    batch and `w ~ Beta(alpha, alpha)`; its boxes are both images' boxes. The
    default `alpha = 32` is Ultralytics': `w` stays near 0.5 (0.5 +- 0.06), so
    both images are clearly visible, as every box keeps its full weight in the
    loss. (Zhang et al. used Beta(1.5, 1.5) with the loss weighted by `w`.) In a
    batch of one, nothing is blended.

    Args:
        images: float `[B, H, W, 3]`, values 0..255.
        boxes: float `[B, M, 4]` relative `yxyx`.
        labels: int `[B, M]`, `-1` at padding.
        seed: stateless seed, int tensor `[2]`.
        probability: float in [0, 1], chance that an image is blended. Defaults
            to `1.0`.
        alpha: float > 0, both parameters of the Beta distribution. Defaults
            to `32.0`.

    Returns:
        `(images float32 [B, H, W, 3], boxes float32 [B, 2 M, 4], labels int32
        [B, 2 M])`, valid boxes first.

    References:
        Zhang et al., "mixup: Beyond Empirical Risk Minimization", ICLR 2018;
        Zhang et al., "Bag of Freebies for Training Object Detection Neural
        Networks", 2019 (section 3.1, visually coherent image mixup).

    Example:
    >>> images = tf.stack([tf.zeros([8, 8, 3]), tf.fill([8, 8, 3], 200.0)])
    >>> mixed, boxes, labels = mixup_batch(
    ...     images, [[[0.1, 0.1, 0.5, 0.5]], [[0.5, 0.5, 0.9, 0.9]]], [[0], [1]], seed=[0, 2])
    >>> labels.numpy().tolist()
    [[0, 1], [1, 0]]
    >>> bool(50.0 < float(mixed[0, 0, 0, 0]) < 150.0)  # (1 - w) 200, w near 0.5
    True
    """
    check_mixing(mixup=probability)
    if not alpha > 0:
        raise ValueError(f"`alpha` must be > 0. Received: alpha={alpha}")
    images, boxes, labels = _as_batch(images, boxes, labels)
    if probability == 0:
        return (images,) + _pad_boxes(boxes, labels, 2)
    apply_seed, partner_seed, weight_seed = tf.unstack(
        tf.random.experimental.stateless_split(_as_seed(seed), num=3)
    )
    batch_size = tf.shape(images)[0]
    partner = _partners(batch_size, 1, partner_seed)[:, 0]  # [B]
    weight = _stateless_beta([batch_size], float(alpha), weight_seed)[:, None, None, None]
    mixed = weight * images + (1.0 - weight) * tf.gather(images, partner)
    # Compacts the two lists (valid first); sanitized boxes pass unchanged.
    mixed_boxes, mixed_labels, _ = sanitize_boxes(
        tf.concat([boxes, tf.gather(boxes, partner)], 1),
        tf.concat([labels, tf.gather(labels, partner)], 1),
        min_area=0.0,
        min_visible_fraction=0.0,
    )
    apply = _apply(apply_seed, batch_size, probability) & (partner != tf.range(batch_size))
    own_boxes, own_labels = _pad_boxes(boxes, labels, 2)
    return (
        tf.where(apply[:, None, None, None], mixed, images),
        tf.where(apply[:, None, None], mixed_boxes, own_boxes),
        tf.where(apply[:, None], mixed_labels, own_labels),
    )


def mix_batch(images, boxes, labels, seed, mosaic=0.0, mixup=0.0, enabled=True,
              min_area=DEFAULT_MIN_BOX_AREA):
    """Mosaic, then mixup, on one batch: the batch-level step of `detection_batches`.

    Args:
        images: float `[B, H, W, 3]`, values 0..255.
        boxes: float `[B, M, 4]` relative `yxyx`.
        labels: int `[B, M]`, `-1` at padding.
        seed: stateless seed, int tensor `[2]`.
        mosaic: float in [0, 1], `mosaic_batch`'s probability. Defaults to `0.0`.
        mixup: float in [0, 1], `mixup_batch`'s probability. Defaults to `0.0`.
        enabled: bool or scalar bool tensor; when false the batch passes
            unchanged, its boxes padded to the same count. Defaults to `True`.
        min_area: float, see `mosaic_batch`. Defaults to `1e-4`.

    Returns:
        `(images float32 [B, H, W, 3], boxes float32 [B, K, 4], labels int32
        [B, K])` with `K = M` times 4 with mosaic and times 2 with mixup.

    Example:
    >>> out = mix_batch(tf.zeros([2, 16, 16, 3]), tf.zeros([2, 3, 4]), -tf.ones([2, 3]),
    ...                 seed=[1, 2], mosaic=0.5, mixup=0.5, enabled=tf.constant(False))
    >>> [tuple(x.shape) for x in out]
    [(2, 16, 16, 3), (2, 24, 4), (2, 24)]
    """
    check_mixing(mosaic, mixup)
    images, boxes, labels = _as_batch(images, boxes, labels)
    factor = (4 if mosaic else 1) * (2 if mixup else 1)
    mosaic_seed, mixup_seed = tf.unstack(
        tf.random.experimental.stateless_split(_as_seed(seed), num=2)
    )

    def mixed():
        batch = images, boxes, labels
        if mosaic:
            batch = mosaic_batch(*batch, mosaic_seed, mosaic, min_area=min_area)
        if mixup:
            batch = mixup_batch(*batch, mixup_seed, mixup)
        return batch

    def unmixed():
        return (images,) + _pad_boxes(boxes, labels, factor)

    if isinstance(enabled, bool):
        return mixed() if enabled else unmixed()
    return tf.cond(enabled, mixed, unmixed)
