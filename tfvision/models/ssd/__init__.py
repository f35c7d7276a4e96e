"""SSD / SSDLite object detection: the generic detector, its parts and presets."""

from tfvision.models.ssd.ssd_detector import SSDDetector
from tfvision.models.ssd.ssd_extra_block import SSDLiteExtraBlock
from tfvision.models.ssd.ssd_head import SSDHead
from tfvision.models.ssd.ssd_presets import (
    PRESETS,
    ssd_anchor_scales,
    ssd_multihead,
    ssdlite,
    ssdlite_mobilenet_v2,
)
from tfvision.models.ssd.ssd_std_conv import SSDStdConv

__all__ = [
    "PRESETS",
    "SSDDetector",
    "SSDHead",
    "SSDLiteExtraBlock",
    "SSDStdConv",
    "ssd_anchor_scales",
    "ssd_multihead",
    "ssdlite",
    "ssdlite_mobilenet_v2",
]
