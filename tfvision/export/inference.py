"""The graph every deployment format (LiteRT, ONNX) is converted from, and its metadata.

A SavedModel for TF Serving takes encoded bytes and returns class names as
strings. A phone, a browser or an ONNX runtime wants less: float pixels at
the model's input size in, numbers out, and a `metadata.json` that says how
to make the pixels and what the numbers mean. Each task registers a builder
(`register_inference`) that returns an `InferenceGraph` of its model, with
the post-processing (top-K, box decoding and NMS, L2 normalisation, the
two-view average) inside the graph.
"""

import dataclasses
import inspect

import keras
import tensorflow as tf

from tfvision.data.transforms import resize_short_side_and_center_crop
from tfvision.export.registry import exportable_classes, inference_for

# How an image becomes the model's input (`metadata.json`'s "preprocessing").
RESIZE_CENTER_CROP = "resize_short_side_center_crop"  # classifier, embedding, co-training
RESIZE_SQUARE = "resize_square"  # detector: whole image to the square input, no crop


@dataclasses.dataclass
class InferenceGraph:
    """A model as a `tf.function` on preprocessed pixels, with what a runtime needs to call it.

    Attributes:
        function: `tf.function` with an input signature: float32 RGB pixels
            `[N, S, S, 3]` in 0..255 per input, returning a dict of numeric
            tensors.
        task: str. `"classifier"`, `"detector"`, `"embedding"` or `"cotraining"`.
        inputs: list of input names, in the function's argument order.
        outputs: list of output names, in the order the artifact lists them.
        image_sizes: list of int, the square side of each input.
        preprocessing: dict, how an image becomes an input: `resize`
            (`RESIZE_CENTER_CROP` or `RESIZE_SQUARE`) and `crop_fraction`.
        class_names: list of str, or `None` for an embedding model.
        details: dict of further task facts for `metadata.json` (for example
            a detector's `max_detections`).
        model: the `keras.Model` whose variables `function` reads (tracked
            when the graph is saved for conversion).
        batch_size: int, or `None` (the default) for any batch. `1` where the
            graph holds an operator that runs on one image at a time (LiteRT's
            detection post-processing); a `Predictor` then calls it per image.
    """

    function: object
    task: str
    inputs: list
    outputs: list
    image_sizes: list
    preprocessing: dict
    class_names: list = None
    details: dict = dataclasses.field(default_factory=dict)
    model: object = None
    batch_size: int = None

    def input_signature(self):
        """The `tf.TensorSpec` of each input, `[batch_size, S, S, 3]` float32."""
        return [tf.TensorSpec([self.batch_size, size, size, 3], tf.float32, name=name)
                for name, size in zip(self.inputs, self.image_sizes)]

    def concrete_function(self):
        return self.function.get_concrete_function(*self.input_signature())

    def save(self, path):
        """Writes the graph as a SavedModel whose `serving_default` is `function`."""
        archive = keras.export.ExportArchive()
        archive.track(self.model)
        archive.add_endpoint("serving_default", self.function)
        archive.write_out(path, verbose=False)
        return path

    def metadata(self):
        """The `metadata.json` fields of this graph (the writer adds format and version)."""
        return {
            "task": self.task,
            "inputs": [
                {"name": name, "shape": [None, size, size, 3], "dtype": "float32",
                 "pixels": "RGB, 0..255 (the model normalises inside)"}
                for name, size in zip(self.inputs, self.image_sizes)
            ],
            "outputs": list(self.outputs),
            "preprocessing": dict(self.preprocessing),
            "class_names": None if self.class_names is None else list(self.class_names),
            **self.details,
        }


def inference_graph(model, top_k=5, source="the checkpoint", target="litert", quantize="none"):
    """The `InferenceGraph` of any exportable tfvision model.

    Args:
        model: a tfvision model with a registered inference builder
            (`ImageClassifier`, `SSDDetector`, `MoCo`, `CoTraining`).
        top_k: int. Classes returned per image by a classifier. Defaults to `5`.
        source: str. Names the model in the error message.
        target: str. The format the graph is converted to, `"litert"` or
            `"onnx"`, for builders that trace differently for one of them.
            Defaults to `"litert"`.
        quantize: str. The quantization the graph is converted with, for the
            same reason. Defaults to `"none"`.

    Returns:
        An `InferenceGraph`.

    Raises:
        ValueError: the model's class has no inference builder.
    """
    builder = inference_for(model)
    if builder is None:
        classes = exportable_classes()
        raise ValueError(
            f"{source} holds a {type(model).__name__}; LiteRT and ONNX export take a "
            f"{', '.join(classes[:-1])} or {classes[-1]}."
        )
    takes = inspect.signature(builder).parameters
    options = {"top_k": top_k, "target": target, "quantize": quantize}
    return builder(model, **{key: value for key, value in options.items() if key in takes})


def top_k_numeric(probabilities, k):
    """`probabilities`, `scores` and `class_ids` of the `k` best classes (numbers only)."""
    probabilities = tf.cast(probabilities, tf.float32)
    scores, class_ids = tf.math.top_k(probabilities, k=k)
    return {"probabilities": probabilities, "scores": scores, "class_ids": class_ids}


def resize_square(images, size):
    """The detector's input: the whole image (or batch) resized to `size` x `size`, antialiased.

    Detectors train on whole images resized to a square (see
    `tfvision.data.detection.transforms.resize`): no crop, so every box of the
    square maps back onto the original image.
    """
    return tf.image.resize(tf.cast(images, tf.float32), [size, size], antialias=True)


def preprocess_image(image, size, preprocessing):
    """One decoded image `[H, W, 3]` (RGB, 0..255) as an input of side `size`, float32.

    `preprocessing` is an `InferenceGraph.preprocessing` (or the
    `metadata.json` entry): the classifier's evaluation transform (short side
    to `size / crop_fraction`, centre crop) or the detector's square resize
    (the whole image, antialiased, as in training).
    """
    if preprocessing["resize"] == RESIZE_SQUARE:
        return resize_square(image, size)
    image = tf.cast(image, tf.float32)
    if preprocessing["resize"] == RESIZE_CENTER_CROP:
        return resize_short_side_and_center_crop(image, size, preprocessing["crop_fraction"])
    raise ValueError(f"Unknown preprocessing {preprocessing['resize']!r}.")
