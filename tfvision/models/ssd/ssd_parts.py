"""The parts an `SSDDetector` is assembled from, and the defaults its shortcuts stand for.

Each part is either handed to the detector as an object or built from its
shortcuts, never both; a shortcut left `None` takes its default.

- anchors: `anchor_generator`, an `AnchorGenerator` or a list of them whose
  grids, in order, are the levels' feature-map sizes. Shortcuts: one
  `AnchorGenerator` per level from `anchor_scales` (per level, anchor sizes as
  fractions of the image side; default `((0.2,),)`) and `aspect_ratios` (per
  level, `(h, w)` ratios; default `(((1.0, 1.0),),)`), one entry serving every
  level.
- head: `head`, a layer mapping the list of level features to `{"boxes":
  [B, N, 4], "classes": [B, N, K]}`. Shortcut: an `SSDHead` of `head_type`,
  `"separable"` (SSDLite, the default) or `"conv"`, with the detector's
  `class_prior`.
- box coder: `box_coder`, a `tfvision.layers.BoxCoder`. Shortcut: `coding`,
  `"ssd"` (`SSDBoxCoder()`, the default) or `"bounded"` (`BoundedBoxCoder()`).
- loss: `loss`, a `tfvision.losses.MultiboxLoss` or an object with its
  interface. Shortcuts: a `MultiboxLoss` of `classification` (default
  `"focal"`), `localization` (`"smooth_l1"`), `focal_alpha` (`0.25`),
  `focal_gamma` (`2.0`), `negative_ratio` (`3`) and `class_weights` (`None`,
  one weight per class: see `class_balance_weights`).

The head's rows follow the anchors (levels in order, cells row-major, a
cell's anchors inner; see `AnchorGenerator`), and it gives `K =
loss.num_outputs(C)` logits per anchor.
"""

from typing import NamedTuple

import keras
import numpy as np

from tfvision.layers.anchor_generator import AnchorGenerator
from tfvision.layers.box_coder import BOX_CODERS, get_box_coder
from tfvision.losses.multibox import MultiboxLoss
from tfvision.models.ssd.ssd_head import SSDHead

DEFAULT_ANCHOR_SCALES = ((0.2,),)
DEFAULT_ASPECT_RATIOS = (((1.0, 1.0),),)
# The detector's string and number shortcuts, by the part they build.
SHORTCUTS = {
    "anchor_generator": ("anchor_scales", "aspect_ratios"),
    "head": ("head_type",),
    "box_coder": ("coding",),
    "loss": ("classification", "localization", "focal_alpha", "focal_gamma", "negative_ratio",
             "class_weights"),
}


class SSDParts(NamedTuple):
    """A detector's parts, as `assemble_parts` resolves them."""

    anchor_generators: list  # of `AnchorGenerator`, their grids the levels in order
    head: keras.layers.Layer
    box_coder: object  # a `BoxCoder`
    loss: object  # a `MultiboxLoss` or an object with its interface
    shortcuts: dict  # the shortcuts' values, `None` for those of parts handed in
    given: tuple  # names of the parts handed in


def assemble_parts(grid_sizes, num_classes, class_prior=0.01, **parts_and_shortcuts):
    """The detector's parts: those handed in, the others built from their shortcuts.

    Args:
        grid_sizes: list of `(gh, gw)`, the levels' feature-map sizes.
        num_classes: int `C`.
        class_prior: float or `None`, for the `head_type` head. Defaults to `0.01`.
        **parts_and_shortcuts: `anchor_generator`, `head`, `box_coder`,
            `loss` (objects, serialized objects or `None`) and the shortcuts
            in `SHORTCUTS` (`None` for the defaults); a part and its
            shortcuts are not given together.

    Returns:
        An `SSDParts`.
    """
    given = {k: parts_and_shortcuts.pop(k, None) for k in SHORTCUTS}
    shortcuts = {k: parts_and_shortcuts.pop(k, None) for names in SHORTCUTS.values() for k in names}
    if parts_and_shortcuts:
        raise TypeError(f"Unknown detector parts: {sorted(parts_and_shortcuts)}")
    for name, part in given.items():
        if part is not None:
            _exclusive(name, part, **{k: shortcuts[k] for k in SHORTCUTS[name]})
    loss, loss_shortcuts = _resolve_loss(
        given["loss"], **{k: shortcuts[k] for k in SHORTCUTS["loss"]}
    )
    box_coder, coding = _resolve_box_coder(given["box_coder"], shortcuts["coding"])
    generators, anchor_scales, aspect_ratios = _resolve_anchor_generators(
        given["anchor_generator"], shortcuts["anchor_scales"], shortcuts["aspect_ratios"],
        grid_sizes,
    )
    head, head_type = _resolve_head(
        given["head"], shortcuts["head_type"], class_prior,
        anchors_per_level(generators), loss.num_outputs(num_classes),
    )
    shortcuts = dict(
        loss_shortcuts, coding=coding, anchor_scales=anchor_scales,
        aspect_ratios=aspect_ratios, head_type=head_type,
    )
    names = tuple(name for name, part in given.items() if part is not None)
    return SSDParts(generators, head, box_coder, loss, shortcuts, names)


def _resolve_head(head, head_type, class_prior, anchors_per_level, num_outputs):
    """The given head, or an `SSDHead` of `head_type` (default `"separable"`)."""
    if head is not None:
        return _deserialize(head), None
    head_type = "separable" if head_type is None else head_type
    head = SSDHead(anchors_per_level, num_outputs, head_type, class_prior=class_prior, name="head")
    return head, head_type


def _resolve_box_coder(box_coder, coding):
    """The given box coder, or the one `coding` names (default `"ssd"`)."""
    if box_coder is not None:
        return _deserialize(box_coder), None
    coding = "ssd" if coding is None else coding
    if coding not in BOX_CODERS:
        raise ValueError(
            f"`coding` must be one of {tuple(BOX_CODERS)}. Received: coding={coding!r}"
        )
    return get_box_coder(coding), coding


def _resolve_loss(loss, **shortcuts):
    """The given loss, or a `MultiboxLoss` of the shortcuts that are not `None`."""
    if loss is not None:
        return _deserialize(loss), dict.fromkeys(shortcuts)
    loss = MultiboxLoss(**{k: v for k, v in shortcuts.items() if v is not None})
    return loss, {k: loss.get_config()[k] for k in shortcuts}


def _resolve_anchor_generators(anchor_generator, anchor_scales, aspect_ratios, grid_sizes):
    """Anchor generators whose grids, in order, are the levels' `grid_sizes`.

    Without `anchor_generator`, one `AnchorGenerator` per level, whose anchors
    have the absolute sizes `anchor_scales[l]` (fractions of the image side)
    and the `(h, w)` ratios `aspect_ratios[l]`.

    Returns:
        `(generators, anchor_scales, aspect_ratios)`: a list of
        `AnchorGenerator`s and the per-level shortcuts (`None` with
        `anchor_generator`).
    """
    if anchor_generator is not None:
        generators = anchor_generator
        if not isinstance(generators, (list, tuple)):
            generators = [generators]
        generators = [_deserialize(g) for g in generators]
        grids = [tuple(g) for generator in generators for g in generator.grid_sizes]
        if grids != list(grid_sizes):
            raise ValueError(
                "The anchor generators' grids must be the detector's levels, in order: "
                f"{list(grid_sizes)}. Received: grids {grids}"
            )
        return generators, None, None
    num_levels = len(grid_sizes)
    if anchor_scales is None:
        anchor_scales = DEFAULT_ANCHOR_SCALES
    if aspect_ratios is None:
        aspect_ratios = DEFAULT_ASPECT_RATIOS
    scales = _per_level(anchor_scales, num_levels, "anchor_scales")
    ratios = _per_level(aspect_ratios, num_levels, "aspect_ratios")
    generators = [
        # Cell-relative zooms giving absolute sizes `scale` (square image, gh == gw).
        AnchorGenerator([(gh, gw)], [s * gh for s in level_scales], level_ratios)
        for (gh, gw), level_scales, level_ratios in zip(grid_sizes, scales, ratios)
    ]
    scales = [[float(s) for s in level] for level in scales]
    ratios = [[[float(h), float(w)] for h, w in level] for level in ratios]
    return generators, scales, ratios


def anchors_per_level(generators):
    """Anchors per cell of each level, `A_l`, the head's `num_anchors`."""
    return [g.anchors_per_cell for g in generators for _ in g.grid_sizes]


def stack_anchors(generators):
    """All anchors `[N, 4]` and each one's grid size `[N, 2]` (float32 NumPy)."""
    anchors = np.concatenate([g.numpy() for g in generators])  # [N, 4]
    grids = [
        np.full((gh * gw * g.anchors_per_cell, 2), (gh, gw), "float32")
        for g in generators
        for gh, gw in g.grid_sizes
    ]
    return anchors, np.concatenate(grids)  # [N, 2]


def parts_config(parts, given):
    """The config entries of `parts` (a dict): `None` for those not in `given`."""
    return {
        name: keras.saving.serialize_keras_object(part) if name in given else None
        for name, part in parts.items()
    }


def check_head_outputs(outputs, num_anchors, num_outputs):
    """Refuses a head whose outputs do not give one row per anchor."""
    expected = {"boxes": (num_anchors, 4), "classes": (num_anchors, num_outputs)}
    shapes = {k: tuple(v.shape[1:]) for k, v in dict(outputs).items()}
    if shapes != expected:
        raise ValueError(
            f"The head must return one row per anchor: {expected} after the batch axis "
            f"({num_outputs} logits per anchor for the loss). Received: {shapes}"
        )


def _deserialize(part):
    return keras.saving.deserialize_keras_object(part) if isinstance(part, dict) else part


def _exclusive(name, part, **shortcuts):
    given = {k: v for k, v in shortcuts.items() if v is not None}
    if given:
        raise ValueError(
            f"Pass `{name}` or its shortcuts {tuple(shortcuts)}, not both. "
            f"Received: {name}={part!r} and {given}"
        )


def _per_level(values, num_levels, name):
    values = list(values)
    if len(values) == 1:
        values = values * num_levels
    if len(values) != num_levels or any(len(v) == 0 for v in values):
        raise ValueError(
            f"`{name}` must give one non-empty list per level ({num_levels} levels) or one "
            f"for all. Received: {name}={values}"
        )
    return values
