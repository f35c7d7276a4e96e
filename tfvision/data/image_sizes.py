"""The size images arrive at, and the input side a model should train at for them.

`--image-size auto` of the classifier and co-training recipes reads the
headers of a sample of the training files (no decoding) and trains at the
typical shorter side, rounded up to a multiple of 32 within `[64, 224]`:
small images are not blown up to 224 px (12x the compute of 64 px for
nothing the pixels hold), and large ones are not trained at their full size.
"""

import math

import numpy as np
from PIL import Image

# Below 64 px a stride-32 backbone's last feature map is 1x1 (the digits of
# `make quality` from random weights, 15 epochs: test top-1 0.30 at 32 px, 0.80 at 64 px).
MIN_AUTO_SIDE = 64
MAX_AUTO_SIDE = 224
SIDE_MULTIPLE = 32


def typical_side(paths, max_files=256):
    """Median shorter side, in pixels, of up to `max_files` image files spread over `paths`.

    Only the file headers are read. Files that cannot be opened are left out.

    Args:
        paths: list of str.
        max_files: int. Files read at most, evenly spaced over `paths`.
            Defaults to `256`.

    Returns:
        int, or `None` when no file could be read.
    """
    paths = list(paths)
    if not paths:
        return None
    chosen = np.unique(np.linspace(0, len(paths) - 1, min(len(paths), max_files)).astype(int))
    sides = []
    for index in chosen:
        try:
            with Image.open(paths[index]) as image:
                sides.append(min(image.size))
        except (OSError, ValueError, Image.DecompressionBombError):
            continue
    return int(np.median(sides)) if sides else None


def auto_input_side(native_side, default=MAX_AUTO_SIDE):
    """The input side for images whose typical shorter side is `native_side`.

    `native_side` rounded up to a multiple of 32 and kept within `[64, 224]`;
    `default` when it is unknown (`None`).

    Example:

    >>> [auto_input_side(side) for side in (8, 32, 48, 96, 100, 500, None)]
    [64, 64, 64, 96, 128, 224, 224]
    """
    if native_side is None:
        return int(default)
    rounded = SIDE_MULTIPLE * math.ceil(int(native_side) / SIDE_MULTIPLE)
    return int(min(MAX_AUTO_SIDE, max(MIN_AUTO_SIDE, rounded)))


def resolve_image_size(image_size, native_side, announce=None):
    """`image_size` as an int: itself, or `auto_input_side(native_side())` for `"auto"`.

    Args:
        image_size: int or `"auto"`.
        native_side: a function of no arguments returning the data's typical
            side (or `None`); called only for `"auto"`.
        announce: optional str naming the images measured (`"the training
            images"`); with `"auto"`, the chosen size is printed with it.
            Defaults to `None` (silent).

    Raises:
        ValueError: `image_size` is neither `"auto"` nor a positive int.
    """
    if isinstance(image_size, str):
        if image_size != "auto":
            raise ValueError(f"`image_size` must be 'auto' or a positive int. "
                             f"Received: image_size={image_size!r}")
        side = auto_input_side(native_side())
        if announce:
            print(f"Image size: {side} px (auto, from the sizes of {announce})")
        return side
    if int(image_size) != image_size or int(image_size) < 1:
        raise ValueError(f"`image_size` must be 'auto' or a positive int. "
                         f"Received: image_size={image_size!r}")
    return int(image_size)
