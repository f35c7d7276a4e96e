"""Transfer-learning image classification."""

from tfvision.models.classifier.backbones import BACKBONES, build_backbone
from tfvision.models.classifier.image_classifier import ImageClassifier

__all__ = ["BACKBONES", "ImageClassifier", "build_backbone"]
