"""Two views of the built-in shapes: two different corner crops.

Every image of the built-in dataset (`generate_shapes`) gives two views of
its dominant shape: view 0 is the top-left `crop` of the image, view 1 the
bottom-right `crop`. Each view misses a different band of the image (parts
of the shape, distractors, background), so the two models see different
evidence and make different mistakes — what co-training feeds on.

(A grayscale second view was tried: with the colour-pretrained `shapes`
backbone frozen it stays near 65 % however many labels it gets, so it has
little to learn from the other view's pseudo-labels.)
"""

import os
import shutil

import numpy as np
import tensorflow as tf
from PIL import Image

from tfvision.data.synthetic.shape_drawing import SHAPE_CLASSES
from tfvision.data.synthetic.scenes import generate_shapes
from tfvision.data.views.manifest import write_two_view_manifest
from tfvision.data.views.samples import TwoViewSamples

DEFAULT_VIEW_CROP = 0.85


def top_left_view(image, crop=DEFAULT_VIEW_CROP):
    """View 0: the top-left `crop` of the side.

    Args:
        image: `[S, S, 3]` (or `[B, S, S, 3]`) tensor, values 0..255.
        crop: float in (0, 1]. Share of the side kept. Defaults to `0.85`.

    Returns:
        float32 `[C, C, 3]` with `C = round(crop · S)`.
    """
    side = _crop_side(image, crop)
    return tf.cast(image[..., :side, :side, :], tf.float32)


def bottom_right_view(image, crop=DEFAULT_VIEW_CROP):
    """View 1: the bottom-right `crop` of the side.

    Args:
        image: `[S, S, 3]` (or `[B, S, S, 3]`) tensor, values 0..255.
        crop: float in (0, 1]. Share of the side kept. Defaults to `0.85`.

    Returns:
        float32 `[C, C, 3]` with `C = round(crop · S)`.
    """
    side = _crop_side(image, crop)
    return tf.cast(image[..., -side:, -side:, :], tf.float32)


def _crop_side(image, crop):
    if not 0.0 < crop <= 1.0:
        raise ValueError(f"`crop` must be in (0, 1]. Received: crop={crop}")
    return max(1, int(round(crop * image.shape[-2])))


def shapes_two_views(num_images=1000, image_size=96, seed=0, crop=DEFAULT_VIEW_CROP):
    """The built-in shapes in memory, as two aligned views (see `top_left_view`, `bottom_right_view`).

    The sources of both views are sample indices into the generated images;
    the views are cut inside the `tf.data` pipeline.

    Args:
        num_images: int. Defaults to `1000`.
        image_size: int. Side of the generated images. Defaults to `96`.
        seed: int. Generator seed. Defaults to `0`.
        crop: float. Share of the side each view keeps. Defaults to `0.85`.

    Returns:
        A `TwoViewSamples`, every sample labelled with its dominant shape.

    Example:
    >>> samples = shapes_two_views(60, image_size=64)
    >>> len(samples), samples.class_names[:2]
    (60, ['circle', 'cross'])
    """
    data = generate_shapes(num_images, image_size, seed)
    images = tf.constant(data["images"])  # [N, S, S, 3] uint8
    indices = np.arange(len(data["images"]), dtype=np.int64)
    return TwoViewSamples(
        (indices, indices.copy()),
        data["class_label"],
        list(SHAPE_CLASSES),
        (lambda i: top_left_view(tf.gather(images, i), crop),
         lambda i: bottom_right_view(tf.gather(images, i), crop)),
    )


def write_two_view_shapes(out_dir, num_images=1000, image_size=96, seed=0,
                          crop=DEFAULT_VIEW_CROP, manifest="manifest.csv", overwrite=False):
    """Writes the two views of the built-in shapes as PNG files plus a manifest.

    The layout is `out_dir/view0/<i>.png`, `out_dir/view1/<i>.png` and
    `out_dir/<manifest>` (CSV or JSON by its extension) listing them with
    their labels, ready for `tfvision cotrain out_dir/manifest.csv`.

    Args:
        out_dir: str. Destination folder.
        num_images: int. Defaults to `1000`.
        image_size: int. Defaults to `96`.
        seed: int. Defaults to `0`.
        crop: float. Defaults to `0.85`.
        manifest: str. Manifest file name. Defaults to `"manifest.csv"`.
        overwrite: bool. Replace existing view folders. Defaults to `False`.

    Returns:
        The manifest path.
    """
    for view in ("view0", "view1"):
        folder = os.path.join(out_dir, view)
        if os.path.isdir(folder) and os.listdir(folder):
            if not overwrite:
                raise FileExistsError(f"{folder} already holds files; pass overwrite=True "
                                      "or choose another folder.")
            shutil.rmtree(folder)
        os.makedirs(folder, exist_ok=True)
    data = generate_shapes(num_images, image_size, seed)
    views = (top_left_view(data["images"], crop), bottom_right_view(data["images"], crop))
    paths = ([], [])
    for view, images in enumerate(views):
        pixels = np.clip(np.round(images.numpy()), 0, 255).astype(np.uint8)
        for i, image in enumerate(pixels):
            relative = f"view{view}/{i}.png"
            Image.fromarray(image).save(os.path.join(out_dir, relative), compress_level=1)
            paths[view].append(relative)
    path = os.path.join(out_dir, manifest)
    write_two_view_manifest(path, paths[0], paths[1], data["class_label"], list(SHAPE_CLASSES))
    return path
