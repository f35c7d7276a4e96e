"""MobileNetV2 backbone, weight-compatible with `keras.applications`."""

import os

import keras

from tfvision.layers import ConvBN, ImageNormalization, InvertedResidual, make_divisible

WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
)
IMAGENET_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
IMAGENET_SIZES = (96, 128, 160, 192, 224)
# Built-in weights shipped with tfvision (see `shapes_pretraining.py`).
SHAPES_WEIGHTS = os.path.join(
    os.path.dirname(__file__), "weights", "mobilenet_v2_0.35_shapes.weights.h5"
)
FEATURE_NAMES = ("stride_8", "stride_16", "stride_16_expanded", "stride_32", "final")


@keras.saving.register_keras_serializable(package="tfvision")
class MobileNetV2(keras.Model):
    """MobileNetV2 image classifier / feature extractor.

    The network of Sandler et al. (2018), Table 2: a 3x3 stride-2 stem, the
    inverted residual stages listed in `ARCHITECTURE`, a 1x1 convolution to
    1280 channels, and optionally global pooling and a dense classifier.
    Layer names and weight order follow `keras.applications.MobileNetV2`
    (`Conv1`, `expanded_conv`, `block_1` ... `block_16`, `Conv_1`,
    `predictions`), so `model.set_weights(reference.get_weights())` copies a
    `keras.applications` model exactly.

    Inputs are images scaled to `[-1, 1]`; `MobileNetV2.preprocess` maps
    `[0, 255]` pixels there.

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
            `shapes_pretraining.py`) or the path of a `.weights.h5` file.
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
        pyramid_outputs: dict of Keras tensors for detection heads:
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
            reference = _imagenet_reference(alpha, input_shape, include_top)
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

    def feature_extractor(self, names=None):
        """A model from the input images to a dict of pyramid features.

        Args:
            names: list of keys of `pyramid_outputs`, or `None` for all.
                Defaults to `None`.

        Returns:
            `keras.Model` sharing this backbone's layers and weights, whose
            output is `{name: [B, H / stride, W / stride, C]}`.
        """
        names = FEATURE_NAMES if names is None else tuple(names)
        unknown = [n for n in names if n not in self.pyramid_outputs]
        if unknown or not names:
            raise ValueError(
                f"`names` must be a non-empty subset of {FEATURE_NAMES}. "
                f"Received: names={names}"
            )
        outputs = {n: self.pyramid_outputs[n] for n in names}
        return keras.Model(self.input, outputs, name=f"{self.name}_features")

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
    if weights == "imagenet":
        if include_top and classes != 1000:
            raise ValueError(
                "ImageNet weights with `include_top=True` need 1000 classes. "
                f"Received: classes={classes}"
            )
        if alpha not in IMAGENET_ALPHAS:
            raise ValueError(
                f"ImageNet weights exist for alpha in {IMAGENET_ALPHAS}. "
                f"Received: alpha={alpha}"
            )
        if input_shape[-1] != 3:
            raise ValueError(
                "ImageNet weights need 3 input channels. "
                f"Received: input_shape={input_shape}"
            )
    elif weights == "shapes":
        if alpha != 0.35 or include_top or input_shape[-1] != 3:
            raise ValueError(
                "The built-in 'shapes' weights are for alpha=0.35, "
                "include_top=False, 3 channels. Received: "
                f"alpha={alpha}, include_top={include_top}, input_shape={input_shape}"
            )
    elif weights is not None and not os.path.exists(weights):
        raise ValueError(
            "`weights` must be None, 'imagenet', 'shapes' or the path of an existing "
            f"weights file. Received: weights={weights}"
        )


def _imagenet_reference(alpha, input_shape, include_top):
    """`keras.applications.MobileNetV2` with its ImageNet weights loaded.

    The weights file is fetched with `keras.utils.get_file` (from the Keras
    cache if present); an offline failure becomes an `OSError` that says
    which file is needed and where to put it.
    """
    rows, cols = input_shape[:2]
    size = rows if rows == cols and rows in IMAGENET_SIZES else 224
    suffix = "" if include_top else "_no_top"
    file_name = (
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_"
        f"{float(alpha)}_{size}{suffix}.h5"
    )
    try:
        path = keras.utils.get_file(
            file_name, WEIGHTS_URL + file_name, cache_subdir="models"
        )
    except Exception as error:  # get_file raises a bare Exception offline.
        cache = os.path.join(os.environ.get("KERAS_HOME", "~/.keras"), "models")
        raise OSError(
            f"Could not download the ImageNet weights file {file_name} "
            f"({error}). Keras caches it in {cache}/ ($KERAS_HOME/models, "
            "default ~/.keras/models/). On a machine with internet access, "
            f"download {WEIGHTS_URL + file_name} and copy it into that "
            "directory, or pass weights=PATH to a weights file instead."
        ) from error
    reference = keras.applications.MobileNetV2(
        input_shape=(size, size, 3),
        alpha=alpha,
        include_top=include_top,
        weights=None,
        classifier_activation=None,
    )
    reference.load_weights(path)
    return reference
