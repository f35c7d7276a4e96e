"""Backbones an ImageClassifier can stand on, by name.

`mobilenet_v2` is tfvision's own MobileNetV2; the other names build the
`keras.applications` model of that name. Each entry records the input
normalisation its ImageNet weights expect (see `ImageNormalization`).
"""

import keras

# name -> (keras.applications constructor name, or None for tfvision's own;
#          the normalisation mode its ImageNet weights expect)
BACKBONES = {
    "mobilenet_v2": (None, "tf"),
    "vgg16": ("VGG16", "caffe"),
    "vgg19": ("VGG19", "caffe"),
    "resnet50": ("ResNet50", "caffe"),
    "resnet50v2": ("ResNet50V2", "tf"),
    "densenet121": ("DenseNet121", "torch"),
    "efficientnetb0": ("EfficientNetB0", "none"),
    "efficientnetb1": ("EfficientNetB1", "none"),
    "efficientnetb2": ("EfficientNetB2", "none"),
    "mobilenet_v3_small": ("MobileNetV3Small", "none"),
    "mobilenet_v3_large": ("MobileNetV3Large", "none"),
    "convnext_tiny": ("ConvNeXtTiny", "none"),
}
# Batch-norm momentum of every backbone, as tfvision's own layers (PyTorch's
# 0.1): at keras.applications' 0.99 or 0.999 the moving statistics lag far
# behind weights trained from scratch, and inference mode scores at chance.
BN_MOMENTUM = 0.9


def normalization_mode(arch):
    """The `ImageNormalization` mode of backbone `arch`."""
    return _entry(arch)[1]


def build_backbone(arch, image_size, weights=None, alpha=1.0):
    """Builds a headless, globally average-pooled backbone.

    Args:
        arch: str. A key of `BACKBONES`.
        image_size: int. Side of the square input.
        weights: `None` (random), `"imagenet"`, or a path to a
            `.weights.h5` file of this backbone.
        alpha: float. Width multiplier, for `mobilenet_v2` only.
            Defaults to `1.0`.

    Every batch norm has momentum `BN_MOMENTUM` (0.9), `keras.applications`
    models included; momentum is not a weight, so their weights load as
    they are.

    Returns:
        A `keras.Model` mapping normalised images `[B, S, S, 3]` to
        features `[B, D]`.
    """
    app_name, _ = _entry(arch)
    if alpha != 1.0 and arch != "mobilenet_v2":
        raise ValueError(
            f"`alpha` applies to mobilenet_v2 only. Received: arch={arch!r}, "
            f"alpha={alpha}"
        )
    input_shape = (image_size, image_size, 3)
    if app_name is None:
        from tfvision.models.mobilenet_v2 import MobileNetV2

        return MobileNetV2(
            alpha=alpha,
            input_shape=input_shape,
            include_top=False,
            pooling="avg",
            weights=weights,
        )
    file_weights = weights not in (None, "imagenet")
    constructor = getattr(keras.applications, app_name)
    kwargs = {}
    if app_name.startswith("MobileNetV3"):
        kwargs["include_preprocessing"] = True
    try:
        model = constructor(
            include_top=False,
            weights=None if file_weights else weights,
            input_shape=input_shape,
            pooling="avg",
            **kwargs,
        )
    except Exception as error:  # Keras raises a bare Exception when offline.
        if weights == "imagenet":
            raise RuntimeError(
                f"Could not download the ImageNet weights of {app_name} "
                f"({error}). Keras caches them in ~/.keras/models/ (or "
                "$KERAS_HOME/models/): download them on a machine with "
                "internet access and copy that folder here, or pass "
                "weights=None / a .weights.h5 file."
            ) from error
        raise
    if file_weights:
        model.load_weights(weights)
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = BN_MOMENTUM
    return model


def _entry(arch):
    if arch not in BACKBONES:
        raise ValueError(
            f"Unknown backbone. Expected one of {sorted(BACKBONES)}. "
            f"Received: arch={arch!r}"
        )
    return BACKBONES[arch]
