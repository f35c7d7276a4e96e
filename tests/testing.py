"""Helpers shared by the tests: config round-trips and saving round-trips."""

import json
import os
import time

import keras
import numpy as np


def run_serialization_test(obj):
    """get_config -> from_config -> JSON gives an equal config."""
    config = obj.get_config()
    json.dumps(keras.saving.serialize_keras_object(obj))
    revived = obj.__class__.from_config(config)
    assert revived.get_config() == config
    return revived


def run_model_saving_test(model, inputs, path, atol=1e-6):
    """`model.save` -> `load_model(safe_mode=True)` predicts the same."""
    expected = model.predict(inputs, verbose=0)
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    actual = restored.predict(inputs, verbose=0)
    for e, a in zip(keras.tree.flatten(expected), keras.tree.flatten(actual)):
        np.testing.assert_allclose(a, e, atol=atol)
    return restored


def randomize_weights(model, seed=0):
    """Randomise batch-norm weights and statistics and biases in place.

    Kernels keep their (random) initial values; gamma and moving variance
    get U(0.5, 1.5), beta, moving mean and biases N(0, 0.1). Fresh batch-norm
    statistics are 0 and 1, which would hide a wrong mapping of them.
    """
    rng = np.random.default_rng(seed)
    values = []
    for weight in model.weights:
        value = keras.ops.convert_to_numpy(weight)
        name = weight.path.rsplit("/", 1)[-1]
        if name in ("gamma", "moving_variance"):
            value = rng.uniform(0.5, 1.5, value.shape)
        elif name in ("beta", "moving_mean", "bias"):
            value = rng.normal(0.0, 0.1, value.shape)
        values.append(value.astype("float32"))
    model.set_weights(values)
    return model


def build_optimizer(model):
    """Builds the compiled optimizer's slots before `fit`: made inside `fit`'s first step,
    they make the step trace twice."""
    model.optimizer.build(model.trainable_variables)


NOTEBOOKS = os.path.join(os.path.dirname(__file__), "..", "notebooks")


def run_notebook(name, work_dir, timeout):
    """Executes `notebooks/<name>` top to bottom in a fresh kernel inside `work_dir`.

    Raises `CellExecutionError` on any failing cell or assert. With the environment
    variable `TFVISION_WRITE_NOTEBOOKS=1` (`make notebooks`), a successful run writes the
    notebook back with its outputs: no execution timestamps, each cell's stream merged
    into one output, so a rerun changes only the lines that print times. Files the
    notebook writes stay in `work_dir`.

    Returns:
        `(printed, outputs, seconds)`: the text the code cells printed, their
        outputs, and the wall time (to report, never to assert).
    """
    import nbformat
    from nbclient import NotebookClient

    path = os.path.join(NOTEBOOKS, name)
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            record_timing=False, coalesce_streams=True,
                            resources={"metadata": {"path": str(work_dir)}})
    start = time.monotonic()
    client.execute()
    seconds = time.monotonic() - start
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    if os.environ.get("TFVISION_WRITE_NOTEBOOKS") == "1":
        nbformat.write(notebook, path)
    return printed, outputs, seconds
