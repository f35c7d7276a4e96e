"""Positive pairs for contrastive pretraining: two augmentations of one image."""
