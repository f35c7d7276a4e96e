"""Losses: multibox (localisation + classification), focal, InfoNCE; class-balance weights."""

from tfvision.losses.class_balance import class_balance_weights
from tfvision.losses.cross_replica import num_replicas, replica_sum
from tfvision.losses.focal import sigmoid_focal_loss
from tfvision.losses.info_nce import InfoNCE, info_nce_loss
from tfvision.losses.multibox import (
    MultiboxLoss,
    classification_loss,
    localization_loss,
    multibox_loss,
)

__all__ = [
    "InfoNCE",
    "MultiboxLoss",
    "class_balance_weights",
    "classification_loss",
    "info_nce_loss",
    "localization_loss",
    "multibox_loss",
    "num_replicas",
    "replica_sum",
    "sigmoid_focal_loss",
]
