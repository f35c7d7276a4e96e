"""Box coders: the pair of functions turning boxes into regression targets and back.

A detector encodes its matched ground truth with a coder's `encode` and decodes
its head's box outputs with the same coder's `decode`, so training targets and
predictions always mean the same thing (torchvision's `BoxCoder` plays this
role in its SSD and RetinaNet).

The interface, for a coder of your own (subclass `BoxCoder`):

- `encode(anchors, boxes, grid_size=None)`: boxes `[..., N, 4]` relative yxyx
  → codes `[..., N, 4]`;
- `decode(anchors, deltas, grid_size=None)`: the inverse;
- `get_config()` / `from_config(config)`, and registration with
  `keras.saving.register_keras_serializable`, so a detector holding the coder
  saves and loads.

`grid_size` (`[N, 2]`, the cells per side of each anchor's grid) is passed by
the detector on every call; coders that do not need it ignore it.
"""

import keras

from tfvision.ops.box_coding import (
    SSD_CLAMP,
    decode_bounded,
    decode_ssd,
    encode_bounded,
    encode_ssd,
)


@keras.saving.register_keras_serializable(package="tfvision")
class BoxCoder:
    """Base class of box coders: `encode` and `decode` against anchors.

    Call arguments (both methods):
        anchors: float tensor `[N, 4]`, relative yxyx.
        boxes / deltas: float tensor `[..., N, 4]`.
        grid_size: `[N, 2]` (or `[N]`, or a scalar) cells per side of each
            anchor's grid, or `None`. Defaults to `None`.

    Returns:
        float32 `[..., N, 4]`: codes (`encode`) or relative yxyx boxes,
        unclipped (`decode`).
    """

    def encode(self, anchors, boxes, grid_size=None):
        raise NotImplementedError(f"{type(self).__name__} must implement `encode`.")

    def decode(self, anchors, deltas, grid_size=None):
        raise NotImplementedError(f"{type(self).__name__} must implement `decode`.")

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="tfvision")
class SSDBoxCoder(BoxCoder):
    """SSD's coding: centre offsets and log sizes, divided by variances.

    `dy = (cy - cy_a) / h_a / v_y`, `dh = log(h / h_a) / v_h` (and the same for
    x and w); decoding clamps `log(h / h_a)` at `clamp` before `exp`, like
    torchvision's `BoxCoder`. Wraps `tfvision.ops.encode_ssd` / `decode_ssd`.

    Args:
        variances: 2 floats `(centre, size)` or 4 `(y, x, h, w)`, dividing the
            codes. Defaults to `(0.1, 0.2)` (the prior-box variances of the SSD
            authors' Caffe code; torchvision's weights 10, 10, 5, 5).
        clamp: float, bound on the decoded log size ratios. Defaults to
            `log(1000 / 16)` (torchvision).

    References:
        - [Liu et al., 2016. SSD](https://arxiv.org/abs/1512.02325), §2.2, Eq. 2.

    Example:

    >>> coder = SSDBoxCoder()
    >>> anchors = [[0.0, 0.0, 0.4, 0.4]]
    >>> codes = coder.encode(anchors, [[0.1, 0.1, 0.5, 0.5]])
    >>> codes.numpy().tolist()
    [[2.5, 2.5, 0.0, 0.0]]
    >>> coder.decode(anchors, codes).numpy().tolist()
    [[0.1, 0.1, 0.5, 0.5]]
    """

    def __init__(self, variances=(0.1, 0.2), clamp=SSD_CLAMP):
        variances = tuple(float(v) for v in variances)
        if len(variances) not in (2, 4) or min(variances) <= 0:
            raise ValueError(
                "`variances` must be 2 (centre, size) or 4 (y, x, h, w) positive numbers. "
                f"Received: variances={variances}"
            )
        if not clamp > 0:
            raise ValueError(f"`clamp` must be > 0. Received: clamp={clamp}")
        self.variances = variances
        self.clamp = float(clamp)

    @property
    def variances_yxhw(self):
        """The 4 variances `(y, x, h, w)`."""
        if len(self.variances) == 2:
            centre, size = self.variances
            return (centre, centre, size, size)
        return self.variances

    def encode(self, anchors, boxes, grid_size=None):
        return encode_ssd(boxes, anchors, self.variances_yxhw)

    def decode(self, anchors, deltas, grid_size=None):
        return decode_ssd(deltas, anchors, self.variances_yxhw, self.clamp)

    def get_config(self):
        return {"variances": list(self.variances), "clamp": self.clamp}


@keras.saving.register_keras_serializable(package="tfvision")
class BoundedBoxCoder(BoxCoder):
    """The fast.ai SSD lecture's `tanh` coding: a box stays near its anchor.

    The centre moves at most half a cell of the anchor's grid and each side
    scales by `2 ** tanh(a)`, in `[0.5, 2]`; it needs `grid_size` on every
    call. Wraps `tfvision.ops.encode_bounded` / `decode_bounded`.

    References:
        - fast.ai, Deep Learning Part 2 (2018), lesson 9 (`actn_to_bb`).

    Example:

    >>> coder = BoundedBoxCoder()
    >>> coder.decode([[0.0, 0.0, 0.25, 0.25]], [[0.0, 0.0, 0.0, 0.0]], grid_size=4).numpy().tolist()
    [[0.0, 0.0, 0.25, 0.25]]
    """

    def encode(self, anchors, boxes, grid_size=None):
        return encode_bounded(boxes, anchors, _required(grid_size))

    def decode(self, anchors, deltas, grid_size=None):
        return decode_bounded(deltas, anchors, _required(grid_size))


def _required(grid_size):
    if grid_size is None:
        raise ValueError("The 'bounded' coding needs `grid_size`. Received: grid_size=None")
    return grid_size


# The `coding` shortcuts of `SSDDetector` and `BoxDecoder`.
BOX_CODERS = {"ssd": SSDBoxCoder, "bounded": BoundedBoxCoder}


def get_box_coder(identifier):
    """A box coder from a shortcut name, a config dict or a `BoxCoder`.

    Args:
        identifier: `"ssd"` (`SSDBoxCoder()`), `"bounded"`
            (`BoundedBoxCoder()`), a serialized coder (dict) or a `BoxCoder`.

    Returns:
        A `BoxCoder`.
    """
    if isinstance(identifier, BoxCoder):
        return identifier
    if isinstance(identifier, dict):
        return keras.saving.deserialize_keras_object(identifier)
    if isinstance(identifier, str) and identifier in BOX_CODERS:
        return BOX_CODERS[identifier]()
    raise ValueError(
        f"A box coder must be one of {tuple(BOX_CODERS)} or a `BoxCoder`. "
        f"Received: {identifier!r}"
    )
