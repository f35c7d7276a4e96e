"""MoCo pretraining recipe, its kNN monitor and linear probe."""
