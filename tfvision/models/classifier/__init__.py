"""Transfer-learning image classification."""

from tfvision.models.classifier.image_classifier import ImageClassifier

__all__ = ["ImageClassifier"]
