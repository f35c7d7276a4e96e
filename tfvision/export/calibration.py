"""The images int8 quantization calibrates on, read from any data spec the recipe reads."""

import os

import numpy as np
import tensorflow as tf

from tfvision.data.image_decoding import IMAGE_EXTENSIONS
from tfvision.data.images import decode_image_file
from tfvision.export.inference import preprocess_image

DEFAULT_CALIBRATION_IMAGES = 100


def calibration_inputs(graph, spec, limit=DEFAULT_CALIBRATION_IMAGES):
    """Up to `limit` inputs of `graph` made from the images of `spec`, for int8 calibration.

    Args:
        graph: an `InferenceGraph`.
        spec: str. A folder of images (searched recursively, so an image
            folder dataset, MoCo's unlabelled folder or a detection image
            folder all work), or a data spec of the graph's task: `shapes` /
            `tfds:NAME` for a classifier or MoCo encoder, any `--data` of
            `detector train` for a detector, a two-view manifest (or `shapes`)
            for co-training.
        limit: int. At most this many images (pairs for co-training),
            spread over the whole source. Defaults to `100`.

    Returns:
        list of tuples, one float32 `[1, S, S, 3]` array per graph input.

    Raises:
        ValueError: `spec` yields no images, or images of another size than
            the graph's input.
    """
    limit = int(limit)
    if limit < 1:
        raise ValueError(f"--calibration-images must be at least 1. Received: {limit}")
    sizes = graph.image_sizes
    if graph.task == "cotraining":
        inputs = _two_view_inputs(graph, spec, limit)
    elif os.path.isdir(spec):
        paths = _spread(_image_files(spec), limit)
        inputs = [(preprocess_image(decode_image_file(path), sizes[0], graph.preprocessing),)
                  for path in paths]
    else:
        inputs = [(image,) for image in _spec_images(graph, spec, limit)]
    if not inputs:
        raise ValueError(f"The calibration data {spec} holds no images; int8 needs a few "
                         "hundred images like those the model will see.")
    batches = []
    for sample in inputs:
        arrays = tuple(np.asarray(image, np.float32)[None] for image in sample)
        for array, size, name in zip(arrays, sizes, graph.inputs):
            if array.shape != (1, size, size, 3):
                raise ValueError(
                    f"The calibration data {spec} gives {name} images of shape "
                    f"{list(array.shape[1:])}; the model takes [{size}, {size}, 3]."
                )
        batches.append(arrays)
    return batches


def _image_files(folder):
    found = []
    for root, folders, files in os.walk(folder):
        folders.sort()
        found.extend(os.path.join(root, name) for name in sorted(files)
                     if name.lower().endswith(IMAGE_EXTENSIONS))
    return found


def _spread(items, limit):
    if len(items) <= limit:
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, limit).round().astype(int)]


def _spec_images(graph, spec, limit):
    size = graph.image_sizes[0]
    if graph.task == "detector":
        from tfvision.data.detection.sources import detection_data

        data = detection_data(spec, "train", size, 1, training=False, num_images=limit)
    else:
        from tfvision.data.classification.sources import classification_data

        data = classification_data(spec, "train", size, 1, training=False, num_images=limit)
    images = []
    for batch in data.dataset.take(limit):
        images.append(batch[0][0] if isinstance(batch, tuple) else batch[0])
    return images


def _two_view_inputs(graph, spec, limit):
    from tfvision.recipes.cotraining.recipe import load_two_view_data

    samples = load_two_view_data(spec)
    count = len(samples.sources[0])
    inputs = []
    for index in _spread(list(range(count)), limit):
        inputs.append(tuple(
            preprocess_image(tf.convert_to_tensor(samples.decode_fns[view](
                samples.sources[view][index])), size, graph.preprocessing)
            for view, size in enumerate(graph.image_sizes)
        ))
    return inputs
