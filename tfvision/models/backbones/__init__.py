"""One backbone interface ("a model that gives named feature maps") and one registry by name.

`Backbone` is the interface; `build_backbone(name, image_size, ...)` builds a
registered backbone and `get_backbone` turns a task's backbone argument (a
name or a model) into a model. The tfvision families register themselves
when `tfvision.models` is imported: `mobilenet_v2`, `mobilenet_v1`,
`small_cnn`, and the `keras.applications` entries of `keras_applications.py`.
"""

from tfvision.models.backbones import keras_applications  # noqa: F401  (registers)
from tfvision.models.backbones.backbone import (
    Backbone,
    grid_pooled,
    has_feature_maps,
    pooled_feature_size,
)
from tfvision.models.backbones.registry import (
    BackboneSpec,
    backbone_names,
    backbone_normalization,
    backbone_spec,
    build_backbone,
    get_backbone,
    register_backbone,
)

__all__ = [
    "Backbone",
    "BackboneSpec",
    "backbone_names",
    "backbone_normalization",
    "backbone_spec",
    "build_backbone",
    "get_backbone",
    "grid_pooled",
    "has_feature_maps",
    "pooled_feature_size",
    "register_backbone",
]
