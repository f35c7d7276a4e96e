"""Box format conversion at the edge of tfvision.

Inside tfvision every box is `yxyx` relative to the image (`"rel_yxyx"`:
`[y_min, x_min, y_max, x_max]` in 0..1). Public functions take a
`bounding_box_format` argument with the Keras format names and convert with
`to_internal` on the way in and `from_internal` on the way out.
"""

import keras

INTERNAL_FORMAT = "rel_yxyx"

# The format names `keras.utils.bounding_boxes.convert_format` understands.
SUPPORTED_FORMATS = (
    "xyxy",
    "yxyx",
    "xywh",
    "center_xywh",
    "center_yxhw",
    "rel_xyxy",
    "rel_yxyx",
    "rel_xywh",
    "rel_center_xywh",
)


def _check_format(name, value):
    if not isinstance(value, str) or value.lower() not in SUPPORTED_FORMATS:
        raise ValueError(
            f"`{name}` must be one of {SUPPORTED_FORMATS}. "
            f"Received: {name}={value!r}"
        )
    return value.lower()


def convert_format(boxes, source, target, height=None, width=None):
    """Converts boxes between two Keras bounding-box formats.

    A thin wrapper over `keras.utils.bounding_boxes.convert_format` that
    validates the format names and only asks for the image size when it is
    needed: converting between a relative (`rel_*`) and an absolute format.
    Two relative formats (or two absolute ones) convert without it.

    Args:
        boxes: float tensor `[..., 4]` in `source` format.
        source: str, one of `SUPPORTED_FORMATS`, case-insensitive.
        target: str, one of `SUPPORTED_FORMATS`, case-insensitive.
        height: image height in pixels, needed only between relative and
            absolute formats. Defaults to `None`.
        width: image width in pixels, as `height`. Defaults to `None`.

    Returns:
        float32 tensor `[..., 4]` in `target` format.

    Raises:
        ValueError: for an unknown format or a missing image size.

    Example:
    >>> boxes = convert_format([[10., 20., 30., 60.]], "xyxy", "rel_yxyx", height=100, width=200)
    >>> boxes.numpy().tolist()
    [[0.2, 0.05, 0.6, 0.15]]
    """
    source = _check_format("source", source)
    target = _check_format("target", target)
    if source.startswith("rel_") != target.startswith("rel_"):
        if height is None or width is None:
            raise ValueError(
                "Converting between a relative and an absolute format needs "
                f"the image size. Received: source={source!r}, "
                f"target={target!r}, height={height}, width={width}"
            )
    else:
        # Same kind on both sides: the image size cancels out.
        height, width = 1.0, 1.0
    return keras.utils.bounding_boxes.convert_format(
        boxes, source=source, target=target, height=height, width=width
    )


def to_internal(boxes, bounding_box_format, height=None, width=None):
    """Converts boxes from `bounding_box_format` to relative `yxyx`.

    Args:
        boxes: float tensor `[..., 4]` in `bounding_box_format`.
        bounding_box_format: str, one of `SUPPORTED_FORMATS`.
        height: image height in pixels, needed for an absolute format.
            Defaults to `None`.
        width: image width in pixels, as `height`. Defaults to `None`.

    Returns:
        float32 tensor `[..., 4]`, `[y_min, x_min, y_max, x_max]` in 0..1.

    Example:
    >>> to_internal([[0.1, 0.2, 0.5, 0.6]], "rel_xyxy").numpy().tolist()
    [[0.2, 0.1, 0.6, 0.5]]
    """
    return convert_format(boxes, bounding_box_format, INTERNAL_FORMAT, height, width)


def from_internal(boxes, bounding_box_format, height=None, width=None):
    """Converts relative `yxyx` boxes to `bounding_box_format`.

    Args:
        boxes: float tensor `[..., 4]`, relative `yxyx`.
        bounding_box_format: str, one of `SUPPORTED_FORMATS`.
        height: image height in pixels, needed for an absolute format.
            Defaults to `None`.
        width: image width in pixels, as `height`. Defaults to `None`.

    Returns:
        float32 tensor `[..., 4]` in `bounding_box_format`.

    Example:
    >>> from_internal([[0.2, 0.1, 0.6, 0.5]], "xywh", height=10, width=10).numpy().tolist()
    [[1.0, 2.0, 4.0, 4.0]]
    """
    return convert_format(boxes, INTERNAL_FORMAT, bounding_box_format, height, width)
