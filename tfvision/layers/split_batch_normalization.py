"""Batch normalisation with statistics computed per sub-batch (split BN)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfvision")
class SplitBatchNormalization(keras.layers.BatchNormalization):
    """Batch normalisation whose training statistics come from `num_splits` sub-batches.

    In training mode the batch `[N, ..., C]` is cut into `num_splits`
    consecutive sub-batches of `N / num_splits` examples; each is normalised
    with its own mean and variance, as if it ran on its own device. This is
    how the MoCo CIFAR-10 demo mimics the 8-GPU batch norm of the paper on one
    GPU: with shuffled keys (shuffle-BN), a query and its positive key then
    never share statistics, so the model cannot cheat through them. The
    moving statistics move towards the average of the sub-batch statistics
    (`moving = m · moving + (1 - m) · mean_s(stat_s)`), the average the demo
    takes over its per-split running statistics. In inference mode, or when
    the layer is frozen, it is plain batch norm with the moving statistics.
    With `num_splits=1` it is exactly `keras.layers.BatchNormalization`
    (with tfvision's momentum, 0.9, instead of Keras' 0.99).

    Args:
        num_splits: int >= 1. Sub-batches per batch; the training batch size
            must be a multiple of it. Defaults to `1`.
        momentum: float. Momentum of the moving statistics. Defaults to `0.9`
            (PyTorch's 0.1, the demo's): fast enough for the statistics to
            follow weights trained from scratch.
        **kwargs: `keras.layers.BatchNormalization` arguments (`epsilon`,
            `center`, `scale`, ...). Only `axis=-1` is supported.

    Returns:
        A tensor of the input's shape.

    References:
        - [He et al., 2019. Momentum Contrast for Unsupervised Visual
          Representation Learning](https://arxiv.org/abs/1911.05722),
          section 3.3 "Shuffling BN".
        - [Page, 2018. How to train your ResNet](https://github.com/davidcpage/cifar10-fast)
          (the `GhostBatchNorm` the demo's `SplitBatchNorm` comes from).

    Example:
    >>> layer = SplitBatchNormalization(num_splits=4)
    >>> tuple(layer(ops.ones((8, 5, 5, 3)), training=True).shape)
    (8, 5, 5, 3)
    """

    def __init__(self, num_splits=1, momentum=0.9, **kwargs):
        if not isinstance(num_splits, int) or num_splits < 1:
            raise ValueError(
                f"`num_splits` must be an integer >= 1. Received: num_splits={num_splits}"
            )
        axis = kwargs.get("axis", -1)
        if axis != -1:
            raise ValueError(
                f"SplitBatchNormalization normalises the last axis only. Received: axis={axis}"
            )
        super().__init__(momentum=momentum, **kwargs)
        self.num_splits = num_splits

    def call(self, inputs, training=None, mask=None):
        if self.num_splits == 1 or not (training and self.trainable):
            return super().call(inputs, training=training, mask=mask)
        batch = inputs.shape[0]
        if batch is not None and batch % self.num_splits:
            raise ValueError(
                f"The batch size must be a multiple of num_splits={self.num_splits}. "
                f"Received: batch size {batch}"
            )
        x = ops.cast(inputs, "float32")
        shape = ops.shape(x)
        splits = ops.reshape(x, (self.num_splits, -1) + tuple(shape[1:]))  # [S, N / S, ..., C]
        axes = tuple(range(1, len(x.shape)))  # of [S, N / S, ..., C]: all but S and C
        mean, variance = ops.moments(splits, axes=axes, keepdims=True)  # [S, 1, ..., 1, C]
        outputs = (splits - mean) * ops.rsqrt(variance + self.epsilon)
        if self.scale:
            outputs = outputs * ops.cast(self.gamma, "float32")
        if self.center:
            outputs = outputs + ops.cast(self.beta, "float32")
        outputs = ops.reshape(outputs, shape)  # [N, ..., C]
        channels = x.shape[-1]
        for moving, stat in ((self.moving_mean, mean), (self.moving_variance, variance)):
            average = ops.mean(ops.reshape(stat, (self.num_splits, channels)), axis=0)  # [C]
            moving.assign(
                moving * self.momentum + ops.cast(average, moving.dtype) * (1.0 - self.momentum)
            )
        return ops.cast(outputs, self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"num_splits": self.num_splits})
        return config
