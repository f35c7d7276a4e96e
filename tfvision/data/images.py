"""Images handed to a model for prediction: paths or arrays, any size."""

import numpy as np
import tensorflow as tf

from tfvision.data.image_decoding import decode_image, image_file_error
from tfvision.data.transforms import DEFAULT_CROP_FRACTION, resize_short_side_and_center_crop


def decode_image_file(path):
    """Reads an image file as float32 RGB `[H, W, 3]` in 0..255 (see `decode_image`).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a readable image (the message names it).
    """
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"No image at {path}.")
    reason = image_file_error(path)
    if reason:
        raise ValueError(f"{path} is not a readable image: {reason}.")
    return tf.cast(decode_image(tf.io.read_file(path)), tf.float32)


def load_images_for_model(images, size, crop_fraction=DEFAULT_CROP_FRACTION):
    """Turns paths or arrays into the batch a classifier of side `size` takes.

    Every image goes through the evaluation transform (short side resized to
    `size / crop_fraction`, then a centre crop), unless it is already `size` x
    `size`.

    Args:
        images: a path, a list of paths, an array `[H, W, 3]` or a batch
            `[N, H, W, 3]`, RGB in 0..255.
        size: int. The model's input side.
        crop_fraction: float. The evaluation centre-crop fraction. Defaults
            to `224/256`.

    Returns:
        `(batch, single)`: float32 `[N, size, size, 3]`, and whether a single
        image was given.
    """
    single = isinstance(images, (str, bytes)) or (
        not isinstance(images, (list, tuple)) and np.ndim(images) == 3
    )
    if single:
        images = [images]
    if len(images) and isinstance(images[0], (str, bytes)):
        images = [decode_image_file(path) for path in images]
    batch = []
    for image in images:
        image = tf.convert_to_tensor(image, tf.float32)
        if image.shape.rank != 3 or image.shape[-1] != 3:
            raise ValueError(f"Images must be [H, W, 3] RGB. Received shape {image.shape}.")
        if image.shape[0] != size or image.shape[1] != size:
            image = resize_short_side_and_center_crop(image, size, crop_fraction)
        batch.append(image)
    return tf.stack(batch).numpy(), single
