"""`keras.applications` models as backbones: pooled features, by name.

Each entry records the input normalisation its ImageNet weights expect (see
`ImageNormalization`). These models give pooled features only, for the
classifier and MoCo; backbones with named feature maps for the detector are
tfvision classes (`MobileNetV2`, `MobileNetV1`).
"""

import functools

import keras

from tfvision.models.backbones.registry import register_backbone

# name -> (keras.applications constructor, the normalisation its ImageNet weights expect)
KERAS_APPLICATIONS = {
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
# Batch-norm momentum of every keras.applications backbone, as tfvision's own layers
# (PyTorch's 0.1): at Keras' 0.99 or 0.999 the moving statistics lag far behind
# weights trained from scratch, and inference mode scores at chance. Momentum is
# not a weight, so ImageNet weights load as they are.
BN_MOMENTUM = 0.9


def keras_application(app_name, weights=None, **kwargs):
    """`keras.applications.<app_name>(weights=..., **kwargs)`, with a clear offline error.

    Args:
        app_name: str. A `keras.applications` constructor, such as `"ResNet50"`.
        weights: `None`, `"imagenet"` or a `.weights.h5` path (loaded after
            building). Defaults to `None`.
        **kwargs: the constructor's other arguments.

    Returns:
        The `keras.Model`, every batch norm at momentum `BN_MOMENTUM`.
    """
    file_weights = weights not in (None, "imagenet")
    constructor = getattr(keras.applications, app_name)
    try:
        model = constructor(weights=None if file_weights else weights, **kwargs)
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


def build_keras_application(app_name, image_size, weights=None, alpha=1.0, pooling="avg"):
    """A headless `keras.applications` model at `image_size` (the registered builder)."""
    kwargs = {"include_preprocessing": True} if app_name.startswith("MobileNetV3") else {}
    return keras_application(app_name, weights, include_top=False,
                             input_shape=(image_size, image_size, 3), pooling=pooling, **kwargs)


for _name, (_app_name, _normalization) in KERAS_APPLICATIONS.items():
    register_backbone(_name, _normalization)(
        functools.partial(build_keras_application, _app_name)
    )
