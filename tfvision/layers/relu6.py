"""ReLU6 activation layer."""

import keras


@keras.saving.register_keras_serializable(package="tfvision")
class ReLU6(keras.layers.Layer):
    """Rectified linear unit capped at 6.

    `ReLU6(x) = min(max(x, 0), 6)`, the activation of MobileNetV1/V2. It is
    computed by `keras.ops.relu6`, a single fused kernel (`tf.nn.relu6` on
    the TensorFlow backend) rather than a `relu` followed by a clip, which
    saves one elementwise pass forward and backward.

    Args:
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Returns:
        A tensor of the same shape and dtype as the input.

    References:
        - [Sandler et al., 2018. MobileNetV2: Inverted Residuals and Linear
          Bottlenecks](https://arxiv.org/abs/1801.04381)

    Example:

    ```python
    import numpy as np
    from tfvision.layers import ReLU6

    ReLU6()(np.array([-3.0, 0.5, 7.0]))  # [0.0, 0.5, 6.0]
    ```
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        return keras.ops.relu6(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape
