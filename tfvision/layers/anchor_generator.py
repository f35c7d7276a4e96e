"""Anchor (default) boxes on a pyramid of square or rectangular grids."""

import keras
import numpy as np


@keras.saving.register_keras_serializable(package="tfvision")
class AnchorGenerator:
    """Anchor boxes for SSD-style detection heads.

    For each grid of `gh x gw` cells in `grid_sizes`, every cell `(i, j)` gets
    one anchor per `(zoom, aspect ratio)` pair, centred at
    `((i + 0.5) / gh, (j + 0.5) / gw)`. The base size of a cell is
    `1 / gh` by `1 / gw`; the anchor for zoom `z` and ratio `(h, w)` has
    height `z * h / gh` and width `z * w / gw`. Ratios are `(height, width)`
    multipliers, the fast.ai SSD lecture's convention: `(1, 1)` is a square
    cell, `(1, 0.5)` a tall box, `(0.5, 1)` a wide one.

    Anchors are relative `yxyx` boxes (`[y_min, x_min, y_max, x_max]`, 0..1
    inside the image) in this order, which a detection head must follow:

    1. grid by grid, in the order of `grid_sizes`;
    2. within a grid, cells row-major (row `i` outer, column `j` inner);
    3. within a cell, zoom outer and aspect ratio inner:
       `(z0, r0), (z0, r1), ..., (z1, r0), ...`.

    So a head whose output for one grid is `[B, gh, gw, anchors_per_cell, K]`
    reshaped to `[B, gh * gw * anchors_per_cell, K]`, concatenated over the
    grids, lines up with the anchors.

    Args:
        grid_sizes: list of grid sizes; an int `g` is a `g x g` grid, a pair
            is `(gh, gw)`.
        zooms: tuple of positive floats, anchor scales relative to a cell.
            Defaults to `(1.0,)`.
        aspect_ratios: tuple of positive `(h, w)` multipliers. Defaults to
            `((1.0, 1.0),)`.
        clip: bool, whether to clip the anchors to `[0, 1]`. Defaults to
            `False` (as in the lecture, anchors at the border may stick out).

    Returns:
        Calling the generator returns a constant float32 tensor `[N, 4]`,
        `N = sum(gh * gw) * anchors_per_cell`.

    References:
        - [Liu et al., 2016. SSD: Single Shot MultiBox
          Detector](https://arxiv.org/abs/1512.02325), section 2.2 "Choosing
          scales and aspect ratios for default boxes".
        - fast.ai, Deep Learning Part 2 (2018), lesson 9: multi-label
          classification and SSD anchors.

    Example:

    ```python
    from tfvision.layers.anchor_generator import AnchorGenerator

    generator = AnchorGenerator(
        [4, 2, 1], aspect_ratios=((1.0, 1.0), (1.0, 0.5), (0.5, 1.0))
    )
    anchors = generator()  # [63, 4]
    generator.anchors_per_cell  # 3
    ```
    """

    def __init__(
        self,
        grid_sizes,
        zooms=(1.0,),
        aspect_ratios=((1.0, 1.0),),
        clip=False,
    ):
        self.grid_sizes = [_grid_pair(g) for g in grid_sizes]
        if not self.grid_sizes:
            raise ValueError(
                f"`grid_sizes` must not be empty. Received: grid_sizes={grid_sizes}"
            )
        self.zooms = tuple(float(z) for z in zooms)
        if not self.zooms or min(self.zooms) <= 0:
            raise ValueError(
                f"`zooms` must be non-empty and positive. Received: zooms={zooms}"
            )
        ratios = []
        for ratio in aspect_ratios:
            if len(ratio) != 2 or min(ratio) <= 0:
                raise ValueError(
                    "Each aspect ratio must be a positive (h, w) pair. "
                    f"Received: aspect_ratios={aspect_ratios}"
                )
            ratios.append((float(ratio[0]), float(ratio[1])))
        if not ratios:
            raise ValueError(
                "`aspect_ratios` must not be empty. "
                f"Received: aspect_ratios={aspect_ratios}"
            )
        self.aspect_ratios = tuple(ratios)
        self.clip = bool(clip)
        self._anchors = self._make_anchors()

    @property
    def anchors_per_cell(self):
        """Number of anchors in each cell: `len(zooms) * len(aspect_ratios)`."""
        return len(self.zooms) * len(self.aspect_ratios)

    @property
    def num_anchors(self):
        """Total number of anchors `N` over all grids."""
        return self._anchors.shape[0]

    def numpy(self):
        """The anchors as a float32 NumPy array `[N, 4]`, for plotting."""
        return self._anchors.copy()

    def __call__(self):
        return keras.ops.convert_to_tensor(self._anchors, dtype="float32")

    def _make_anchors(self):
        # Sizes in units of one cell, [A, 2] (h, w), zoom outer, ratio inner.
        sizes = np.array(
            [(z * h, z * w) for z in self.zooms for h, w in self.aspect_ratios]
        )
        per_grid = []
        for gh, gw in self.grid_sizes:
            rows, cols = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
            centres = np.stack([(rows + 0.5) / gh, (cols + 0.5) / gw], -1)
            centres = centres.reshape(-1, 1, 2)  # [gh * gw, 1, 2]
            half = (sizes / np.array([gh, gw]) / 2.0)[None]  # [1, A, 2]
            boxes = np.concatenate([centres - half, centres + half], -1)
            per_grid.append(boxes.reshape(-1, 4))  # [gh * gw * A, 4]
        anchors = np.concatenate(per_grid, 0)
        if self.clip:
            anchors = np.clip(anchors, 0.0, 1.0)
        return anchors.astype("float32")

    def get_config(self):
        return {
            "grid_sizes": [list(g) for g in self.grid_sizes],
            "zooms": list(self.zooms),
            "aspect_ratios": [list(r) for r in self.aspect_ratios],
            "clip": self.clip,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _grid_pair(grid_size):
    pair = (grid_size, grid_size) if np.ndim(grid_size) == 0 else tuple(grid_size)
    if len(pair) != 2 or any(int(g) != g or g < 1 for g in pair):
        raise ValueError(
            "Each grid size must be a positive int or an (gh, gw) pair of "
            f"positive ints. Received: grid_size={grid_size}"
        )
    return (int(pair[0]), int(pair[1]))
