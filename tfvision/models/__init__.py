"""tfvision's models. Importing this package registers every model class with
Keras, so `keras.saving.load_model` can rebuild any tfvision checkpoint, and
every backbone family with `tfvision.models.backbones`."""

from tfvision.models.classifier import ImageClassifier
from tfvision.models.cotraining import CoTraining
from tfvision.models.mobilenet_v1 import MobileNetV1
from tfvision.models.mobilenet_v2 import MobileNetV2
from tfvision.models.moco import MoCo, SmallCNN
from tfvision.models.ssd import SSDDetector

__all__ = [
    "CoTraining",
    "ImageClassifier",
    "MoCo",
    "MobileNetV1",
    "MobileNetV2",
    "SSDDetector",
    "SmallCNN",
]
