import numpy as np
import pytest

from tests.testing import run_serialization_test
from tfvision.layers.box_decoder import BoxDecoder
from tfvision.ops import encode_bounded, encode_ssd


def _anchors_and_boxes(seed=0, n=12):
    rng = np.random.default_rng(seed)
    c, s = rng.uniform(0.3, 0.7, (n, 2)), rng.uniform(0.1, 0.3, (n, 2))
    anchors = np.concatenate([c - s / 2, c + s / 2], -1).astype("float32")
    boxes = anchors + rng.uniform(-0.03, 0.03, anchors.shape).astype("float32")
    return anchors, boxes[None]


def test_ssd_decoding_inverts_encoding_and_clips():
    anchors, boxes = _anchors_and_boxes()
    decoded = BoxDecoder()(encode_ssd(boxes, anchors), anchors)
    np.testing.assert_allclose(np.asarray(decoded), boxes, atol=1e-5)
    huge = BoxDecoder()(np.full((1, 12, 4), 50.0, "float32"), anchors)
    assert np.all(np.isfinite(huge)) and huge.numpy().min() >= 0 and huge.numpy().max() <= 1


def test_bounded_decoding_needs_grid_sizes_and_inverts_encoding():
    anchors, boxes = _anchors_and_boxes(1)
    grid = np.full((12,), 4.0, "float32")
    decoded = BoxDecoder("bounded")(encode_bounded(boxes, anchors, grid), anchors, grid)
    np.testing.assert_allclose(np.asarray(decoded), boxes, atol=1e-5)
    with pytest.raises(ValueError, match="grid_size"):
        BoxDecoder("bounded")(np.zeros((1, 12, 4), "float32"), anchors)


def test_arguments_and_config():
    with pytest.raises(ValueError, match="Received: coding='yolo'"):
        BoxDecoder("yolo")
    with pytest.raises(ValueError, match="Received: variances"):
        BoxDecoder(variances=(0.1, 0.2))
    revived = run_serialization_test(BoxDecoder("bounded", clip=False))
    assert revived.coding == "bounded" and revived.clip is False
