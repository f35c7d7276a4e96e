"""Writes an `InferenceGraph` as a LiteRT (`.tflite`) model with builtin operators only.

The converter is TensorFlow's own (`tf.lite.TFLiteConverter`), restricted to
LiteRT's builtin operators: no Flex (select TensorFlow) ops and no custom
ops outside LiteRT's builtin resolver, so the file runs on any LiteRT interpreter (Android, iOS, a Raspberry
Pi, the browser). Keras' `model.export(format="litert")` converts
`model.__call__` and allows Flex ops; it would ship raw head outputs
without NMS and files that need the Flex delegate. A detector's file ends in
LiteRT's own `TFLite_Detection_PostProcess` (see
`tfvision.export.litert_postprocess`), which every LiteRT runtime resolves;
the converter folds what is left of batch norm into the convolutions.
"""

import tempfile

import numpy as np
import tensorflow as tf

QUANTIZATIONS = ("none", "float16", "dynamic", "int8")


def litert_model(graph, quantize="none", calibration=None):
    """The `.tflite` bytes of `graph`.

    Args:
        graph: an `InferenceGraph`.
        quantize: `"none"` (float32), `"float16"` (float16 weights),
            `"dynamic"` (int8 weights, float activations) or `"int8"` (int8
            weights and activations, per-channel, calibrated on
            `calibration`; input and output stay float32, so callers still
            pass pixels). Defaults to `"none"`.
        calibration: for `"int8"`, a list of input tuples, one array
            `[1, S, S, 3]` per graph input each. Defaults to `None`.

    Returns:
        bytes.

    Raises:
        ValueError: an unknown `quantize`, `"int8"` without calibration
            images, or a graph that needs an operator LiteRT lacks.
    """
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"Unknown LiteRT quantization {quantize!r}; use one of "
                         f"{', '.join(QUANTIZATIONS)}.")
    with tempfile.TemporaryDirectory() as work:
        # Through a SavedModel, as Keras' own LiteRT export does: the file keeps a
        # `serving_default` signature with the graph's input and output names.
        converter = tf.lite.TFLiteConverter.from_saved_model(
            graph.save(work), signature_keys=["serving_default"]
        )
        return _convert(converter, graph, quantize, calibration)


def _convert(converter, graph, quantize, calibration):
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantize == "int8":
        if not calibration:
            raise ValueError("int8 needs calibration images: pass --calibration DATA.")

        def representative():
            for inputs in calibration:
                yield [np.asarray(array, np.float32) for array in inputs]

        converter.representative_dataset = representative
        # Every op with an int8 kernel runs in int8; the few without one
        # stay float32 builtins instead of failing the conversion.
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                                               tf.lite.OpsSet.TFLITE_BUILTINS]
    try:
        return converter.convert()
    except Exception as error:  # the converter raises ConverterError and friends
        raise ValueError(
            f"LiteRT conversion of the {graph.task} failed with builtin operators only: "
            f"{str(error).strip().splitlines()[-1] if str(error).strip() else error}"
        ) from error


def litert_operators(model_content):
    """The operator names of a `.tflite` model, in the order its subgraphs list them.

    Builtins come as LiteRT names (`CONV_2D`, `WHILE`); a custom or Flex
    operator comes as its custom code (`FlexAddV2`, `TFLite_Detection_PostProcess`).

    Args:
        model_content: bytes of a `.tflite` file.

    Returns:
        list of str.
    """
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(model_content), 0)
    builtin_names = {value: name for name, value in vars(schema.BuiltinOperator).items()
                     if not name.startswith("_")}
    names = []
    for subgraph in model.subgraphs:
        for operator in subgraph.operators:
            code = model.operatorCodes[operator.opcodeIndex]
            builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
            if builtin == schema.BuiltinOperator.CUSTOM:
                custom = code.customCode
                names.append(custom.decode() if isinstance(custom, bytes) else str(custom))
            else:
                names.append(builtin_names.get(builtin, f"BUILTIN_{builtin}"))
    return names


def write_litert(graph, path, quantize="none", calibration=None):
    """Writes `graph` to `path` (a `.tflite` file); returns its operator names."""
    content = litert_model(graph, quantize, calibration)
    with open(path, "wb") as handle:
        handle.write(content)
    return litert_operators(content)
