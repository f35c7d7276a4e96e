"""MobileNetV2 backbone, weight-compatible with `keras.applications`."""

import keras

from tfvision.layers import ConvBN, ImageNormalization, InvertedResidual, make_divisible
from tfvision.models.backbones import Backbone, register_backbone
from tfvision.models.mobilenet_v2.mobilenet_v2_weights import (
    SHAPES_WEIGHTS,
    imagenet_reference,
    validate_weights,
)

FEATURE_NAMES = ("stride_8", "stride_16", "stride_16_expanded", "stride_32", "final")


@keras.saving.register_keras_serializable(package="tfvision")
class MobileNetV2(Backbone, keras.Model):
    """MobileNetV2 image classifier / feature extractor.

    The network of Sandler et al. (2018), Table 2: a 3x3 stride-2 stem, the
    inverted residual stages listed in `ARCHITECTURE`, a 1x1 convolution to
    1280 channels, and optionally global pooling and a dense classifier.
    Layer names and weight order follow `keras.applications.MobileNetV2`
    (`Conv1`, `expanded_conv`, `block_1` ... `block_16`, `Conv_1`,
    `predictions`), so `model.set_weights(reference.get_weights())` copies a
    `keras.applications` model exactly.

    Inputs are images scaled to `[-1, 1]` (`normalization = "tf"`);
    `MobileNetV2.preprocess` maps `[0, 255]` pixels there. Without its top,
    it is a `Backbone`, registered as `"mobilenet_v2"`.

    Args:
        alpha: float. Width multiplier; scales every layer's channels.
            Defaults to `1.0`.
        input_shape: tuple `(height, width, 3)`; spatial sizes may be `None`.
            Defaults to `(224, 224, 3)`.
        include_top: bool. Add global average pooling and the classifier.
            Defaults to `True`.
        classes: int. Number of classes of the classifier.
            Defaults to `1000`.
        pooling: `None`, `"avg"` or `"max"`. Global pooling of the features
            when `include_top=False`. Defaults to `None` (4D output).
        weights: `None` (random), `"imagenet"` (the `keras.applications`
            ImageNet weights), `"shapes"` (tfvision's built-in weights for
            alpha 0.35 without top, pretrained on generated shapes scenes; see
            `tfvision/recipes/shapes_pretraining.py`) or the path of a `.weights.h5` file.
            Defaults to `None`.
        classifier_activation: activation of the classifier, or `None` for
            logits. Defaults to `"softmax"`.
        bn_momentum: float. Batch-norm momentum of every block. Defaults
            to `0.9` (PyTorch's 0.1, torchvision's MobileNetV2): at
            `keras.applications`' 0.999 the moving statistics lag so far
            behind weights trained from scratch that inference is at chance.
            Momentum is not a weight, so ImageNet weights load either way.
        name: str. Model name. Defaults to `"mobilenet_v2"`.
        **kwargs: Base model keyword arguments (`trainable`, ...).

    Attributes:
        pyramid_outputs: dict of Keras tensors for detection heads (see `Backbone`):
            `"stride_8"` (32·α channels), `"stride_16"` (96·α),
            `"stride_16_expanded"` (block 13's expansion, 576·α; SSDLite's
            first feature), `"stride_32"` (320·α) and `"final"` (1280).

    References:
        - [Sandler et al., 2018. MobileNetV2: Inverted Residuals and Linear
          Bottlenecks](https://arxiv.org/abs/1801.04381)

    Example:

    ```python
    import numpy as np
    from tfvision.models.mobilenet_v2 import MobileNetV2

    model = MobileNetV2(alpha=0.35, input_shape=(96, 96, 3), classes=10)
    images = MobileNetV2.preprocess(np.random.uniform(0, 255, (2, 96, 96, 3)))
    model(images).shape  # (2, 10)
    features = model.feature_extractor(["stride_16", "stride_32"])(images)
    features["stride_32"].shape  # (2, 3, 3, 112)
    ```
    """

    # t, c, n, s: expansion, output channels, repeats, first stride (Table 2).
    ARCHITECTURE = (
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    )

    def __init__(
        self,
        alpha=1.0,
        input_shape=(224, 224, 3),
        include_top=True,
        classes=1000,
        pooling=None,
        weights=None,
        classifier_activation="softmax",
        bn_momentum=0.9,
        name="mobilenet_v2",
        **kwargs,
    ):
        _validate(alpha, input_shape, include_top, classes, pooling, weights)
        input_shape = tuple(input_shape)

        # === Layers ===
        stem = ConvBN(
            make_divisible(32 * alpha), 3, strides=2, bn_momentum=bn_momentum, name="Conv1"
        )
        blocks, block_strides = [], []
        for t, c, n, s in self.ARCHITECTURE:
            # Like keras.applications: truncate c * alpha before rounding.
            filters = make_divisible(int(c * alpha))
            for i in range(n):
                name_i = f"block_{len(blocks)}" if blocks else "expanded_conv"
                stride = s if i == 0 else 1
                blocks.append(
                    InvertedResidual(filters, t, stride, bn_momentum=bn_momentum, name=name_i)
                )
                block_strides.append(stride)
        # The paper keeps the last conv at 1280 channels when alpha < 1.
        last_filters = make_divisible(1280 * alpha) if alpha > 1.0 else 1280
        head = ConvBN(last_filters, 1, bn_momentum=bn_momentum, name="Conv_1")

        # === Functional Model ===
        inputs = keras.Input(shape=input_shape, name="images")
        x = stem(inputs)
        stride, features = 2, {}
        for block, block_stride in zip(blocks, block_strides):
            x, expanded = block(x, return_expanded=True)
            if block_stride == 2:
                features[f"stride_{stride}_expanded"] = expanded
            stride *= block_stride
            features[f"stride_{stride}"] = x
        x = features["final"] = head(x)
        if include_top:
            x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
            x = keras.layers.Dense(
                classes, activation=classifier_activation, name="predictions"
            )(x)
        elif pooling == "avg":
            x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        elif pooling == "max":
            x = keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
        super().__init__(inputs=inputs, outputs=x, name=name, **kwargs)

        # === Config ===
        self.alpha = alpha
        self.input_shape_ = input_shape
        self.include_top = include_top
        self.classes = classes
        self.pooling = pooling
        self.classifier_activation = classifier_activation
        self.bn_momentum = bn_momentum
        self.pyramid_outputs = {k: features[k] for k in FEATURE_NAMES}

        if weights == "imagenet":
            reference = imagenet_reference(alpha, input_shape, include_top)
            self.set_weights(reference.get_weights())
        elif weights == "shapes":
            self.load_weights(SHAPES_WEIGHTS)
        elif weights is not None:
            self.load_weights(weights)

    @staticmethod
    def preprocess(images):
        """Scale `[0, 255]` pixels to `[-1, 1]`, the range the model expects.

        The same mapping as `ImageNormalization("tf")`, which tasks put in
        their graph.

        Args:
            images: tensor `[..., H, W, 3]` of pixel values in `[0, 255]`.

        Returns:
            float32 tensor of the same shape, `images / 127.5 - 1`.
        """
        return ImageNormalization("tf", dtype="float32")(images)

    def get_config(self):
        activation = self.classifier_activation
        if callable(activation):
            activation = keras.activations.serialize(activation)
        # `weights` is left out: a saved model carries its own weights.
        return {
            "alpha": self.alpha,
            "input_shape": self.input_shape_,
            "include_top": self.include_top,
            "classes": self.classes,
            "pooling": self.pooling,
            "classifier_activation": activation,
            "bn_momentum": self.bn_momentum,
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _validate(alpha, input_shape, include_top, classes, pooling, weights):
    """Raise `ValueError` for arguments `MobileNetV2` cannot build."""
    if not alpha > 0:
        raise ValueError(f"`alpha` must be positive. Received: alpha={alpha}")
    if len(input_shape) != 3:
        raise ValueError(
            "`input_shape` must be (height, width, channels). "
            f"Received: input_shape={input_shape}"
        )
    if include_top and not (isinstance(classes, int) and classes > 0):
        raise ValueError(
            f"`classes` must be a positive integer. Received: classes={classes}"
        )
    if pooling not in (None, "avg", "max"):
        raise ValueError(
            f"`pooling` must be None, 'avg' or 'max'. Received: pooling={pooling}"
        )
    validate_weights(weights, alpha, input_shape, include_top, classes)


@register_backbone("mobilenet_v2", width_multiplier=True)
def mobilenet_v2_backbone(image_size, weights=None, alpha=1.0, pooling="avg", **kwargs):
    """tfvision's `MobileNetV2` without its top; `**kwargs` such as `bn_momentum`."""
    return MobileNetV2(alpha, (image_size, image_size, 3), include_top=False, pooling=pooling,
                       weights=weights, **kwargs)
