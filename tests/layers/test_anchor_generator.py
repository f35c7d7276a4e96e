import keras
import numpy as np
import pytest

from tests.testing import run_serialization_test
from tfvision.layers.anchor_generator import AnchorGenerator

LECTURE_RATIOS = ((1.0, 1.0), (1.0, 0.5), (0.5, 1.0))


def centre_size(boxes):
    boxes = np.asarray(boxes)
    return np.concatenate([(boxes[..., :2] + boxes[..., 2:]) / 2, boxes[..., 2:] - boxes[..., :2]], -1)


def test_lecture_grids_give_63_anchors():
    generator = AnchorGenerator([4, 2, 1], aspect_ratios=LECTURE_RATIOS)
    assert generator.anchors_per_cell == 3
    assert generator.num_anchors == 63
    assert generator.numpy().shape == (63, 4)
    assert generator.numpy().dtype == np.float32


def test_exact_centres_and_sizes():
    anchors = AnchorGenerator([4, 2, 1], aspect_ratios=LECTURE_RATIOS).numpy()
    # (cy, cx, h, w): 4x4 grid cell (0, 0), its three ratios.
    np.testing.assert_allclose(
        centre_size(anchors[:3]),
        [[0.125, 0.125, 0.25, 0.25], [0.125, 0.125, 0.25, 0.125], [0.125, 0.125, 0.125, 0.25]],
    )
    # Row-major cells: index 3 is cell (0, 1), index 12 is cell (1, 0).
    np.testing.assert_allclose(centre_size(anchors[3])[:2], [0.125, 0.375])
    np.testing.assert_allclose(centre_size(anchors[12])[:2], [0.375, 0.125])
    # 4x4 grid ends at 48: 2x2 grid cell (1, 1) is index 48 + 3 * 3.
    np.testing.assert_allclose(anchors[48], [0.0, 0.0, 0.5, 0.5])
    np.testing.assert_allclose(centre_size(anchors[57]), [0.75, 0.75, 0.5, 0.5])
    # 1x1 grid: the whole image, then a tall and a wide half.
    np.testing.assert_allclose(anchors[60:], [[0, 0, 1, 1], [0, 0.25, 1, 0.75], [0.25, 0, 0.75, 1]])


def test_zoom_outer_ratio_inner_order():
    anchors = AnchorGenerator([1], zooms=(1.0, 2.0), aspect_ratios=((1.0, 1.0), (1.0, 0.5))).numpy()
    np.testing.assert_allclose(centre_size(anchors)[:, 2:], [[1, 1], [1, 0.5], [2, 2], [2, 1]])
    np.testing.assert_allclose(centre_size(anchors)[:, :2], 0.5)


def test_rectangular_grid():
    anchors = AnchorGenerator([(2, 4)]).numpy()
    assert anchors.shape == (8, 4)
    np.testing.assert_allclose(anchors[0], [0.0, 0.0, 0.5, 0.25])
    np.testing.assert_allclose(anchors[5], [0.5, 0.25, 1.0, 0.5])  # cell (1, 1)


def test_clip():
    unclipped = AnchorGenerator([2], zooms=(1.5,)).numpy()
    assert unclipped.min() < 0 and unclipped.max() > 1
    clipped = AnchorGenerator([2], zooms=(1.5,), clip=True).numpy()
    np.testing.assert_allclose(clipped, np.clip(unclipped, 0, 1))
    np.testing.assert_allclose(clipped[0], [0.0, 0.0, 0.625, 0.625])


def test_call_returns_constant_float32_tensor():
    generator = AnchorGenerator([3, 1], aspect_ratios=LECTURE_RATIOS)
    anchors = generator()
    assert keras.backend.standardize_dtype(anchors.dtype) == "float32"
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(anchors), generator.numpy())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"grid_sizes": []},
        {"grid_sizes": [0]},
        {"grid_sizes": [2.5]},
        {"grid_sizes": [(2, 3, 4)]},
        {"grid_sizes": [2], "zooms": (0.0,)},
        {"grid_sizes": [2], "aspect_ratios": ((1.0, -1.0),)},
        {"grid_sizes": [2], "aspect_ratios": ()},
    ],
)
def test_invalid_arguments(kwargs):
    with pytest.raises(ValueError, match="Received"):
        AnchorGenerator(**kwargs)


def test_serialization():
    generator = AnchorGenerator([4, (2, 3)], zooms=(1.0, 1.4), aspect_ratios=LECTURE_RATIOS, clip=True)
    revived = run_serialization_test(generator)
    np.testing.assert_array_equal(revived.numpy(), generator.numpy())
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(generator))
    np.testing.assert_array_equal(restored.numpy(), generator.numpy())
