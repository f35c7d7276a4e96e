"""The small CIFAR-style convolutional encoder of the MoCo CIFAR-10 demo."""

import keras

from tfvision.layers.split_batch_normalization import SplitBatchNormalization
from tfvision.models.backbones import Backbone, register_backbone


@keras.saving.register_keras_serializable(package="tfvision")
class SmallCNN(Backbone, keras.Model):
    """Three `conv 3x3 -> batch norm -> ReLU -> max-pool 2x2` stages, then global pooling.

    The demo's `convNet` (32, 64 and 128 channels, valid convolutions), with
    global average pooling instead of flattening so any input size works,
    and with its batch norms as `SplitBatchNormalization(bn_splits)`, the
    demo's way of imitating multi-GPU batch norm on one device.

    Inputs are images scaled to `[-1, 1]` (the MoCo model normalises). A
    `Backbone` registered as `"small_cnn"`, with one named feature map,
    `pyramid_outputs["final"]`, the last stage before pooling.

    Args:
        input_shape: tuple `(height, width, 3)`. Defaults to `(32, 32, 3)`.
        filters: tuple of int, channels of each stage. Defaults to `(32, 64, 128)`.
        bn_splits: int, sub-batches of the batch norms (1 is plain batch
            norm). Defaults to `1`.
        bn_momentum: float. Defaults to `0.9` (PyTorch's 0.1 the other way round).
        name: str. Defaults to `"small_cnn"`.
        **kwargs: Base model keyword arguments.

    Returns:
        Features `[B, filters[-1]]`.

    Example:
    >>> import numpy as np
    >>> SmallCNN((32, 32, 3))(np.zeros((2, 32, 32, 3))).shape
    TensorShape([2, 128])
    """

    def __init__(self, input_shape=(32, 32, 3), filters=(32, 64, 128), bn_splits=1,
                 bn_momentum=0.9, name="small_cnn", **kwargs):
        input_shape = tuple(input_shape)
        filters = tuple(int(f) for f in filters)
        if len(input_shape) != 3 or not filters:
            raise ValueError(
                "Expected input_shape (height, width, channels) and at least one stage. "
                f"Received: input_shape={input_shape}, filters={filters}"
            )
        inputs = keras.Input(input_shape, name="images")
        x = inputs
        for i, channels in enumerate(filters):
            x = keras.layers.Conv2D(channels, 3, use_bias=False, name=f"conv_{i}")(x)
            x = SplitBatchNormalization(bn_splits, momentum=bn_momentum, epsilon=1e-5,
                                        name=f"bn_{i}")(x)
            x = keras.layers.ReLU(name=f"relu_{i}")(x)
            x = keras.layers.MaxPooling2D(2, name=f"pool_{i}")(x)
        outputs = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self.input_shape_ = input_shape
        self.pyramid_outputs = {"final": x}
        self.filters = filters
        self.bn_splits = bn_splits
        self.bn_momentum = bn_momentum

    def get_config(self):
        return {
            "input_shape": self.input_shape_,
            "filters": list(self.filters),
            "bn_splits": self.bn_splits,
            "bn_momentum": self.bn_momentum,
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@register_backbone("small_cnn")
def small_cnn_backbone(image_size, weights=None, alpha=1.0, pooling="avg", **kwargs):
    """The MoCo demo's `SmallCNN`; `**kwargs` such as `bn_splits`. It always pools."""
    if pooling != "avg":
        raise ValueError(
            f"small_cnn gives pooled features only. Received: pooling={pooling!r}"
        )
    model = SmallCNN((image_size, image_size, 3), **kwargs)
    if weights is not None:
        model.load_weights(weights)
    return model
