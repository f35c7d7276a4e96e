import numpy as np
import pytest

from tfvision.ops import convert_format
from tfvision.ops import from_internal
from tfvision.ops import to_internal

# One box on a 100 x 200 (height x width) image: x 20..60, y 10..50.
HEIGHT, WIDTH = 100, 200
INTERNAL = [0.1, 0.1, 0.5, 0.3]  # rel yxyx
BY_FORMAT = {
    "xyxy": [20.0, 10.0, 60.0, 50.0],
    "yxyx": [10.0, 20.0, 50.0, 60.0],
    "xywh": [20.0, 10.0, 40.0, 40.0],
    "center_xywh": [40.0, 30.0, 40.0, 40.0],
    "center_yxhw": [30.0, 40.0, 40.0, 40.0],
    "rel_xyxy": [0.1, 0.1, 0.3, 0.5],
    "rel_yxyx": [0.1, 0.1, 0.5, 0.3],
    "rel_xywh": [0.1, 0.1, 0.2, 0.4],
    "rel_center_xywh": [0.2, 0.3, 0.2, 0.4],
}


@pytest.mark.parametrize("fmt", sorted(BY_FORMAT))
def test_to_and_from_internal_hand_computed(fmt):
    boxes = np.array([[BY_FORMAT[fmt]]], "float32")  # [1, 1, 4]
    internal = to_internal(boxes, fmt, height=HEIGHT, width=WIDTH)
    np.testing.assert_allclose(internal, [[INTERNAL]], atol=1e-6)
    back = from_internal(internal, fmt, height=HEIGHT, width=WIDTH)
    np.testing.assert_allclose(back, boxes, rtol=1e-6, atol=1e-5)


def test_round_trip_random_boxes_between_formats():
    rng = np.random.default_rng(0)
    corners = np.sort(rng.uniform(0, 1, (3, 5, 2, 2)), axis=2)  # [B, M, (min,max), (y,x)]
    internal = corners.reshape(3, 5, 4).astype("float32")
    for fmt in ("xyxy", "xywh", "center_xywh", "rel_xyxy", "rel_center_xywh"):
        converted = from_internal(internal, fmt, height=HEIGHT, width=WIDTH)
        back = to_internal(converted, fmt, height=HEIGHT, width=WIDTH)
        np.testing.assert_allclose(back, internal, atol=1e-5)


def test_relative_to_relative_needs_no_image_size():
    out = convert_format([[0.1, 0.2, 0.3, 0.4]], "rel_xyxy", "rel_yxyx")
    np.testing.assert_allclose(out, [[0.2, 0.1, 0.4, 0.3]], atol=1e-7)
    out = convert_format([[1.0, 2.0, 3.0, 4.0]], "XYXY", "xywh")
    np.testing.assert_allclose(out, [[1.0, 2.0, 2.0, 2.0]])


def test_unknown_format_raises():
    with pytest.raises(ValueError, match="Received: source=.xyxz."):
        to_internal([[0.0, 0.0, 1.0, 1.0]], "xyxz")
    with pytest.raises(ValueError, match="Received: target='cxcywh'"):
        convert_format([[0.0, 0.0, 1.0, 1.0]], "xyxy", "cxcywh")


def test_absolute_format_without_image_size_raises():
    with pytest.raises(ValueError, match="Received: .*height=None"):
        to_internal([[0.0, 0.0, 10.0, 10.0]], "xyxy")
    with pytest.raises(ValueError, match="Received: .*width=None"):
        from_internal([[0.0, 0.0, 1.0, 1.0]], "xywh", height=10)
