"""MobileNetV1 backbone (`keras.applications.MobileNet` with named feature maps)."""

from tfvision.models.mobilenet_v1.mobilenet_v1_backbone import MobileNetV1

__all__ = ["MobileNetV1"]
