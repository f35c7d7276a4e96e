"""Turns a detection head's box codes back into boxes."""

import keras
from keras import ops

from tfvision.layers.box_coder import BOX_CODERS, BoxCoder, SSDBoxCoder, get_box_coder
from tfvision.ops.box_coding import SSD_VARIANCES

CODINGS = tuple(BOX_CODERS)


@keras.saving.register_keras_serializable(package="tfvision")
class BoxDecoder(keras.layers.Layer):
    """Decodes `[B, N, 4]` box codes against `[N, 4]` anchors to relative yxyx.

    The decoding is a box coder's `decode` (see `tfvision.layers.box_coder`):
    `"ssd"`, SSD's centre offsets and log sizes with variances, clamped before
    `exp`; `"bounded"`, the fast.ai lecture's tanh coding, which needs each
    anchor's grid size; or any `BoxCoder`, such as the one a detector encodes
    its targets with. Outputs are float32 (post-processing stays float32 under
    mixed precision) and optionally clipped to the image.

    Args:
        coding: `"ssd"`, `"bounded"` or a `BoxCoder`. Defaults to `"ssd"`.
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
    >>> decoder(ops.zeros((1, 1, 4)), anchors).numpy().tolist()
    [[[0.25, 0.25, 0.75, 0.75]]]
    """

    def __init__(self, coding="ssd", variances=SSD_VARIANCES, clip=True, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if not isinstance(coding, (BoxCoder, dict)) and coding not in CODINGS:
            raise ValueError(
                f"`coding` must be one of {CODINGS} or a `BoxCoder`. Received: coding={coding!r}"
            )
        if len(variances) != 4 or min(variances) <= 0:
            raise ValueError(
                f"`variances` must be 4 positive numbers. Received: variances={variances}"
            )
        self.coding = coding if isinstance(coding, str) else get_box_coder(coding)
        self.variances = tuple(float(v) for v in variances)
        self.clip = clip
        if coding == "ssd":
            self.box_coder = SSDBoxCoder(self.variances)
        else:
            self.box_coder = get_box_coder(self.coding)

    def call(self, deltas, anchors, grid_size=None):
        boxes = self.box_coder.decode(anchors, ops.cast(deltas, "float32"), grid_size)
        return ops.clip(boxes, 0.0, 1.0) if self.clip else boxes

    def compute_output_shape(self, deltas_shape, anchors_shape=None, grid_size_shape=None):
        return deltas_shape

    def get_config(self):
        config = super().get_config()
        coding = self.coding
        if not isinstance(coding, str):
            coding = keras.saving.serialize_keras_object(coding)
        config.update({"coding": coding, "variances": list(self.variances), "clip": self.clip})
        return config
