"""Adaptive average pooling of a feature map to a fixed grid, flattened."""

import math

import keras
from keras import ops


def grid_bins(size, cells):
    """`[(start, stop), ...]` of each of `cells` bins over `size` positions (PyTorch's rule).

    Bin `i` covers `floor(i · size / cells)` up to `ceil((i + 1) · size / cells)`:
    the bins tile the axis, overlapping by a position where `cells` does not
    divide `size` (and repeating positions when `cells > size`).
    """
    return [(math.floor(i * size / cells), math.ceil((i + 1) * size / cells))
            for i in range(cells)]


@keras.saving.register_keras_serializable(package="tfvision")
class GridPooling(keras.layers.Layer):
    """Averages a feature map `[B, H, W, C]` over a `grid` x `grid` layout: `[B, grid² · C]`.

    `grid=1` is global average pooling. A larger grid keeps where in the
    image a feature was seen, which global pooling throws away: `MoCo`'s
    `feature_grid` pools its backbone's last map this way before the
    projection head. The bins are PyTorch's `AdaptiveAvgPool2d`'s, computed
    from the static map size, so the layer compiles under XLA. The flattened
    output is ordered row, column, channel.

    Args:
        grid: int >= 1. Cells per side. Defaults to `2`.
        **kwargs: base `keras.layers.Layer` arguments.

    Example:

    >>> import numpy as np
    >>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    >>> GridPooling(2)(x).numpy().tolist()
    [[2.5, 4.5, 10.5, 12.5]]
    """

    def __init__(self, grid=2, **kwargs):
        super().__init__(**kwargs)
        if int(grid) != grid or grid < 1:
            raise ValueError(f"`grid` must be an integer >= 1. Received: grid={grid!r}")
        self.grid = int(grid)

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[1] is None or input_shape[2] is None:
            raise ValueError(
                "GridPooling needs a feature map [B, H, W, C] of known H and W. "
                f"Received: input_shape={input_shape}"
            )
        self._rows = grid_bins(int(input_shape[1]), self.grid)
        self._cols = grid_bins(int(input_shape[2]), self.grid)

    def call(self, inputs):
        if self.grid == 1:
            return ops.mean(inputs, axis=(1, 2))
        cells = [ops.mean(inputs[:, r0:r1, c0:c1, :], axis=(1, 2))
                 for r0, r1 in self._rows for c0, c1 in self._cols]
        return ops.concatenate(cells, axis=-1)

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1]
        return (input_shape[0], None if channels is None else self.grid**2 * channels)

    def get_config(self):
        config = super().get_config()
        config.update({"grid": self.grid})
        return config
