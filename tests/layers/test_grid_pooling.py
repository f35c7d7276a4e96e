import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.testing import run_serialization_test
from tfvision.layers import GridPooling


def _reference(x, grid):
    """Adaptive average pooling written out in NumPy (PyTorch's bins), flattened row-major."""
    _, height, width, _ = x.shape
    cells = []
    for i in range(grid):
        r0, r1 = (i * height) // grid, -((-(i + 1) * height) // grid)
        for j in range(grid):
            c0, c1 = (j * width) // grid, -((-(j + 1) * width) // grid)
            cells.append(x[:, r0:r1, c0:c1, :].mean(axis=(1, 2)))
    return np.concatenate(cells, axis=-1)


@pytest.mark.parametrize("shape, grid", [((4, 4), 2), ((5, 7), 2), ((5, 7), 3), ((2, 2), 3),
                                         ((6, 6), 1), ((3, 3), 3)])
def test_matches_adaptive_average_pooling(shape, grid):
    x = np.random.default_rng(0).normal(size=(2, *shape, 3)).astype("float32")
    out = GridPooling(grid)(x)
    assert out.shape == (2, grid * grid * 3)
    np.testing.assert_allclose(out, _reference(x, grid), rtol=1e-6, atol=1e-6)


def test_one_cell_is_global_average_pooling():
    x = np.random.default_rng(1).normal(size=(3, 5, 5, 4)).astype("float32")
    np.testing.assert_allclose(GridPooling(1)(x), keras.layers.GlobalAveragePooling2D()(x),
                               atol=1e-6)


def test_in_a_model_it_compiles_under_xla_and_round_trips(tmp_path):
    inputs = keras.Input((6, 6, 2))
    model = keras.Model(inputs, GridPooling(2)(inputs))
    x = np.random.default_rng(2).normal(size=(2, 6, 6, 2)).astype("float32")
    compiled = tf.function(model, jit_compile=True)
    np.testing.assert_allclose(compiled(x), _reference(x, 2), atol=1e-6)
    assert model.output_shape == (None, 8)
    path = str(tmp_path / "grid.keras")
    model.save(path)
    np.testing.assert_allclose(keras.models.load_model(path)(x), model(x), atol=1e-6)
    assert run_serialization_test(GridPooling(3)).grid == 3


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="grid=0"):
        GridPooling(0)
    with pytest.raises(ValueError, match="grid=1.5"):
        GridPooling(1.5)
    with pytest.raises(ValueError, match="known H and W"):
        GridPooling(2)(keras.Input((None, None, 3)))
