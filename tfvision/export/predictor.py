"""One interface over every exported artifact: a SavedModel folder, a `.tflite` or an `.onnx`.

`Predictor.open(path)` reads what the artifact needs from the artifact itself
(a SavedModel's `predict_images` signature) or from the `metadata.json`
beside it (LiteRT, ONNX): the task, input sizes, preprocessing and class
names. `predict` takes images (paths or `[H, W, 3]` RGB arrays), one list per
input, and returns the artifact's numeric outputs as NumPy arrays, so a user
can check the very file they ship.
"""

import json
import os

import numpy as np
import tensorflow as tf

from tfvision.data.images import decode_image_file
from tfvision.export.inference import preprocess_image

METADATA = "metadata.json"
_TASK_BY_OUTPUT = (("boxes", "detector"), ("view0_probabilities", "cotraining"),
                   ("embeddings", "embedding"), ("probabilities", "classifier"))


def artifact_format(path):
    """`"saved_model"`, `"litert"` or `"onnx"`, from the path; raises for anything else."""
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, "saved_model.pb")):
            return "saved_model"
        raise ValueError(f"{path} is a folder without saved_model.pb; pass a SavedModel "
                         "version folder, a .tflite or an .onnx file.")
    if not os.path.exists(path):
        raise FileNotFoundError(f"No artifact at {path}.")
    if path.endswith(".tflite"):
        return "litert"
    if path.endswith(".onnx"):
        return "onnx"
    raise ValueError(f"{path} is not an artifact tfvision exports; pass a SavedModel version "
                     "folder, a .tflite or an .onnx file.")


def read_metadata(path):
    """The `metadata.json` beside a `.tflite` / `.onnx` file."""
    metadata_path = os.path.join(os.path.dirname(os.path.abspath(path)), METADATA)
    if not os.path.isfile(metadata_path):
        raise FileNotFoundError(
            f"No {METADATA} beside {path}; `tfvision export --format litert|onnx` writes it "
            "with the input size, preprocessing and class names the artifact needs."
        )
    with open(metadata_path) as handle:
        return json.load(handle)


class Predictor:
    """Runs one exported artifact on images.

    Attributes:
        path: str. The artifact.
        format: `"saved_model"`, `"litert"` or `"onnx"`.
        task: `"classifier"`, `"detector"`, `"embedding"` or `"cotraining"`.
        inputs: list of input names (`["images"]`, or `["view0", "view1"]`).
        class_names: list of str, or `None`.

    Example:
    >>> predictor = Predictor.open("saved_models/shapes_classifier/1")  # or a .tflite, .onnx
    >>> outputs = predictor.predict(["circle.png"])
    >>> outputs["class_ids"].shape, outputs["probabilities"].shape  # top 5 of 6 classes
    ((1, 5), (1, 6))
    """

    def __init__(self, path, artifact_format_, task, inputs, class_names):
        self.path, self.format, self.task = path, artifact_format_, task
        self.inputs, self.class_names = inputs, class_names

    @classmethod
    def open(cls, path):
        """The `Predictor` of the artifact at `path` (see `artifact_format`)."""
        kind = artifact_format(path)
        if kind == "saved_model":
            return _SavedModelPredictor(path)
        metadata = read_metadata(path)
        return (_LiteRTPredictor if kind == "litert" else _ONNXPredictor)(path, metadata)

    def predict(self, *images):
        """The artifact's outputs for `images`.

        Args:
            *images: one argument per input (two for co-training), each a list
                of image paths or `[H, W, 3]` RGB arrays in 0..255, or a
                single one; all arguments of equal length.

        Returns:
            dict of output name to NumPy array, batch first.
        """
        if len(images) != len(self.inputs):
            raise ValueError(f"{self.path} takes {len(self.inputs)} image list(s) "
                             f"({', '.join(self.inputs)}); received {len(images)}.")
        lists = [list(batch) if isinstance(batch, (list, tuple)) else [batch] for batch in images]
        if len({len(batch) for batch in lists}) > 1:
            raise ValueError("Every input needs as many images: "
                             + ", ".join(f"{n} {name}" for n, name in
                                         zip(map(len, lists), self.inputs)))
        decoded = [[_decode(image) for image in batch] for batch in lists]
        return self._run(decoded)

    def _run(self, decoded):
        raise NotImplementedError


def _decode(image):
    if isinstance(image, (str, bytes, os.PathLike)):
        return decode_image_file(os.fspath(image))
    image = tf.convert_to_tensor(image, tf.float32)
    if image.shape.rank != 3 or image.shape[-1] != 3:
        raise ValueError(f"Images must be [H, W, 3] RGB. Received shape {image.shape}.")
    return image


class _SavedModelPredictor(Predictor):
    def __init__(self, path):
        self._loaded = tf.saved_model.load(path)
        if "predict_images" not in self._loaded.signatures:
            raise ValueError(f"{path} has no predict_images signature; it is not a tfvision "
                             "SavedModel.")
        self._signature = self._loaded.signatures["predict_images"]
        inputs = sorted(self._signature.structured_input_signature[1])
        outputs = self._signature.structured_outputs
        task = next(task for key, task in _TASK_BY_OUTPUT if key in outputs)
        super().__init__(path, "saved_model", task, inputs, None)

    def _run(self, decoded):
        # `predict_images` resizes inside; one call per sample, as sizes may differ.
        results = []
        for sample in zip(*decoded):
            feed = {name: image[None] for name, image in zip(self.inputs, sample)}
            results.append({key: value.numpy() for key, value in self._signature(**feed).items()})
        return {key: np.concatenate([result[key] for result in results]) for key in results[0]}


class _MetadataPredictor(Predictor):
    def __init__(self, path, artifact_format_, metadata):
        self.metadata = metadata
        self.sizes = [entry["shape"][1] for entry in metadata["inputs"]]
        self.outputs = list(metadata["outputs"])
        super().__init__(path, artifact_format_, metadata["task"],
                         [entry["name"] for entry in metadata["inputs"]],
                         metadata.get("class_names"))

    def _run(self, decoded):
        batches = [np.stack([preprocess_image(image, size, self.metadata["preprocessing"])
                             for image in images]).astype(np.float32)
                   for images, size in zip(decoded, self.sizes)]
        return self.run_pixels(*batches)

    @property
    def image_size(self):
        """The square side of the first input (the evaluation helpers read it)."""
        return self.sizes[0]

    def predict_on_batch(self, images):
        """`run_pixels` of one preprocessed batch, as `keras.Model.predict_on_batch`.

        So an artifact scores like the model it came from, for example
        `tfvision.metrics.evaluate_detections(predictor, dataset)`.
        """
        return self.run_pixels(np.asarray(images))

    def run_pixels(self, *batches):
        """The outputs for preprocessed batches, one float32 `[N, S, S, 3]` per input."""
        batches = [np.asarray(batch, np.float32) for batch in batches]
        one_at_a_time = self.metadata.get("files", {}).get(self.format, {}).get("batch_size") == 1
        if one_at_a_time and len(batches[0]) > 1:
            # A graph of one image at a time (LiteRT's detection post-processing).
            results = [self.run_pixels(*(batch[i:i + 1] for batch in batches))
                       for i in range(len(batches[0]))]
            return {key: np.concatenate([result[key] for result in results])
                    for key in results[0]}
        return self._call(dict(zip(self.inputs, batches)))


class _LiteRTPredictor(_MetadataPredictor):
    def __init__(self, path, metadata):
        super().__init__(path, "litert", metadata)
        self._interpreter = litert_interpreter(path)
        self._runner = self._interpreter.get_signature_runner()

    def _call(self, feeds):
        # The runner resizes the batch dimension to each call's batch.
        return {key: np.asarray(value) for key, value in self._runner(**feeds).items()}


class _ONNXPredictor(_MetadataPredictor):
    def __init__(self, path, metadata):
        super().__init__(path, "onnx", metadata)
        try:
            import onnxruntime
        except ImportError as error:
            raise ImportError("Running an .onnx artifact needs onnxruntime: "
                              "pip install 'tfvision[deploy]'.") from error
        self._session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])

    def _call(self, feeds):
        names = [output.name for output in self._session.get_outputs()]
        return dict(zip(names, self._session.run(names, feeds)))


def litert_interpreter(path):
    """A LiteRT interpreter of `path`: `ai_edge_litert`'s, else TensorFlow's own."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        Interpreter = tf.lite.Interpreter
    return Interpreter(model_path=path)
