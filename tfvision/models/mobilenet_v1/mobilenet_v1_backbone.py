"""MobileNetV1 backbone: `keras.applications.MobileNet` with named feature maps."""

import keras

from tfvision.models.backbones import Backbone, register_backbone
from tfvision.models.backbones.keras_applications import keras_application

# The last layer at each output stride: the pointwise convolution ending it (Table 1).
PYRAMID_LAYERS = {
    "stride_8": "conv_pw_5_relu",
    "stride_16": "conv_pw_11_relu",
    "stride_32": "conv_pw_13_relu",
}


@keras.saving.register_keras_serializable(package="tfvision")
class MobileNetV1(Backbone, keras.Model):
    """MobileNetV1 feature extractor: `keras.applications.MobileNet` as a `Backbone`.

    The network of Howard et al. (2017), Table 1, without its classifier: a
    3x3 stride-2 stem and 13 depthwise-separable blocks, four of them with
    stride 2. The layers are those of `keras.applications.MobileNet` (same
    names and weights, `"imagenet"` loads its ImageNet weights); this class
    adds the named feature maps a detector needs and a config, so the
    backbone saves and loads inside any task. Registered as `"mobilenet_v1"`.

    Inputs are images scaled to `[-1, 1]` (`normalization = "tf"`).

    Args:
        alpha: float. Width multiplier. Defaults to `1.0`.
        input_shape: tuple `(height, width, 3)`. Defaults to `(224, 224, 3)`.
        pooling: `None`, `"avg"` or `"max"`. Global pooling of the last map.
            Defaults to `None` (4D output).
        weights: `None` (random), `"imagenet"` (alpha 0.25, 0.5, 0.75 or 1.0)
            or the path of a `.weights.h5` file. Defaults to `None`.
        name: str. Model name. Defaults to `"mobilenet_v1"`.
        **kwargs: Base model keyword arguments (`trainable`, ...).

    Attributes:
        pyramid_outputs: dict of Keras tensors (see `Backbone`): `"stride_8"`
            (256·α channels), `"stride_16"` (512·α), `"stride_32"` and
            `"final"` (the same map, 1024·α).

    References:
        - [Howard et al., 2017. MobileNets: Efficient Convolutional Neural
          Networks for Mobile Vision Applications](https://arxiv.org/abs/1704.04861)

    Example:

    ```python
    import numpy as np
    from tfvision.models.mobilenet_v1 import MobileNetV1

    model = MobileNetV1(alpha=0.25, input_shape=(96, 96, 3), pooling="avg")
    model(np.zeros((2, 96, 96, 3))).shape  # (2, 256)
    features = model.feature_extractor(["stride_8", "stride_16"])(np.zeros((2, 96, 96, 3)))
    features["stride_16"].shape  # (2, 6, 6, 128)
    ```
    """

    def __init__(self, alpha=1.0, input_shape=(224, 224, 3), pooling=None, weights=None,
                 name="mobilenet_v1", **kwargs):
        input_shape = tuple(input_shape)
        if len(input_shape) != 3 or pooling not in (None, "avg", "max"):
            raise ValueError(
                "Expected input_shape (height, width, channels) and pooling None, 'avg' or "
                f"'max'. Received: input_shape={input_shape}, pooling={pooling!r}"
            )
        application = keras_application(
            "MobileNet", weights, input_shape=input_shape, alpha=alpha, include_top=False,
            pooling=pooling,
        )

        # === Functional Model ===
        super().__init__(inputs=application.input, outputs=application.output, name=name,
                         **kwargs)

        # === Config ===
        self.alpha = alpha
        self.input_shape_ = input_shape
        self.pooling = pooling
        features = {k: application.get_layer(v).output for k, v in PYRAMID_LAYERS.items()}
        self.pyramid_outputs = {**features, "final": features["stride_32"]}

    def get_config(self):
        # `weights` is left out: a saved model carries its own weights.
        return {
            "alpha": self.alpha,
            "input_shape": self.input_shape_,
            "pooling": self.pooling,
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@register_backbone("mobilenet_v1", width_multiplier=True)
def mobilenet_v1_backbone(image_size, weights=None, alpha=1.0, pooling="avg"):
    """`MobileNetV1` (`keras.applications.MobileNet`) with named feature maps."""
    return MobileNetV1(alpha, (image_size, image_size, 3), pooling=pooling, weights=weights)
