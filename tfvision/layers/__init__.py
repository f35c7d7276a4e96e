"""Reusable Keras layers."""

from tfvision.layers.anchor_generator import AnchorGenerator
from tfvision.layers.box_coder import BoundedBoxCoder, BoxCoder, SSDBoxCoder
from tfvision.layers.box_decoder import BoxDecoder
from tfvision.layers.conv_bn import ConvBN
from tfvision.layers.grid_pooling import GridPooling
from tfvision.layers.image_normalization import ImageNormalization
from tfvision.layers.inverted_residual import InvertedResidual
from tfvision.layers.make_divisible import make_divisible
from tfvision.layers.non_max_suppression import NonMaxSuppression
from tfvision.layers.relu6 import ReLU6
from tfvision.layers.separable_conv_bn import SeparableConvBN
from tfvision.layers.split_batch_normalization import SplitBatchNormalization

__all__ = [
    "AnchorGenerator",
    "BoundedBoxCoder",
    "BoxCoder",
    "BoxDecoder",
    "ConvBN",
    "GridPooling",
    "ImageNormalization",
    "InvertedResidual",
    "NonMaxSuppression",
    "ReLU6",
    "SSDBoxCoder",
    "SeparableConvBN",
    "SplitBatchNormalization",
    "make_divisible",
]
