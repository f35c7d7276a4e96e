"""Writes an `InferenceGraph` as an ONNX model, converted by tf2onnx, checked by onnx.

The graph's post-processing converts to standard ONNX operators, no custom
domain: the detector's NMS is ONNX's own `NonMaxSuppression` (tf2onnx's
conversion of `tf.image.combined_non_max_suppression`, see
`tfvision.export.detector`). ONNX Runtime folds batch norm into the
convolutions when it loads the model. Quantization goes through ONNX
Runtime's own tools: `dynamic` (int8 weights), `int8` (static QDQ,
per-channel, calibrated) and `float16` (inputs and outputs stay float32).
"""

import importlib
import os
import tempfile

import numpy as np

QUANTIZATIONS = ("none", "float16", "dynamic", "int8")
OPSET = 17
# The ops static int8 quantizes: the network's. A detector's box decoding (and the score
# top-k in front of `NonMaxSuppression`) stays float32: quantized with the NMS's own Add /
# Mul, box decoding and tfvision's NMS cost the demo detector 54 points of VOC07 mAP
# (0.761 -> 0.224).
_QUANTIZED_OPS = {False: ["Conv", "MatMul", "Gemm", "Add", "Mul"], True: ["Conv"]}


def _require(module):
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"ONNX export needs {module.split('.')[0]}: pip install 'tfvision[deploy]'."
        ) from error


def onnx_model(graph):
    """The float32 `onnx.ModelProto` of `graph`, outputs named as the graph names them."""
    tf2onnx = _require("tf2onnx")
    onnx = _require("onnx")
    model, _ = tf2onnx.convert.from_function(
        graph.function, input_signature=graph.input_signature(), opset=OPSET
    )
    # tf2onnx names outputs after the graph's tensors; the artifact uses the task's names.
    renames = _output_names(model, graph)
    for node in model.graph.node:
        node.output[:] = [renames.get(name, name) for name in node.output]
    for output in model.graph.output:
        output.name = renames.get(output.name, output.name)
    order = {name: index for index, name in enumerate(graph.outputs)}
    outputs = sorted(model.graph.output, key=lambda output: order.get(output.name, len(order)))
    del model.graph.output[:]
    model.graph.output.extend(outputs)
    onnx.checker.check_model(model)
    return model


def _output_names(model, graph):
    """`{tf2onnx output name: task output name}`."""
    structured = graph.concrete_function().structured_outputs  # dict of symbolic tensors
    by_tensor = {tensor.name: key for key, tensor in structured.items()}
    renames = {}
    for output in model.graph.output:
        key = by_tensor.get(output.name)
        if key is None:  # tf2onnx keeps the graph's identity output names ("Identity:0" ...)
            continue
        renames[output.name] = key
    if len(renames) != len(structured):
        # The outputs come in the concrete function's flattened (sorted-key) order.
        renames = dict(zip([output.name for output in model.graph.output], sorted(structured)))
    return renames


def onnx_operators(model):
    """`(domain, op_type)` of every node of `model`, its subgraphs included."""
    found = []

    def visit(graph):
        for node in graph.node:
            found.append((node.domain or "ai.onnx", node.op_type))
            for attribute in node.attribute:
                if attribute.g is not None and attribute.g.node:
                    visit(attribute.g)
                for subgraph in attribute.graphs:
                    visit(subgraph)

    visit(model.graph)
    return found


def unsupported_onnx_operators(model):
    """The operators of `model` that are not standard ONNX at the model's opset."""
    onnx = _require("onnx")
    opset = max(entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx"))
    missing = set()
    for domain, op_type in onnx_operators(model):
        onnx_domain = "" if domain == "ai.onnx" else domain
        try:
            onnx.defs.get_schema(op_type, opset, onnx_domain)
        except Exception:  # onnx.defs.SchemaError: not in the standard operator set
            missing.add((domain, op_type))
    return sorted(missing)


def write_onnx(graph, path, quantize="none", calibration=None):
    """Writes `graph` to `path` (an `.onnx` file), quantized as asked; returns its operators.

    Args:
        graph: an `InferenceGraph`.
        path: str, the `.onnx` file.
        quantize: see `QUANTIZATIONS`. Defaults to `"none"`.
        calibration: for `"int8"`, a list of input tuples, one `[1, S, S, 3]`
            array per graph input each. Defaults to `None`.

    Returns:
        `(domain, op_type)` of every node of the written model.
    """
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"Unknown ONNX quantization {quantize!r}; use one of "
                         f"{', '.join(QUANTIZATIONS)}.")
    if quantize == "int8" and not calibration:
        raise ValueError("int8 needs calibration images: pass --calibration DATA.")
    onnx = _require("onnx")
    model = onnx_model(graph)
    if quantize == "none":
        onnx.save(model, path)
    elif quantize == "float16":
        from onnxruntime.transformers.float16 import convert_float_to_float16

        onnx.save(convert_float_to_float16(model, keep_io_types=True), path)
    else:
        quantization = _require("onnxruntime.quantization")
        with tempfile.TemporaryDirectory() as work:
            float_path = os.path.join(work, "float32.onnx")
            onnx.save(model, float_path)
            if quantize == "dynamic":
                quantization.quantize_dynamic(float_path, path,
                                              weight_type=quantization.QuantType.QInt8)
            else:
                quantization.quantize_static(
                    float_path, path, _CalibrationReader(graph.inputs, calibration),
                    quant_format=quantization.QuantFormat.QDQ, per_channel=True,
                    activation_type=quantization.QuantType.QInt8,
                    weight_type=quantization.QuantType.QInt8,
                    op_types_to_quantize=_QUANTIZED_OPS[graph.task == "detector"],
                    # 7-bit weights: x86 CPUs without VNNI (AVX2, this machine) saturate
                    # the int8 products otherwise, as ONNX Runtime's guide warns. The demo
                    # detector's VOC07 mAP@0.5: 0.7374 without, 0.7570 with (Keras 0.7575).
                    reduce_range=True,
                )
    return onnx_operators(onnx.load(path))


class _CalibrationReader:
    """ONNX Runtime's `CalibrationDataReader` protocol over a list of input tuples."""

    def __init__(self, names, calibration):
        self._feeds = iter([{name: np.asarray(array, np.float32)
                             for name, array in zip(names, inputs)} for inputs in calibration])

    def get_next(self):
        return next(self._feeds, None)
