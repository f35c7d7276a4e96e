"""MobileNetV2 inverted residual block."""

import keras

from tfvision.layers.conv_bn import ConvBN


@keras.saving.register_keras_serializable(package="tfvision")
class InvertedResidual(keras.layers.Layer):
    """Inverted residual with linear bottleneck (MobileNetV2 block).

    Expand the thin input with a 1x1 convolution to `expansion` times its
    channels, filter it with a 3x3 depthwise convolution (which carries the
    stride), and project it back to `filters` channels with a linear 1x1
    convolution. The input is added to the output when the stride is 1 and
    the channel count is unchanged (paper Fig. 4b, Table 1). With
    `expansion=1` the expansion convolution does not exist at all, as in the
    first block of MobileNetV2.

    The sub-layers are created in `build` (the expansion width depends on
    the input channels) in the order expand, depthwise, project, which is
    the weight order of a `keras.applications.MobileNetV2` block.

    Args:
        filters: int. Output channels (the projection's width).
        expansion: int. Expansion factor `t`. Defaults to `6`.
        strides: int, `1` or `2`. Stride of the depthwise convolution.
            Defaults to `1`.
        bn_momentum: float. Batch-norm momentum. Defaults to `0.9` (PyTorch's
            0.1), fast enough for statistics to follow weights trained from scratch.
        bn_epsilon: float. Batch-norm epsilon. Defaults to `1e-3`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: tensor `[B, H, W, C]`.
        training: bool or `None`. Batch-norm mode.
        return_expanded: bool. Also return the expansion activation (the
            input itself when `expansion=1`), where SSDLite attaches its
            first head (paper section 6.2). Defaults to `False`.

    Returns:
        `outputs` `[B, H / strides, W / strides, filters]`, or
        `(outputs, expanded)` with `expanded` `[B, H, W, C * expansion]`
        when `return_expanded=True`.

    References:
        - [Sandler et al., 2018. MobileNetV2: Inverted Residuals and Linear
          Bottlenecks](https://arxiv.org/abs/1801.04381)

    Example:

    ```python
    import numpy as np
    from tfvision.layers import InvertedResidual

    block = InvertedResidual(24, expansion=6, strides=2)
    outputs, expanded = block(np.ones((1, 32, 32, 16)), return_expanded=True)
    outputs.shape  # (1, 16, 16, 24)
    expanded.shape  # (1, 32, 32, 96)
    ```
    """

    def __init__(
        self,
        filters,
        expansion=6,
        strides=1,
        bn_momentum=0.9,
        bn_epsilon=1e-3,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not (isinstance(filters, int) and filters > 0):
            raise ValueError(
                f"`filters` must be a positive integer. Received: filters={filters}"
            )
        if not (isinstance(expansion, int) and expansion >= 1):
            raise ValueError(
                "`expansion` must be an integer >= 1. "
                f"Received: expansion={expansion}"
            )
        if strides not in (1, 2):
            raise ValueError(f"`strides` must be 1 or 2. Received: strides={strides}")
        self.filters = filters
        self.expansion = expansion
        self.strides = strides
        self.bn_momentum = bn_momentum
        self.bn_epsilon = bn_epsilon
        self.expand = None
        self.depthwise = None
        self.project = None
        self.use_residual = None

    def build(self, input_shape):
        in_channels = input_shape[-1]
        if in_channels is None:
            raise ValueError(
                "The channel dimension of the inputs must be known. "
                f"Received: input_shape={input_shape}"
            )
        bn = dict(
            bn_momentum=self.bn_momentum,
            bn_epsilon=self.bn_epsilon,
            dtype=self.dtype_policy,
        )
        # === Layers === (created in weight order: expand, depthwise, project)
        if self.expansion > 1:
            # pw
            self.expand = ConvBN(in_channels * self.expansion, 1, name="expand", **bn)
            self.expand.build(input_shape)
            input_shape = self.expand.compute_output_shape(input_shape)
        # dw
        self.depthwise = ConvBN(
            None, 3, strides=self.strides, depthwise=True, name="depthwise", **bn
        )
        self.depthwise.build(input_shape)
        input_shape = self.depthwise.compute_output_shape(input_shape)
        # pw-linear
        self.project = ConvBN(self.filters, 1, activation=None, name="project", **bn)
        self.project.build(input_shape)
        self.use_residual = self.strides == 1 and in_channels == self.filters

    def call(self, inputs, training=None, return_expanded=False):
        expanded = inputs
        if self.expand is not None:
            expanded = self.expand(inputs, training=training)
        x = self.depthwise(expanded, training=training)
        x = self.project(x, training=training)
        if self.use_residual:
            x = inputs + x
        if return_expanded:
            return x, expanded
        return x

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "expansion": self.expansion,
                "strides": self.strides,
                "bn_momentum": self.bn_momentum,
                "bn_epsilon": self.bn_epsilon,
            }
        )
        return config
