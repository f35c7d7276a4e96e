"""Ready-made detectors on any backbone: SSDLite and the fast.ai lecture's multi-head SSD."""

import math

import keras

from tfvision.models.backbones import (
    backbone_normalization,
    build_backbone,
    has_feature_maps,
)
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
    >>> [(round(s, 3), round(s_prime, 3)) for s, s_prime in ssd_anchor_scales(2)]
    [(0.2, 0.436), (0.95, 0.975)]
    """
    if num_levels < 1 or not 0.0 < min_scale <= max_scale:
        raise ValueError(
            "Need num_levels >= 1 and 0 < min_scale <= max_scale. Received: "
            f"num_levels={num_levels}, min_scale={min_scale}, max_scale={max_scale}"
        )
    step = (max_scale - min_scale) / max(num_levels - 1, 1)
    scales = [min_scale + step * k for k in range(num_levels)] + [1.0]
    return [(scales[k], math.sqrt(scales[k] * scales[k + 1])) for k in range(num_levels)]


def _backbone(backbone, alpha, image_size, backbone_weights):
    """A preset's backbone: built by name from the registry, or the model given."""
    if isinstance(backbone, str):
        if backbone_weights not in (None, "imagenet", "shapes") and not str(
            backbone_weights
        ).endswith(".weights.h5"):
            raise ValueError(
                "`backbone_weights` must be None, 'imagenet', 'shapes' or a backbone "
                f".weights.h5 file. Received: backbone_weights={backbone_weights!r}"
            )
        backbone = build_backbone(backbone, image_size, weights=backbone_weights, alpha=alpha,
                                  pooling=None)
    if not has_feature_maps(backbone):
        raise ValueError(
            "A detector needs a backbone with named feature maps (`pyramid_outputs`, "
            f"`feature_extractor`; see `Backbone`). Received: backbone={backbone.name!r}"
        )
    if backbone_normalization(backbone) != "tf":
        # `SSDDetector` scales pixels to [-1, 1] ("tf") in its graph.
        raise ValueError(
            "The SSD detector feeds its backbone images in [-1, 1] ('tf'). Received: "
            f"a backbone expecting normalization={backbone_normalization(backbone)!r}"
        )
    return backbone


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


def ssdlite(
    class_names,
    backbone="mobilenet_v2",
    alpha=1.0,
    image_size=320,
    backbone_weights="imagenet",
    freeze_backbone=False,
    extra_channels=(512, 256, 256, 128),
    min_scale=0.2,
    max_scale=0.95,
    **kwargs,
):
    """SSDLite on any backbone with named feature maps (Sandler et al. 2018, §6.2).

    Prediction levels: the backbone's stride-16 expansion
    (`stride_16_expanded`, the expansion of the first stride-32 block, as
    §6.2 on MobileNetV2), or its `stride_16` map when it has no expansion
    layers; its last map (`final`, stride 32); and four `SSDLiteExtraBlock`s
    (512, 256, 256, 128 channels as in the TF Object Detection API and
    torchvision), each halving the grid: at 320 px the grids are 20, 10, 5,
    3, 2, 1. Every prediction head is depthwise-separable. Each level has 6
    anchors per cell: SSD's sizes `s_k` and `sqrt(s_k s_{k+1})`
    (`ssd_anchor_scales`) times aspect ratios 1, 2 and 1/2. The classification
    loss is SSD's softmax with 3:1 hard-negative mining and at least 3 mined
    negatives in every image, so images without objects still train
    (`classification="focal"` or `"bce"` to change it).

    Args:
        class_names: list of str.
        backbone: a name of `tfvision.models.backbones.backbone_names()` with
            feature maps (`"mobilenet_v2"`, `"mobilenet_v1"`), or a `Backbone`
            model (its own input size and weights are used). Defaults to
            `"mobilenet_v2"`.
        alpha: float, width of a backbone given by name. Defaults to `1.0`.
        image_size: int, square input side, for a backbone name.
            Defaults to `320`.
        backbone_weights: `None`, `"imagenet"`, `"shapes"` (MobileNetV2's
            built-in, alpha 0.35) or a backbone `.weights.h5` path (e.g. a MoCo
            encoder), for a backbone name. Defaults to `"imagenet"`.
        freeze_backbone: bool. Defaults to `False`.
        extra_channels: channels of the extra layers. Defaults to
            `(512, 256, 256, 128)`.
        min_scale, max_scale: anchor scale schedule. Defaults to `0.2`, `0.95`.
        **kwargs: more `SSDDetector` arguments: shortcuts (`classification`,
            `coding`, `class_weights`, ...) or parts (`loss`, `box_coder`,
            `head`, `anchor_generator`); a part handed in replaces the preset's
            shortcuts for it. The name defaults to `"ssdlite_<backbone name>"`.

    Returns:
        An `SSDDetector`.

    References:
        - [Sandler et al., 2018. MobileNetV2](https://arxiv.org/abs/1801.04381), §6.2.
        - [Liu et al., 2016. SSD](https://arxiv.org/abs/1512.02325), §2.2.

    Example:
    >>> model = ssdlite(["a", "b"], "mobilenet_v1", alpha=0.25, image_size=96,
    ...                 backbone_weights=None)
    """
    backbone = _backbone(backbone, alpha, image_size, backbone_weights)
    extras = [SSDLiteExtraBlock(int(c), name=f"extra_{i}") for i, c in enumerate(extra_channels)]
    expanded = "stride_16_expanded" in backbone.pyramid_outputs
    feature_names = ["stride_16_expanded" if expanded else "stride_16", "final"]
    kwargs.setdefault("name", f"ssdlite_{backbone.name}")
    _default_parts(
        kwargs,
        anchor_scales=ssd_anchor_scales(len(feature_names) + len(extras), min_scale, max_scale),
        aspect_ratios=[SSD_ASPECT_RATIOS],
        head_type="separable",
        # SSD's softmax with 3:1 hard-negative mining (at least 3 per image). Against the focal loss
        # (the detector's default), 128 px, alpha 0.35, `shapes` backbone: test
        # mAP@0.5 0.785 against 0.714 on the built-in shapes (`make demo`), 0.341
        # against 0.176 on the digit canvases of `make quality` (3 + 12 epochs).
        classification="softmax",
    )
    return SSDDetector(
        class_names,
        backbone,
        feature_names=feature_names,
        extra_layers=extras,
        freeze_backbone=freeze_backbone,
        **kwargs,
    )


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
    """SSDLite on MobileNetV2 (Sandler et al. 2018, §6.2): `ssdlite` on `"mobilenet_v2"`.

    Prediction levels: the expansion of layer 15 (block 13's 1x1 expansion,
    output stride 16, `stride_16_expanded`), the last layer (`final`, stride
    32) and `ssdlite`'s four extra blocks; at 320 px the grids are 20, 10, 5,
    3, 2, 1. Works at small sizes (96–192 px) for CPU training.

    Args:
        class_names: list of str.
        alpha: float, MobileNetV2 width. Defaults to `1.0`.
        image_size: int, square input side. Defaults to `320`.
        backbone_weights: `None`, `"imagenet"`, `"shapes"` (built-in, alpha
            0.35) or a MobileNetV2 `.weights.h5` path (e.g. a MoCo encoder).
            Defaults to `"imagenet"`.
        freeze_backbone, extra_channels, min_scale, max_scale, **kwargs: as
            in `ssdlite`.

    Returns:
        An `SSDDetector` named `"ssdlite_mobilenet_v2"`.

    Example:
    >>> model = ssdlite_mobilenet_v2(["a", "b"], alpha=0.35, image_size=96,
    ...                              backbone_weights="shapes")
    """
    kwargs.setdefault("name", "ssdlite_mobilenet_v2")
    return ssdlite(class_names, "mobilenet_v2", alpha, image_size, backbone_weights,
                   freeze_backbone, extra_channels, min_scale, max_scale, **kwargs)


def ssd_multihead(
    class_names,
    alpha=1.0,
    image_size=224,
    backbone_weights="imagenet",
    freeze_backbone=False,
    filters=256,
    dropout=0.4,
    backbone="mobilenet_v2",
    **kwargs,
):
    """The fast.ai lecture's `SSD_MultiHead` on a backbone's last feature map.

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
        backbone: as in `ssdlite`; any backbone with a `"final"` map.
            Defaults to `"mobilenet_v2"`.
        **kwargs: more `SSDDetector` arguments, e.g. `class_weights`.

    Returns:
        An `SSDDetector`.

    References:
        - fast.ai, Deep Learning Part 2 (2018), lesson 9 (multi-object SSD).

    Example:
    >>> model = ssd_multihead(["a", "b"], alpha=0.35, image_size=128,
    ...                       backbone_weights="shapes")
    >>> model.num_anchors
    63
    """
    backbone = _backbone(backbone, alpha, image_size, backbone_weights)
    grid = int(backbone.pyramid_outputs["final"].shape[1])
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
