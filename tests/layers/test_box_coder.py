"""Box coders: the ops they wrap, encode/decode inverses, config, the shortcut names."""

import keras
import numpy as np
import pytest

from tests.testing import run_serialization_test
from tfvision.layers import BoundedBoxCoder, BoxCoder, BoxDecoder, SSDBoxCoder
from tfvision.layers.box_coder import get_box_coder
from tfvision.ops import decode_bounded, decode_ssd, encode_bounded, encode_ssd


def _anchors_and_boxes(seed=0, n=12):
    rng = np.random.default_rng(seed)
    c, s = rng.uniform(0.3, 0.7, (n, 2)), rng.uniform(0.1, 0.3, (n, 2))
    anchors = np.concatenate([c - s / 2, c + s / 2], -1).astype("float32")
    boxes = anchors + rng.uniform(-0.03, 0.03, anchors.shape).astype("float32")
    return anchors, boxes[None]  # [N, 4], [1, N, 4]


def test_ssd_coder_is_encode_ssd_with_its_variances_and_decodes_back():
    anchors, boxes = _anchors_and_boxes()
    default = SSDBoxCoder()
    np.testing.assert_array_equal(default.encode(anchors, boxes), encode_ssd(boxes, anchors))
    np.testing.assert_array_equal(default.decode(anchors, boxes), decode_ssd(boxes, anchors))
    # (centre, size) and (y, x, h, w) variances: the codes scale by 1 / variance.
    wide = SSDBoxCoder((0.2, 0.1, 0.5, 0.4))
    assert wide.variances_yxhw == (0.2, 0.1, 0.5, 0.4)
    ratio = np.asarray(wide.encode(anchors, boxes)) / np.asarray(default.encode(anchors, boxes))
    nonzero = np.abs(np.asarray(default.encode(anchors, boxes))) > 1e-3
    np.testing.assert_allclose(ratio[nonzero], np.broadcast_to(
        np.array([0.5, 1.0, 0.4, 0.5]), ratio.shape)[nonzero], rtol=1e-4)
    np.testing.assert_allclose(wide.decode(anchors, wide.encode(anchors, boxes)), boxes, atol=1e-6)


def test_bounded_coder_wraps_the_tanh_coding_and_needs_the_grid():
    anchors, boxes = _anchors_and_boxes(1)
    grid = np.full((12, 2), 4.0, "float32")
    coder = BoundedBoxCoder()
    codes = coder.encode(anchors, boxes, grid)
    np.testing.assert_array_equal(codes, encode_bounded(boxes, anchors, grid))
    np.testing.assert_array_equal(coder.decode(anchors, codes, grid),
                                  decode_bounded(codes, anchors, grid))
    np.testing.assert_allclose(coder.decode(anchors, codes, grid), boxes, atol=1e-5)
    with pytest.raises(ValueError, match="grid_size"):
        coder.encode(anchors, boxes)


def test_box_decoder_decodes_with_the_coder_it_is_given():
    anchors, boxes = _anchors_and_boxes(2)
    coder = SSDBoxCoder((0.2, 0.5))
    decoded = BoxDecoder(coder)(coder.encode(anchors, boxes), anchors)
    np.testing.assert_allclose(decoded, boxes, atol=1e-6)
    # The string shortcut and the default object decode the same.
    codes = np.random.default_rng(3).normal(size=(1, 12, 4)).astype("float32")
    np.testing.assert_array_equal(BoxDecoder("ssd")(codes, anchors),
                                  BoxDecoder(SSDBoxCoder())(codes, anchors))
    revived = run_serialization_test(BoxDecoder(coder, clip=False))
    assert revived.box_coder.variances == (0.2, 0.5)


def test_config_round_trip_names_and_bad_arguments():
    revived = run_serialization_test(SSDBoxCoder((0.2, 0.5), clamp=2.0))
    assert revived.variances == (0.2, 0.5) and revived.clamp == 2.0
    run_serialization_test(BoundedBoxCoder())
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(SSDBoxCoder((0.3, 0.3)))
    )
    assert isinstance(restored, SSDBoxCoder) and restored.variances == (0.3, 0.3)
    assert isinstance(get_box_coder("bounded"), BoundedBoxCoder)
    assert get_box_coder("ssd").variances_yxhw == (0.1, 0.1, 0.2, 0.2)
    with pytest.raises(ValueError, match="Received: 'yolo'"):
        get_box_coder("yolo")
    with pytest.raises(ValueError, match="Received: variances"):
        SSDBoxCoder((0.1, 0.2, 0.3))
    with pytest.raises(ValueError, match="Received: clamp"):
        SSDBoxCoder(clamp=0.0)
    with pytest.raises(NotImplementedError, match="encode"):
        BoxCoder().encode(None, None)
