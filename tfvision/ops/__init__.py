"""Box operations: formats, IoU, anchor matching and box coding."""

from tfvision.ops.box_coding import decode_bounded
from tfvision.ops.box_coding import decode_ssd
from tfvision.ops.box_coding import encode_bounded
from tfvision.ops.box_coding import encode_ssd
from tfvision.ops.box_format import convert_format
from tfvision.ops.box_format import from_internal
from tfvision.ops.box_format import to_internal
from tfvision.ops.iou import box_area
from tfvision.ops.iou import iou_matrix
from tfvision.ops.matching import BACKGROUND
from tfvision.ops.matching import match_anchors
from tfvision.ops.targets import assign_targets

__all__ = [
    "BACKGROUND",
    "assign_targets",
    "box_area",
    "convert_format",
    "decode_bounded",
    "decode_ssd",
    "encode_bounded",
    "encode_ssd",
    "from_internal",
    "iou_matrix",
    "match_anchors",
    "to_internal",
]
