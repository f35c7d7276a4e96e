"""Drawing primitives of the synthetic shapes dataset: shape masks and backgrounds.

Every shape is described by its centre, its *diameter* (the diameter of the
circle through its outermost points, so a shape never reaches farther than
`diameter / 2` from its centre, whatever its rotation) and a rotation angle.
`shape_mask` rasterises it as a binary PIL mask; `draw_background` paints one of
four background kinds. Both are deterministic given the NumPy generator.
"""

import math

import numpy as np
from PIL import Image, ImageDraw

# Sorted, so that class ids agree with an image folder of them (sorted folder names).
SHAPE_CLASSES = ("circle", "cross", "ring", "square", "star", "triangle")
BACKGROUND_KINDS = ("solid", "gradient", "noise", "texture")

_STAR_INNER_RADIUS = 0.45  # of the outer radius
_CROSS_ARM_HALF_WIDTH = 0.3  # of the arm length
_RING_INNER_RADIUS = 0.55  # of the outer radius


def _regular_points(num_points, radii, angle):
    """Points at equal angular steps, alternating over `radii`, around (0, 0)."""
    steps = np.arange(num_points) * (2.0 * math.pi / num_points) + angle
    radii = np.resize(np.asarray(radii, dtype=np.float64), num_points)
    return np.stack([radii * np.cos(steps), radii * np.sin(steps)], axis=1)


def _cross_points(radius, angle):
    """The 12 corners of a plus sign whose farthest corners lie on `radius`."""
    w = _CROSS_ARM_HALF_WIDTH
    arm = radius / math.hypot(1.0, w)
    local = arm * np.array(
        [[w, 1], [w, w], [1, w], [1, -w], [w, -w], [w, -1],
         [-w, -1], [-w, -w], [-1, -w], [-1, w], [-w, w], [-w, 1]]
    )  # [12, 2] as (x, y)
    cos, sin = math.cos(angle), math.sin(angle)
    return local @ np.array([[cos, sin], [-sin, cos]])


def shape_polygon(shape, radius, angle):
    """Vertices `[N, 2]` (x, y) of a polygonal shape centred on (0, 0).

    Args:
        shape: one of `"square"`, `"triangle"`, `"star"`, `"cross"`.
        radius: float, distance of the farthest vertices from the centre.
        angle: float, rotation in radians.

    Returns:
        float64 array `[N, 2]` of (x, y) vertex offsets.
    """
    if shape == "square":
        return _regular_points(4, [radius], angle + math.pi / 4)
    if shape == "triangle":
        return _regular_points(3, [radius], angle - math.pi / 2)
    if shape == "star":
        radii = [radius, radius * _STAR_INNER_RADIUS]
        return _regular_points(10, radii, angle - math.pi / 2)
    if shape == "cross":
        return _cross_points(radius, angle)
    raise ValueError(
        f"`shape` must be a polygonal shape (square, triangle, star, cross). "
        f"Received: shape={shape!r}"
    )


def shape_mask(shape, center, diameter, angle, image_size):
    """Rasterises one shape as a binary mask.

    Args:
        shape: str, one of `SHAPE_CLASSES`.
        center: (x, y) centre in pixels; may lie near or past the border.
        diameter: float, diameter of the shape's circumscribed circle in pixels.
        angle: float, rotation in radians (ignored by circle and ring).
        image_size: int, side of the square mask.

    Returns:
        A PIL `"L"` image of size `image_size`, 255 inside the shape, 0 outside.

    Example:
    >>> mask = shape_mask("star", (48, 48), 40, 0.3, 96)
    >>> mask.getbbox() is not None
    True
    """
    mask = Image.new("L", (image_size, image_size), 0)
    draw = ImageDraw.Draw(mask)
    cx, cy = center
    r = diameter / 2.0
    if shape in ("circle", "ring"):
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
        if shape == "ring":
            q = r * _RING_INNER_RADIUS
            draw.ellipse([cx - q, cy - q, cx + q, cy + q], fill=0)
    elif shape in SHAPE_CLASSES:
        points = shape_polygon(shape, r, angle) + np.array([cx, cy])
        draw.polygon([tuple(p) for p in points.tolist()], fill=255)
    else:
        raise ValueError(f"`shape` must be one of {SHAPE_CLASSES}. Received: shape={shape!r}")
    return mask


def random_color(rng, num=1):
    """`num` uniformly random RGB colours, float64 `[num, 3]` in 0..255."""
    return rng.uniform(0.0, 255.0, size=(num, 3))


def draw_background(rng, image_size):
    """Paints a random background: solid, linear gradient, noise or soft texture.

    Noise and texture vary moderately around one base colour so that an object
    of a colour far from that base stays clearly visible.

    Args:
        rng: `numpy.random.Generator`.
        image_size: int, side of the square image.

    Returns:
        uint8 array `[image_size, image_size, 3]`.
    """
    kind = BACKGROUND_KINDS[rng.integers(len(BACKGROUND_KINDS))]
    base = random_color(rng)[0].astype(np.float32)
    size = image_size
    if kind == "solid":
        return np.full((size, size, 3), np.round(base), dtype=np.uint8)
    if kind == "gradient":
        other = random_color(rng)[0].astype(np.float32)
        theta = rng.uniform(0.0, 2.0 * math.pi)
        coords = np.linspace(-0.5, 0.5, size, dtype=np.float32)
        t = math.cos(theta) * coords[None, :] + math.sin(theta) * coords[:, None]
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)  # [S, S] in 0..1
        image = base + t[..., None] * (other - base)
    elif kind == "noise":  # uniform per-pixel noise of amplitude 10..35
        amplitude = int(rng.integers(10, 36))
        image = rng.integers(-amplitude, amplitude + 1, (size, size, 3), dtype=np.int16)
        image = image.astype(np.float32) + base
    else:  # texture: a coarse colour grid smoothly upsampled
        cells = int(rng.integers(3, 9))
        grid = np.clip(base + rng.uniform(-45.0, 45.0, (cells, cells, 3)), 0, 255)
        small = Image.fromarray(grid.astype(np.uint8))
        return np.array(small.resize((size, size), Image.BICUBIC))
    return np.clip(image, 0, 255, out=image).astype(np.uint8)
