"""Detection losses: multibox (localisation + classification) and focal loss."""

from tfvision.losses.focal import sigmoid_focal_loss
from tfvision.losses.multibox import classification_loss, localization_loss, multibox_loss

__all__ = ["classification_loss", "localization_loss", "multibox_loss", "sigmoid_focal_loss"]
