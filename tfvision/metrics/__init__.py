"""Detection metrics: COCO mAP through pycocotools and VOC07 11-point mAP."""

from tfvision.metrics.coco_format import coco_detections
from tfvision.metrics.coco_format import coco_ground_truth
from tfvision.metrics.coco_format import to_absolute_xywh
from tfvision.metrics.coco_map import DetectionEvaluator
from tfvision.metrics.coco_map import format_ap_table
from tfvision.metrics.coco_map import run_coco_eval
from tfvision.metrics.voc_map import voc07_average_precision
from tfvision.metrics.voc_map import voc07_map

__all__ = [
    "DetectionEvaluator",
    "coco_detections",
    "coco_ground_truth",
    "format_ap_table",
    "run_coco_eval",
    "to_absolute_xywh",
    "voc07_average_precision",
    "voc07_map",
]
