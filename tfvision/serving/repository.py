"""Loads every model and version of a TF Serving model root with plain TensorFlow."""

import numpy as np
import tensorflow as tf

from tfvision.export.layout import find_saved_models
from tfvision.export.signature_defs import read_signature_defs, tensor_specs
from tfvision.serving.errors import InvalidArgument, NotFound
from tfvision.serving.metrics import ServingMetrics

_GRAPH_ERRORS = (tf.errors.InvalidArgumentError, tf.errors.OutOfRangeError)


class ServedVersion:
    """One loaded SavedModel version: its signatures, callable on NumPy inputs.

    Args:
        name: str. Model name.
        version: int. Version number.
        path: str. The SavedModel folder.
        metrics: optional `ServingMetrics` counting the calls and their batch sizes.
            Defaults to `None`.
    """

    def __init__(self, name, version, path, metrics=None):
        self.name, self.version, self.path = name, int(version), path
        self.metrics = metrics
        self.signature_defs = read_signature_defs(path)
        self._loaded = tf.saved_model.load(path)
        self._functions = dict(self._loaded.signatures)
        self.input_specs = {k: tensor_specs(s.inputs) for k, s in self.signature_defs.items()}
        self.output_specs = {k: tensor_specs(s.outputs) for k, s in self.signature_defs.items()}

    def signature(self, signature_name):
        """`(input specs, output specs)` of a signature, or `NotFound`."""
        signature_name = signature_name or "serving_default"
        if signature_name not in self._functions:
            raise NotFound(
                f"Model {self.name} version {self.version} has no signature {signature_name!r}; "
                f"it has {sorted(self._functions)}. Received: signature_name={signature_name!r}"
            )
        return self.input_specs[signature_name], self.output_specs[signature_name]

    def predict(self, signature_name, inputs, output_filter=()):
        """Runs a signature on NumPy inputs checked against its `TensorSpec`s.

        Args:
            signature_name: str. Signature to run (empty: `serving_default`).
            inputs: dict `{input name: np.ndarray}`; strings as object arrays
                of `bytes`.
            output_filter: names of the outputs to return; empty for all.

        Returns:
            A dict `{output name: np.ndarray}`.

        Raises:
            NotFound: no such signature.
            InvalidArgument: missing or unknown inputs, wrong dtype or shape,
                or the graph refusing the values (for example bytes that are
                not an image); the message names the first instance (batch
                row) the graph refuses.
        """
        signature_name = signature_name or "serving_default"
        input_specs, output_specs = self.signature(signature_name)
        if sorted(inputs) != sorted(input_specs):
            raise InvalidArgument(
                f"Signature {signature_name!r} takes inputs {sorted(input_specs)}. "
                f"Received: {sorted(inputs)}"
            )
        unknown = set(output_filter) - set(output_specs)
        if unknown:
            raise InvalidArgument(
                f"Signature {signature_name!r} has outputs {sorted(output_specs)}. "
                f"Received output_filter={sorted(unknown)}"
            )
        tensors = {key: to_tensor(key, value, input_specs[key]) for key, value in inputs.items()}
        try:
            outputs = self._functions[signature_name](**tensors)
        except _GRAPH_ERRORS as error:
            where = self._failing_instance(signature_name, tensors)
            raise InvalidArgument(
                f"Model {self.name} could not run signature {signature_name!r} on "
                f"{where or 'these inputs'}: {graph_error_reason(error.message)}"
            ) from None
        if self.metrics is not None:
            sizes = [int(t.shape[0]) for t in tensors.values() if t.shape.rank]
            self.metrics.observe_call(self.name, self.version, signature_name,
                                      sizes[0] if sizes else None)
        keys = output_filter or outputs.keys()
        return {key: outputs[key].numpy() for key in keys}

    def _failing_instance(self, signature_name, tensors):
        """`"instance i of n"`: the first batch row the signature fails on alone, or `None`.

        Runs only after the whole batch failed, so a good request pays nothing;
        `None` when the inputs share no batch dimension or every row runs alone.
        """
        sizes = {int(t.shape[0]) if t.shape.rank else None for t in tensors.values()}
        if len(sizes) != 1 or None in sizes:
            return None
        size = sizes.pop()
        for i in range(size):
            try:
                self._functions[signature_name](**{k: t[i : i + 1] for k, t in tensors.items()})
            except _GRAPH_ERRORS:
                return f"instance {i} of {size}"
            except (TypeError, ValueError):  # a signature with a fixed batch size
                return None
        return None


def graph_error_reason(message):
    """The op's own words in a TF runtime error (not the node / stack boilerplate)."""
    skip = ("Graph execution error", "Detected at node", "<stack traces", "[[", "File ")
    lines = [line.strip() for line in message.splitlines()]
    reasons = [line for line in lines if line and not line.startswith(skip)]
    return reasons[0] if reasons else message.strip()


def to_tensor(name, value, spec):
    """A NumPy input as a tensor of the signature's dtype and shape, or `InvalidArgument`."""
    array = np.asarray(value)
    if spec.dtype == tf.string:
        ok = array.dtype.kind in "SUO" or array.size == 0
    elif spec.dtype.is_floating:
        ok = array.dtype.kind in "fiu"
    elif spec.dtype.is_integer:
        ok = array.dtype.kind in "iu"
    else:
        ok = array.dtype.kind == "b" if spec.dtype == tf.bool else True
    if not ok:
        raise InvalidArgument(
            f"Input {name!r} must be {spec.dtype.name}. Received: values of type {array.dtype}"
        )
    if not spec.shape.is_compatible_with(array.shape):
        raise InvalidArgument(
            f"Input {name!r} must have shape {shape_text(spec.shape)}. "
            f"Received: shape {list(array.shape)}"
        )
    try:
        return tf.constant(array.tolist() if spec.dtype == tf.string else array, spec.dtype)
    except (TypeError, ValueError, UnicodeError) as error:
        raise InvalidArgument(f"Input {name!r} is not {spec.dtype.name}: {error}") from None


def shape_text(shape):
    """`[-1, 64, 64, 3]`-style text of a `TensorShape` (-1 for any size)."""
    if shape.rank is None:
        return "any"
    return str([-1 if d is None else d for d in shape.as_list()])


class ModelRepository:
    """Every model and version under a model root, loaded once at start.

    Args:
        root: str. A TF Serving model root (`root/<name>/<version>/`).

    Attributes:
        metrics: the `ServingMetrics` of the server over this repository; every model call
            is counted in it.

    Example:
    >>> repository = ModelRepository("saved_models")
    >>> repository.get("shapes_classifier").version
    2
    """

    def __init__(self, root):
        found = find_saved_models(root)
        if not found:
            raise ValueError(f"No SavedModel under {root}: expected {root}/<name>/<version>/.")
        self.metrics = ServingMetrics()
        self.models = {
            name: {v: ServedVersion(name, v, f"{root}/{name}/{v}", self.metrics)
                   for v in versions}
            for name, versions in found.items()
        }

    def versions(self, name):
        """`{version: ServedVersion}` of a model, or `NotFound`."""
        if name not in self.models:
            raise NotFound(f"Servable not found for request: model {name!r}. "
                           f"Models served: {sorted(self.models)}")
        return self.models[name]

    def get(self, name, version=None):
        """One version of a model; the highest when `version` is None."""
        versions = self.versions(name)
        if version is None or version == "":
            return versions[max(versions)]
        try:
            number = int(version)
        except (TypeError, ValueError):
            raise InvalidArgument(f"A version is an integer. Received: version={version!r}") from None
        if number not in versions:
            raise NotFound(f"Servable not found for request: model {name!r} version {number}. "
                           f"Versions served: {sorted(versions)}")
        return versions[number]
