"""The exporters `tfvision export` chooses from, by the class of the model a checkpoint holds.

An exporter is a function `export_<task>(model, root, name, version, ...)`
that writes `root/name/version/`. Its module in `tfvision/export/` registers
it with one line, `@register_exporter("<ModelClass>")`; `exporter_for` finds
it for a model of that class (or of a subclass). Every module of
`tfvision.export` is imported before the first look-up, so a new exporter
needs no other edit.
"""

import importlib
import pkgutil

_EXPORTERS = {}  # model class (or its name) -> export function, in registration order
_INFERENCE = {}  # model class (or its name) -> inference-graph builder (LiteRT, ONNX)
_IMPORTED = []  # whether every exporter module has been imported


def register_exporter(model_class):
    """Decorator: `tfvision export` exports checkpoints of `model_class` with the function.

    Args:
        model_class: a model class, or its name (a string, so that the
            exporter module need not import the model).

    Returns:
        The decorator; it returns the function unchanged.

    Example:

    ```python
    @register_exporter("ImageClassifier")
    def export_classifier(model, root, name, version, top_k=5, class_names=None):
        ...
    ```
    """
    return _registrar(_EXPORTERS, model_class, "already exports with")


def register_inference(model_class):
    """Decorator: LiteRT and ONNX exports of `model_class` trace the function's graph.

    The function takes `(model, top_k=...)` and returns an
    `tfvision.export.inference.InferenceGraph`: a `tf.function` on
    preprocessed pixels with numeric outputs only, post-processing inside.

    Args:
        model_class: a model class, or its name.

    Returns:
        The decorator; it returns the function unchanged.
    """
    return _registrar(_INFERENCE, model_class, "already has the inference graph of")


def _registrar(table, model_class, taken):
    """The decorator that puts a function in `table` for `model_class`, once."""
    def register(function):
        known = table.get(model_class)
        if known is not None and _qualified_name(known) != _qualified_name(function):
            raise ValueError(
                f"{_class_name(model_class)} {taken} {_qualified_name(known)}. "
                f"Received: {_qualified_name(function)}"
            )
        table[model_class] = function
        return function

    return register


def inference_for(model):
    """The inference-graph builder registered for `model`'s class or its nearest base, or `None`."""
    return _lookup(_INFERENCE, model)


def exporter_for(model):
    """The export function registered for `model`'s class or its nearest base, or `None`."""
    return _lookup(_EXPORTERS, model)


def _lookup(table, model):
    _import_exporters()
    for cls in type(model).__mro__:
        for key in (cls, cls.__name__):
            if key in table:
                return table[key]
    return None


def exportable_classes():
    """Names of the model classes with an exporter, in registration order."""
    _import_exporters()
    return [_class_name(key) for key in _EXPORTERS]


def _import_exporters():
    if _IMPORTED:
        return
    import tfvision.export

    for module in pkgutil.iter_modules(tfvision.export.__path__):
        importlib.import_module(f"tfvision.export.{module.name}")
    _IMPORTED.append(True)


def _class_name(key):
    return key if isinstance(key, str) else key.__name__


def _qualified_name(function):
    return f"{function.__module__}.{function.__qualname__}"
