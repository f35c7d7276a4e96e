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
