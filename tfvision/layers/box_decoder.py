"""Turns a detection head's box codes back into boxes."""

import keras
from keras import ops

from tfvision.ops.box_coding import SSD_CLAMP, SSD_VARIANCES, decode_bounded, decode_ssd

CODINGS = ("ssd", "bounded")


@keras.saving.register_keras_serializable(package="tfvision")
class BoxDecoder(keras.layers.Layer):
    """Decodes `[B, N, 4]` box codes against `[N, 4]` anchors to relative yxyx.

    Two codings (see `tfvision.ops.box_coding`): `"ssd"`, SSD's centre offsets
    and log sizes with variances, clamped before `exp`; `"bounded"`, the fast.ai
    lecture's tanh coding, which needs each anchor's grid size. Outputs are
    float32 (post-processing stays float32 under mixed precision) and
    optionally clipped to the image.

    Args:
        coding: `"ssd"` or `"bounded"`. Defaults to `"ssd"`.
        variances: 4 floats, for `"ssd"`. Defaults to `(0.1, 0.1, 0.2, 0.2)`.
        clip: bool. Clip the boxes to `[0, 1]`. Defaults to `True`.
        **kwargs: base layer arguments.

    Call arguments:
        deltas: `[B, N, 4]` box codes.
        anchors: `[N, 4]` relative yxyx.
        grid_size: `[N]` or `[N, 2]` cells per side of each anchor's grid;
            required for `"bounded"`.

    Example:

    >>> decoder = BoxDecoder()
    >>> anchors = ops.convert_to_tensor([[0.25, 0.25, 0.75, 0.75]])
    >>> decoder(ops.zeros((1, 1, 4)), anchors)  # [[[0.25, 0.25, 0.75, 0.75]]]
    """

    def __init__(self, coding="ssd", variances=SSD_VARIANCES, clip=True, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if coding not in CODINGS:
            raise ValueError(f"`coding` must be one of {CODINGS}. Received: coding={coding!r}")
        if len(variances) != 4 or min(variances) <= 0:
            raise ValueError(
                f"`variances` must be 4 positive numbers. Received: variances={variances}"
            )
        self.coding = coding
        self.variances = tuple(float(v) for v in variances)
        self.clip = clip

    def call(self, deltas, anchors, grid_size=None):
        deltas = ops.cast(deltas, "float32")
        if self.coding == "ssd":
            boxes = decode_ssd(deltas, anchors, self.variances, SSD_CLAMP)
        else:
            if grid_size is None:
                raise ValueError("The 'bounded' coding needs `grid_size`. Received: grid_size=None")
            boxes = decode_bounded(deltas, anchors, grid_size)
        return ops.clip(boxes, 0.0, 1.0) if self.clip else boxes

    def compute_output_shape(self, deltas_shape, anchors_shape=None, grid_size_shape=None):
        return deltas_shape

    def get_config(self):
        config = super().get_config()
        config.update({"coding": self.coding, "variances": list(self.variances), "clip": self.clip})
        return config
