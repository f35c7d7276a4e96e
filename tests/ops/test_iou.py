import numpy as np
import tensorflow as tf

from tfvision.ops import box_area
from tfvision.ops import iou_matrix


def brute_force_iou(a, b):
    out = np.zeros((len(a), len(b)))
    for i, (ay1, ax1, ay2, ax2) in enumerate(a):
        for j, (by1, bx1, by2, bx2) in enumerate(b):
            ih = max(min(ay2, by2) - max(ay1, by1), 0.0)
            iw = max(min(ax2, bx2) - max(ax1, bx1), 0.0)
            inter = ih * iw
            union = (ay2 - ay1) * (ax2 - ax1) + (by2 - by1) * (bx2 - bx1) - inter
            out[i, j] = inter / union if union > 0 else 0.0
    return out


def random_boxes(rng, shape):
    corners = np.sort(rng.uniform(0, 1, shape + (2, 2)), axis=-2)  # (min,max) x (y,x)
    return corners.reshape(shape + (4,)).astype("float32")


def test_box_area_hand_computed():
    boxes = [[0.0, 0.0, 0.5, 0.2], [0.1, 0.1, 0.1, 0.9], [0.5, 0.5, 0.4, 0.6]]
    np.testing.assert_allclose(box_area(boxes), [0.1, 0.0, 0.0], atol=1e-7)


def test_iou_hand_computed():
    iou = iou_matrix([[0.0, 0.0, 1.0, 1.0]], [[0.0, 0.0, 1.0, 0.5], [2.0, 2.0, 3.0, 3.0]])
    np.testing.assert_allclose(iou, [[0.5, 0.0]], atol=1e-7)


def test_iou_matches_brute_force_with_degenerate_and_disjoint_boxes():
    rng = np.random.default_rng(1)
    a = random_boxes(rng, (7,))
    b = random_boxes(rng, (9,))
    a[0] = [0.3, 0.3, 0.3, 0.6]  # zero area
    b[0] = [0.3, 0.3, 0.3, 0.6]  # the same zero-area box: union 0
    b[1] = [0.4, 0.4, 0.4, 0.4]  # a point
    b[2] = [2.0, 2.0, 3.0, 3.0]  # disjoint from everything
    iou = np.asarray(iou_matrix(a, b))
    np.testing.assert_allclose(iou, brute_force_iou(a, b), atol=1e-6)
    assert iou[0, 0] == 0.0 and np.all(iou[:, 2] == 0.0)
    assert np.all(np.isfinite(iou)) and np.all((iou >= 0) & (iou <= 1))


def test_iou_batched_and_broadcast():
    rng = np.random.default_rng(2)
    a = random_boxes(rng, (3, 6))
    b = random_boxes(rng, (3, 4))
    iou = np.asarray(iou_matrix(a, b))
    assert iou.shape == (3, 6, 4)
    for i in range(3):
        np.testing.assert_allclose(iou[i], brute_force_iou(a[i], b[i]), atol=1e-6)
    shared = np.asarray(iou_matrix(a[0][None], b))  # [1, 6, 4] with [3, 4, 4]
    assert shared.shape == (3, 6, 4)
    np.testing.assert_allclose(shared[2], brute_force_iou(a[0], b[2]), atol=1e-6)


def test_iou_compiles_under_xla():
    rng = np.random.default_rng(3)
    a, b = random_boxes(rng, (2, 5)), random_boxes(rng, (2, 3))
    compiled = tf.function(iou_matrix, jit_compile=True)(a, b)
    np.testing.assert_allclose(compiled, iou_matrix(a, b), atol=1e-6)
