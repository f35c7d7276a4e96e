"""MobileNetV2 backbone."""

from tfvision.models.mobilenet_v2.mobilenet_v2_backbone import MobileNetV2

__all__ = ["MobileNetV2"]
