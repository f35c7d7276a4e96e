"""Ready-made detectors: SSDLite-MobileNetV2 and the fast.ai lecture's multi-head SSD."""

import math

import keras

from tfvision.models.mobilenet_v2 import MobileNetV2
from tfvision.models.ssd.ssd_detector import SSDDetector
from tfvision.models.ssd.ssd_extra_block import SSDLiteExtraBlock
from tfvision.models.ssd.ssd_parts import SHORTCUTS
from tfvision.models.ssd.ssd_std_conv import SSDStdConv

# (h, w) multipliers of aspect ratios w / h = 1, 2 and 1/2 (SSD §2.2).
SSD_ASPECT_RATIOS = ((1.0, 1.0), (2**-0.5, 2**0.5), (2**0.5, 2**-0.5))
# The fast.ai lecture's anchor shapes: a square, a tall and a wide box.
LECTURE_ASPECT_RATIOS = ((1.0, 1.0), (1.0, 0.5), (0.5, 1.0))


def ssd_anchor_scales(num_levels, min_scale=0.2, max_scale=0.95):
    """Anchor sizes per level from SSD's linear scale schedule.

    Level `k` of `m` has `s_k = s_min + (s_max - s_min) k / (m - 1)` and the
    extra square size `sqrt(s_k s_{k+1})` (with `s_{m} = 1`), SSD §2.2 Eq. 4.

    Args:
        num_levels: int `m`.
        min_scale: float. Defaults to `0.2` (SSD, and SSDLite in the TF Object
            Detection API).
        max_scale: float. Defaults to `0.95` (torchvision `ssdlite.py`).

    Returns:
        list of `m` pairs `(s_k, sqrt(s_k s_{k+1}))`.

    References:
        - [Liu et al., 2016. SSD](https://arxiv.org/abs/1512.02325), §2.2.

    Example:
    >>> ssd_anchor_scales(2)  # [(0.2, 0.436), (0.95, 0.975)]
    """
    if num_levels < 1 or not 0.0 < min_scale <= max_scale:
        raise ValueError(
            "Need num_levels >= 1 and 0 < min_scale <= max_scale. Received: "
            f"num_levels={num_levels}, min_scale={min_scale}, max_scale={max_scale}"
        )
    step = (max_scale - min_scale) / max(num_levels - 1, 1)
    scales = [min_scale + step * k for k in range(num_levels)] + [1.0]
    return [(scales[k], math.sqrt(scales[k] * scales[k + 1])) for k in range(num_levels)]


def _backbone(alpha, image_size, backbone_weights):
    if backbone_weights not in (None, "imagenet", "shapes") and not str(
        backbone_weights
    ).endswith(".weights.h5"):
        raise ValueError(
            "`backbone_weights` must be None, 'imagenet', 'shapes' or a MobileNetV2 "
            f".weights.h5 file. Received: backbone_weights={backbone_weights!r}"
        )
    return MobileNetV2(
        alpha=alpha,
        input_shape=(image_size, image_size, 3),
        include_top=False,
        weights=backbone_weights,
    )


def _default_parts(kwargs, **shortcuts):
    """Fills a preset's shortcuts into `kwargs` where they are missing or `None`.

    A part handed in (`kwargs["loss"]`, ...) keeps its shortcuts out.
    """
    for part, names in SHORTCUTS.items():
        if kwargs.get(part) is None:
            for name in names:
                if name in shortcuts and kwargs.get(name) is None:
                    kwargs[name] = shortcuts[name]
    if kwargs.get("head") is None and "class_prior" in shortcuts:
        kwargs.setdefault("class_prior", shortcuts["class_prior"])  # `None` means a zero bias


def ssdlite_mobilenet_v2(
    class_names,
    alpha=1.0,
    image_size=320,
    backbone_weights="imagenet",
    freeze_backbone=False,
    extra_channels=(512, 256, 256, 128),
    min_scale=0.2,
    max_scale=0.95,
    **kwargs,
):
    """SSDLite on MobileNetV2 (Sandler et al. 2018, §6.2).

    Prediction levels: the expansion of layer 15 (block 13's 1x1 expansion,
    output stride 16, `stride_16_expanded`), the last layer (`final`, stride
    32), and four `SSDLiteExtraBlock`s (512, 256, 256, 128 channels as in the
    TF Object Detection API and torchvision), each halving the grid: at 320
    px the grids are 20, 10, 5, 3, 2, 1. Every prediction head is
    depthwise-separable. Each level has 6 anchors per cell: SSD's sizes `s_k`
    and `sqrt(s_k s_{k+1})` (`ssd_anchor_scales`) times aspect ratios 1, 2
    and 1/2. Works at small sizes (96–192 px) for CPU training.

    Args:
        class_names: list of str.
        alpha: float, MobileNetV2 width. Defaults to `1.0`.
        image_size: int, square input side. Defaults to `320`.
        backbone_weights: `None`, `"imagenet"`, `"shapes"` (built-in, alpha
            0.35) or a MobileNetV2 `.weights.h5` path (e.g. a MoCo encoder).
            Defaults to `"imagenet"`.
        freeze_backbone: bool. Defaults to `False`.
        extra_channels: channels of the extra layers. Defaults to
            `(512, 256, 256, 128)`.
        min_scale, max_scale: anchor scale schedule. Defaults to `0.2`, `0.95`.
        **kwargs: more `SSDDetector` arguments: shortcuts (`classification`,
            `coding`, ...) or parts (`loss`, `box_coder`, `head`,
            `anchor_generator`); a part handed in replaces the preset's
            shortcuts for it.

    Returns:
        An `SSDDetector`.

    References:
        - [Sandler et al., 2018. MobileNetV2](https://arxiv.org/abs/1801.04381), §6.2.
        - [Liu et al., 2016. SSD](https://arxiv.org/abs/1512.02325), §2.2.

    Example:
    >>> model = ssdlite_mobilenet_v2(["a", "b"], alpha=0.35, image_size=96,
    ...                              backbone_weights="shapes")
    """
    backbone = _backbone(alpha, image_size, backbone_weights)
    extras = [SSDLiteExtraBlock(int(c), name=f"extra_{i}") for i, c in enumerate(extra_channels)]
    feature_names = ["stride_16_expanded", "final"]
    kwargs.setdefault("name", "ssdlite_mobilenet_v2")
    _default_parts(
        kwargs,
        anchor_scales=ssd_anchor_scales(len(feature_names) + len(extras), min_scale, max_scale),
        aspect_ratios=[SSD_ASPECT_RATIOS],
        head_type="separable",
    )
    return SSDDetector(
        class_names,
        backbone,
        feature_names=feature_names,
        extra_layers=extras,
        freeze_backbone=freeze_backbone,
        **kwargs,
    )


def ssd_multihead(
    class_names,
    alpha=1.0,
    image_size=224,
    backbone_weights="imagenet",
    freeze_backbone=False,
    filters=256,
    dropout=0.4,
    **kwargs,
):
    """The fast.ai lecture's `SSD_MultiHead` on MobileNetV2's last feature map.

    Dropout, a stride-1 `SSDStdConv` (conv + ReLU + BN + dropout), then
    stride-2 `SSDStdConv`s producing 4x4, 2x2 and 1x1 grids (at 97–256 px;
    smaller images give smaller first grids), each predicted by a 3x3
    convolution. Anchors: one per cell size with ratios (1, 1), (1, 0.5),
    (0.5, 1), 63 anchors on 4/2/1 grids. The lecture's losses: bounded (tanh)
    box coding, L1 localisation, sigmoid BCE without a background column,
    class bias -4.

    Args:
        class_names: list of str.
        alpha: float. Defaults to `1.0`.
        image_size: int. Defaults to `224`.
        backbone_weights: as in `ssdlite_mobilenet_v2`. Defaults to `"imagenet"`.
        freeze_backbone: bool. Defaults to `False`.
        filters: int, channels of the head blocks. Defaults to `256`.
        dropout: float. Defaults to `0.4` (the lecture).
        **kwargs: more `SSDDetector` arguments, as in `ssdlite_mobilenet_v2`.

    Returns:
        An `SSDDetector`.

    References:
        - fast.ai, Deep Learning Part 2 (2018), lesson 9 (multi-object SSD).

    Example:
    >>> model = ssd_multihead(["a", "b"], alpha=0.35, image_size=128,
    ...                       backbone_weights="shapes")
    >>> model.num_anchors  # 63
    """
    backbone = _backbone(alpha, image_size, backbone_weights)
    grid = math.ceil(image_size / 32)  # MobileNetV2's final feature map
    first = [keras.layers.Dropout(dropout), SSDStdConv(filters, 1, dropout)]
    while grid > 4:  # stride-2 blocks down to the lecture's 4x4 grid
        first.append(SSDStdConv(filters, 2, dropout))
        grid = math.ceil(grid / 2)
    grids = [grid, math.ceil(grid / 2), math.ceil(grid / 4)]
    extras = [
        keras.Sequential(first, name="level_0"),
        SSDStdConv(filters, 2, dropout, name="level_1"),
        SSDStdConv(filters, 2, dropout, name="level_2"),
    ]
    kwargs.setdefault("name", "ssd_multihead")
    _default_parts(
        kwargs,
        anchor_scales=[(1.0 / g,) for g in grids],
        aspect_ratios=[LECTURE_ASPECT_RATIOS],
        head_type="conv",
        class_prior=0.018,  # sigmoid(-4): the lecture's class bias
        coding="bounded",
        localization="l1",
        classification="bce",
    )
    return SSDDetector(
        class_names,
        backbone,
        feature_names=[],
        extra_layers=extras,
        extras_from="final",
        freeze_backbone=freeze_backbone,
        **kwargs,
    )


PRESETS = {"ssdlite_mobilenet_v2": ssdlite_mobilenet_v2, "ssd_multihead": ssd_multihead}
