"""Detection metrics: COCO mAP through pycocotools, VOC07 11-point mAP, mAP over a
dataset (`evaluate_detections`), and the report (`metrics.json`, PR curves,
confusion matrix, F1 curve) of an evaluation."""

from tfvision.metrics.coco_format import coco_detections
from tfvision.metrics.coco_format import coco_ground_truth
from tfvision.metrics.coco_format import to_absolute_xywh
from tfvision.metrics.coco_map import DetectionEvaluator
from tfvision.metrics.coco_map import format_ap_table
from tfvision.metrics.coco_map import run_coco_eval
from tfvision.metrics.detection_evaluation import evaluate_detections
from tfvision.metrics.detection_report import confusion_matrix
from tfvision.metrics.detection_report import f1_curves
from tfvision.metrics.detection_report import write_detection_report
from tfvision.metrics.voc_map import voc07_average_precision
from tfvision.metrics.voc_map import voc07_map

__all__ = [
    "DetectionEvaluator",
    "coco_detections",
    "confusion_matrix",
    "f1_curves",
    "coco_ground_truth",
    "evaluate_detections",
    "format_ap_table",
    "run_coco_eval",
    "to_absolute_xywh",
    "voc07_average_precision",
    "voc07_map",
    "write_detection_report",
]
