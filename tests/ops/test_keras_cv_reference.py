"""IoU and format conversions agree with keras-cv's `bounding_box` module.

keras-cv is frozen upstream; it is a reference here (a test dependency), never a
runtime dependency of tfvision.
"""

import numpy as np
import pytest

keras_cv = pytest.importorskip("keras_cv")
from keras_cv import bounding_box  # noqa: E402

from tfvision.ops import convert_format, iou_matrix  # noqa: E402

HEIGHT, WIDTH = 120, 200


def _random_xyxy(seed, n=20):
    rng = np.random.default_rng(seed)
    p, q = rng.uniform(0, 1, (n, 2)), rng.uniform(0, 1, (n, 2))
    lo, hi = np.minimum(p, q), np.maximum(p, q)
    scale = np.array([WIDTH, HEIGHT], "float32")
    return np.concatenate([lo * scale, hi * scale], -1).astype("float32")


@pytest.mark.parametrize("target", ["yxyx", "xywh", "center_xywh", "rel_xyxy", "rel_yxyx"])
def test_format_conversions_agree_with_keras_cv(target):
    boxes = _random_xyxy(0)
    images = np.zeros((HEIGHT, WIDTH, 3), "float32")
    expected = bounding_box.convert_format(boxes, source="xyxy", target=target, images=images)
    actual = convert_format(boxes, "xyxy", target, height=HEIGHT, width=WIDTH)
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("seed", [1, 2])
def test_iou_agrees_with_keras_cv(seed):
    a, b = _random_xyxy(seed), _random_xyxy(seed + 10, 15)
    expected = bounding_box.compute_iou(a, b, bounding_box_format="xyxy")
    ours = iou_matrix(convert_format(a, "xyxy", "rel_yxyx", HEIGHT, WIDTH),
                      convert_format(b, "xyxy", "rel_yxyx", HEIGHT, WIDTH))
    np.testing.assert_allclose(np.asarray(ours), np.asarray(expected), atol=1e-5)
