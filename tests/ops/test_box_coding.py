import math

import numpy as np
import tensorflow as tf

from tfvision.ops import decode_bounded
from tfvision.ops import decode_ssd
from tfvision.ops import encode_bounded
from tfvision.ops import encode_ssd


def random_boxes(rng, shape, low=0.05, high=0.5):
    center = rng.uniform(0.2, 0.8, shape + (2,))
    size = rng.uniform(low, high, shape + (2,))
    return np.concatenate([center - size / 2, center + size / 2], -1).astype("float32")


def test_encode_ssd_hand_computed():
    anchors = np.array([[0.0, 0.0, 0.4, 0.4], [0.2, 0.2, 0.6, 0.4]], "float32")
    boxes = np.array([[0.1, 0.1, 0.5, 0.5], [0.3, 0.2, 0.5, 0.6]], "float32")
    # anchor 1: centre (0.4, 0.3), size (0.4, 0.2); box 1: centre (0.4, 0.4), size (0.2, 0.4)
    expected = [
        [0.25 / 0.1, 0.25 / 0.1, 0.0, 0.0],
        [0.0, 0.5 / 0.1, math.log(0.5) / 0.2, math.log(2.0) / 0.2],
    ]
    np.testing.assert_allclose(encode_ssd(boxes, anchors), expected, atol=1e-5)
    np.testing.assert_allclose(decode_ssd(expected, anchors), boxes, atol=1e-6)


def test_ssd_round_trip_batched():
    rng = np.random.default_rng(0)
    anchors = random_boxes(rng, (12,))
    boxes = random_boxes(rng, (3, 12))
    deltas = encode_ssd(boxes, anchors)
    assert deltas.shape == (3, 12, 4)
    np.testing.assert_allclose(decode_ssd(deltas, anchors), boxes, atol=1e-5)
    variances = (0.5, 0.5, 1.0, 1.0)
    back = decode_ssd(encode_ssd(boxes, anchors, variances), anchors, variances)
    np.testing.assert_allclose(back, boxes, atol=1e-5)


def test_decode_ssd_clamps_huge_deltas():
    anchors = np.array([[0.4, 0.4, 0.6, 0.6]], "float32")
    deltas = np.array([[[0.0, 0.0, 1e4, 1e4], [0.0, 0.0, -1e4, -1e4]]], "float32")
    boxes = np.asarray(decode_ssd(deltas, anchors[None]))
    assert np.all(np.isfinite(boxes))
    # Clamped at log(1000 / 16): the box is 62.5 times its anchor.
    np.testing.assert_allclose(boxes[0, 0, 2:] - boxes[0, 0, :2], [0.2 * 62.5] * 2, rtol=1e-5)
    np.testing.assert_allclose(boxes[0, 1], [0.5, 0.5, 0.5, 0.5], atol=1e-6)
    small = decode_ssd(deltas, anchors[None], clamp=0.0)
    np.testing.assert_allclose(small[0, 0], anchors[0], atol=1e-6)


def test_encode_ssd_zero_size_box_is_finite():
    deltas = encode_ssd([[0.5, 0.5, 0.5, 0.5]], [[0.4, 0.4, 0.6, 0.6]])
    assert np.all(np.isfinite(deltas))


def test_decode_bounded_hand_computed():
    anchors = np.array([[0.0, 0.0, 0.25, 0.25]], "float32")  # a cell of a 4 x 4 grid
    np.testing.assert_allclose(decode_bounded(np.zeros((1, 4)), anchors, 4), anchors, atol=1e-7)
    a = math.atanh(0.5)
    # Centre y moves by 0.5 * (1/4) / 2 = 0.0625; width doubles at tanh = 1 (a = big).
    out = decode_bounded([[a, 0.0, 0.0, 50.0]], anchors, 4)
    np.testing.assert_allclose(out, [[0.0625, -0.125, 0.3125, 0.375]], atol=1e-6)
    # The reachable range: centre within half a cell (0.125), each side within [0.5, 2] x:
    # centre (0.0, 0.25), size (0.125, 0.5).
    extreme = np.asarray(decode_bounded([[-50.0, 50.0, -50.0, 50.0]], anchors, 4))
    np.testing.assert_allclose(extreme, [[-0.0625, 0.0, 0.0625, 0.5]], atol=1e-6)


def test_bounded_round_trip_with_per_anchor_grids():
    rng = np.random.default_rng(1)
    anchors = random_boxes(rng, (10,))
    grid = np.array([4] * 5 + [2] * 5, "float32")  # [N]
    grid_hw = np.stack([grid, grid * 2], -1)  # [N, 2], rectangular grids
    for grid_size in (grid, grid_hw, 4):
        # Boxes reachable from their anchors: decode random activations.
        activations = rng.uniform(-2.0, 2.0, (3, 10, 4)).astype("float32")
        boxes = decode_bounded(activations, anchors, grid_size)
        codes = encode_bounded(boxes, anchors, grid_size)
        np.testing.assert_allclose(decode_bounded(codes, anchors, grid_size), boxes, atol=1e-5)
        np.testing.assert_allclose(np.tanh(codes), np.tanh(activations), atol=1e-5)


def test_encode_bounded_out_of_range_is_finite_and_saturates():
    anchors = np.array([[0.4, 0.4, 0.6, 0.6]], "float32")
    far = np.array([[0.0, 0.0, 1.0, 1.0]], "float32")  # 5 x the anchor, centre unchanged
    codes = np.asarray(encode_bounded(far, anchors, 4))
    assert np.all(np.isfinite(codes))
    np.testing.assert_allclose(codes[0, :2], 0.0, atol=1e-6)
    np.testing.assert_allclose(decode_bounded(codes, anchors, 4), [[0.3, 0.3, 0.7, 0.7]], atol=1e-5)


def test_codings_compile_under_xla():
    rng = np.random.default_rng(2)
    anchors = tf.constant(random_boxes(rng, (8,)))
    boxes = tf.constant(random_boxes(rng, (2, 8)))
    deltas = tf.constant(rng.normal(0, 3, (2, 8, 4)).astype("float32"))
    for fn, x in ((encode_ssd, boxes), (decode_ssd, deltas)):
        compiled = tf.function(fn, jit_compile=True)(x, anchors)
        np.testing.assert_allclose(compiled, fn(x, anchors), atol=1e-5)
    for fn, x in ((encode_bounded, boxes), (decode_bounded, deltas)):
        compiled = tf.function(lambda x, a: fn(x, a, 4), jit_compile=True)(x, anchors)
        np.testing.assert_allclose(compiled, fn(x, anchors, 4), atol=1e-5)
