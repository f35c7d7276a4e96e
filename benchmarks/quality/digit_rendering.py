"""Drawing pieces for the quality benchmark: textured backgrounds, digit ink, pasting.

An 8x8 scan of scikit-learn's digits (values 0..16) becomes *ink*: an alpha
mask in 0..1, upscaled, scaled, rotated. Ink is pasted onto an RGB canvas in
one colour (`canvas = canvas · (1 - a) + colour · a`). Everything draws from a
`numpy.random.Generator`, so one seed gives one image.
"""

import dataclasses

import numpy as np
from PIL import Image, ImageFilter


@dataclasses.dataclass(frozen=True)
class Clutter:
    """How a digit is made hard to read.

    Attributes:
        size: int. Side of the square output image.
        rotation: float. Largest rotation either way, in degrees.
        scale: `(min, max)` height of the digit as a fraction of `size`.
        jitter: float. Largest shift of the digit's centre, as a fraction of `size`.
        fragments: `(min, max)` pieces of other digits drawn under it.
        noise: float. Largest standard deviation of the Gaussian pixel noise (0..255).
    """

    size: int = 48
    rotation: float = 30.0
    scale: tuple = (0.6, 1.0)
    jitter: float = 0.15
    fragments: tuple = (1, 3)
    noise: float = 18.0


def ink(scan, height, width=None):
    """The alpha mask of an 8x8 scan (or a slice of one) at `height` x `width` pixels.

    Args:
        scan: float `[h, w]`, values 0..16.
        height: int. Output rows.
        width: int. Output columns; defaults to keeping the scan's aspect ratio.

    Returns:
        float32 `[height, width]` in 0..1.
    """
    rows, cols = scan.shape
    width = width or max(1, round(height * cols / rows))
    image = Image.fromarray((np.asarray(scan, np.float32) / 16.0).astype(np.float32), mode="F")
    return np.clip(np.asarray(image.resize((width, height), Image.BICUBIC)), 0.0, 1.0)


def rotate(alpha, degrees):
    """`alpha` turned by `degrees` (counter-clockwise), the canvas grown to hold it."""
    image = Image.fromarray(alpha.astype(np.float32), mode="F")
    return np.clip(np.asarray(image.rotate(degrees, Image.BILINEAR, expand=True)), 0.0, 1.0)


def tight(alpha, threshold=0.25):
    """`alpha` cut to the rows and columns where it reaches `threshold`."""
    rows = np.flatnonzero(alpha.max(axis=1) >= threshold)
    cols = np.flatnonzero(alpha.max(axis=0) >= threshold)
    return alpha[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def paste(canvas, alpha, colour, top, left):
    """Blends `colour` into `canvas` (float `[S, S, 3]`, in place) through `alpha` at `(top, left)`.

    Parts of `alpha` outside the canvas are cut off.
    """
    side_y, side_x = canvas.shape[:2]
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + alpha.shape[0], side_y), min(left + alpha.shape[1], side_x)
    if y1 <= y0 or x1 <= x0:
        return
    a = alpha[y0 - top : y1 - top, x0 - left : x1 - left, None]
    canvas[y0:y1, x0:x1] = canvas[y0:y1, x0:x1] * (1.0 - a) + np.asarray(colour) * a


def background(rng, size):
    """A random RGB background, float `[size, size, 3]` in 0..255.

    One of: a linear gradient between two colours, smooth colour noise,
    stripes, a checkerboard; half the time blended with a second one.
    """
    canvas = _pattern(rng, size)
    if rng.random() < 0.5:
        canvas = 0.5 * canvas + 0.5 * _pattern(rng, size)
    return canvas


def _pattern(rng, size):
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    kind = rng.integers(4)
    if kind == 0:  # gradient
        angle = rng.uniform(0, 2 * np.pi)
        t = np.cos(angle) * x + np.sin(angle) * y
        t = (t - t.min()) / max(t.max() - t.min(), 1e-6)
    elif kind == 1:  # smooth noise
        cells = int(rng.integers(3, 9))
        coarse = rng.uniform(0, 255, (cells, cells, 3)).astype(np.uint8)
        return np.asarray(Image.fromarray(coarse).resize((size, size), Image.BICUBIC), np.float32)
    elif kind == 2:  # stripes
        angle, frequency = rng.uniform(0, np.pi), rng.uniform(2, 8)
        t = 0.5 + 0.5 * np.sin(2 * np.pi * frequency * (np.cos(angle) * x + np.sin(angle) * y))
    else:  # checkerboard
        cells = rng.uniform(3, 8)
        t = ((np.floor(x * cells) + np.floor(y * cells)) % 2).astype(np.float32)
    return a * (1.0 - t[..., None]) + b * t[..., None]


def contrasting_colour(rng, behind, min_difference=90.0):
    """A random colour whose brightness is at least `min_difference` from `behind`'s mean."""
    luma = np.array([0.299, 0.587, 0.114])
    base = float(np.mean(behind.reshape(-1, 3), axis=0) @ luma)
    for _ in range(20):
        colour = rng.uniform(0, 255, 3)
        if abs(colour @ luma - base) >= min_difference:
            return colour
    return np.full(3, 0.0 if base > 127 else 255.0)


def finish(rng, canvas, noise):
    """Adds Gaussian noise (sigma up to `noise`), sometimes a slight blur; returns uint8."""
    canvas = canvas + rng.normal(0.0, rng.uniform(0.0, noise), canvas.shape)
    image = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8))
    if rng.random() < 0.3:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    return np.asarray(image)


def cluttered_digit(rng, scan, others, style):
    """One scan drawn hard to read: background, fragments of `others`, the digit turned, moved.

    Args:
        rng: `numpy.random.Generator`.
        scan: float `[h, w]` (an 8x8 scan or a slice of one), values 0..16.
        others: float `[N, 8, 8]`, scans that fragments are cut from.
        style: `Clutter`.

    Returns:
        uint8 `[style.size, style.size, 3]`.
    """
    size = style.size
    canvas = background(rng, size)
    for _ in range(rng.integers(style.fragments[0], style.fragments[1] + 1)):
        piece = ink(others[rng.integers(len(others))], int(size * rng.uniform(0.3, 0.6)))
        keep = rng.integers(4)  # one half: top, bottom, left or right
        half = piece.shape[keep % 2] // 2
        piece = (piece[:half] if keep == 0 else piece[half:] if keep == 1
                 else piece[:, :half] if keep == 2 else piece[:, half:])
        piece = rotate(piece, rng.uniform(-180, 180))
        paste(canvas, piece, rng.uniform(0, 255, 3),
              int(rng.integers(-piece.shape[0] // 2, size)),
              int(rng.integers(-piece.shape[1] // 2, size)))
    alpha = ink(scan, max(4, int(size * rng.uniform(*style.scale))))
    alpha = tight(rotate(alpha, rng.uniform(-style.rotation, style.rotation)))
    shift = style.jitter * size
    top = int(round((size - alpha.shape[0]) / 2 + rng.uniform(-shift, shift)))
    left = int(round((size - alpha.shape[1]) / 2 + rng.uniform(-shift, shift)))
    behind = canvas[max(top, 0) : top + alpha.shape[0], max(left, 0) : left + alpha.shape[1]]
    paste(canvas, alpha, contrasting_colour(rng, behind), top, left)
    return finish(rng, canvas, style.noise)
