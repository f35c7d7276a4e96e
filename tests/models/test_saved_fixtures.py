"""`.keras` files written by an earlier tfvision still load and predict the same."""

import os

import keras
import numpy as np

import tfvision.models  # noqa: F401  (registers the model classes)

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")


def test_image_classifier_saved_before_the_backbone_registry_loads():
    expected = np.load(os.path.join(FIXTURES, "image_classifier_v0.npz"), allow_pickle=False)
    model = keras.saving.load_model(os.path.join(FIXTURES, "image_classifier_v0.keras"),
                                    safe_mode=True)
    assert model.class_names == ["a", "b", "c"] and model.image_size == 64
    probabilities = model.predict(expected["images"].astype("float32"), verbose=0)
    np.testing.assert_allclose(probabilities, expected["probabilities"], rtol=1e-5, atol=1e-6)
