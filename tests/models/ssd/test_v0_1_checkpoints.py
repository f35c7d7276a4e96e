"""`.keras` detectors saved by tfvision 0.1.0 still load and predict the same.

The fixtures were written once by `tests/fixtures/make_ssd_v0_1.py` with the
0.1.0 release, whose `SSDDetector` chose its parts by strings (`head_type`,
`coding`, `localization`, `classification`).
"""

import os

import keras
import numpy as np
import pytest

from tfvision.models.ssd import SSDDetector

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures")


@pytest.mark.parametrize("name", ["ssdlite_v0_1", "ssd_multihead_v0_1"])
def test_a_v0_1_checkpoint_loads_and_predicts_what_it_did(name):
    images = np.load(os.path.join(FIXTURES, "ssd_v0_1_images.npy"), allow_pickle=False)
    with np.load(os.path.join(FIXTURES, f"{name}_outputs.npz"), allow_pickle=False) as saved:
        expected = dict(saved)
    model = keras.saving.load_model(os.path.join(FIXTURES, f"{name}.keras"), safe_mode=True)
    assert isinstance(model, SSDDetector)
    raw = model(images, training=False)
    detections = model.postprocess(raw)
    for key, value in raw.items():
        np.testing.assert_allclose(expected[f"raw_{key}"], value, atol=1e-5, err_msg=key)
    for key, value in detections.items():
        np.testing.assert_allclose(expected[f"det_{key}"], value, atol=1e-5, err_msg=key)
    assert expected["det_num_detections"].min() > 0
    # Through `predict` too (the path `model.predict` and the exporters take).
    predicted = model.predict(images, verbose=0)
    np.testing.assert_allclose(expected["det_boxes"], predicted["boxes"], atol=1e-5)
