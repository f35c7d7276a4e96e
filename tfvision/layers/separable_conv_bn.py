"""Depthwise-separable convolution with batch norm (MobileNet / SSDLite)."""

import keras

from tfvision.layers.conv_bn import ConvBN


@keras.saving.register_keras_serializable(package="tfvision")
class SeparableConvBN(keras.layers.Layer):
    """Depthwise conv + BN + ReLU6, then pointwise 1x1 conv + BN + activation.

    The depthwise-separable convolution of MobileNets with a normalisation
    after each half. SSDLite replaces every regular convolution of the SSD
    extra layers and prediction heads with it (MobileNetV2 paper,
    section 6.2); a head uses `activation=None` for its linear output.

    Args:
        filters: int. Output channels of the pointwise convolution.
        kernel_size: int. Depthwise window. Defaults to `3`.
        strides: int or pair of ints. Depthwise strides. Defaults to `1`.
        activation: `"relu6"`, a Keras activation, or `None` (linear),
            applied after the pointwise convolution. Defaults to `"relu6"`.
        bn_momentum: float. Batch-norm momentum. Defaults to `0.9` (PyTorch's
            0.1), fast enough for statistics to follow weights trained from scratch.
        bn_epsilon: float. Batch-norm epsilon. Defaults to `1e-3`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Returns:
        A tensor `[B, H / strides, W / strides, filters]`.

    References:
        - [Sandler et al., 2018. MobileNetV2: Inverted Residuals and Linear
          Bottlenecks](https://arxiv.org/abs/1801.04381)

    Example:

    ```python
    import numpy as np
    from tfvision.layers import SeparableConvBN

    layer = SeparableConvBN(64, strides=2, activation=None)
    layer(np.ones((1, 20, 20, 32))).shape  # (1, 10, 10, 64)
    ```
    """

    def __init__(
        self,
        filters,
        kernel_size=3,
        strides=1,
        activation="relu6",
        bn_momentum=0.9,
        bn_epsilon=1e-3,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not (isinstance(filters, int) and filters > 0):
            raise ValueError(
                f"`filters` must be a positive integer. Received: filters={filters}"
            )
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.activation = activation
        self.bn_momentum = bn_momentum
        self.bn_epsilon = bn_epsilon
        bn = dict(
            bn_momentum=bn_momentum, bn_epsilon=bn_epsilon, dtype=self.dtype_policy
        )

        # === Layers ===
        self.depthwise = ConvBN(
            None, kernel_size, strides=strides, depthwise=True, name="depthwise", **bn
        )
        self.pointwise = ConvBN(
            filters, 1, activation=activation, name="pointwise", **bn
        )
        # ConvBN validated these; keep its normalised tuples for the config.
        self.kernel_size = self.depthwise.kernel_size
        self.strides = self.depthwise.strides

    def build(self, input_shape):
        self.depthwise.build(input_shape)
        self.pointwise.build(self.depthwise.compute_output_shape(input_shape))

    def call(self, inputs, training=None):
        x = self.depthwise(inputs, training=training)
        return self.pointwise(x, training=training)

    def compute_output_shape(self, input_shape):
        shape = self.depthwise.compute_output_shape(input_shape)
        return self.pointwise.compute_output_shape(shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "strides": self.strides,
                "activation": self.pointwise.get_config()["activation"],
                "bn_momentum": self.bn_momentum,
                "bn_epsilon": self.bn_epsilon,
            }
        )
        return config
