"""Sigmoid focal loss, element-wise."""

from keras import ops


def sigmoid_focal_loss(targets, logits, alpha=0.25, gamma=2.0):
    """Focal loss of independent sigmoid outputs, per element.

    `FL(p_t) = -alpha_t (1 - p_t)^gamma log(p_t)`, with `p_t = p` where the
    target is 1 and `1 - p` where it is 0, and `alpha_t` likewise `alpha` or
    `1 - alpha`. With `gamma = 0` and `alpha = 0.5` it is half the binary
    cross-entropy.

    Args:
        targets: float tensor of 0 / 1 targets, any shape.
        logits: float tensor of the same shape.
        alpha: float in [0, 1], weight of the positive class. Defaults to
            `0.25` (Lin et al., §5.1).
        gamma: float >= 0, focusing parameter. Defaults to `2.0`.

    Returns:
        Float32 tensor of the same shape.

    References:
        - [Lin et al., 2017. Focal Loss for Dense Object Detection](
          https://arxiv.org/abs/1708.02002)

    Example:

    >>> sigmoid_focal_loss(ops.ones((2,)), ops.zeros((2,))).numpy().tolist()  # 0.25 * 0.25 * log(2) each
    [0.0433, 0.0433]
    """
    targets = ops.cast(targets, "float32")
    logits = ops.cast(logits, "float32")
    # log(p) and log(1 - p) from the logits, stable for large |logits|.
    cross_entropy = ops.binary_crossentropy(targets, logits, from_logits=True)
    probabilities = ops.sigmoid(logits)
    p_t = targets * probabilities + (1.0 - targets) * (1.0 - probabilities)
    alpha_t = targets * alpha + (1.0 - targets) * (1.0 - alpha)
    return alpha_t * ops.power(1.0 - p_t, gamma) * cross_entropy
