"""Aligned views for co-training: two views of each sample, split on the same indices."""
