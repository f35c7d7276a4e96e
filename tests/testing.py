"""Helpers shared by the tests: config round-trips and saving round-trips."""

import json

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
