"""MobileNetV2's weights: ImageNet (`keras.applications` files) and the built-in shapes file."""

import os

import keras

WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
)
IMAGENET_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
IMAGENET_SIZES = (96, 128, 160, 192, 224)
# Built-in weights shipped with tfvision (see `tfvision/recipes/shapes_pretraining.py`).
SHAPES_WEIGHTS = os.path.join(
    os.path.dirname(__file__), "weights", "mobilenet_v2_0.35_shapes.weights.h5"
)


def validate_weights(weights, alpha, input_shape, include_top, classes):
    """Raise `ValueError` for `weights` MobileNetV2 cannot load for these arguments."""
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


def imagenet_reference(alpha, input_shape, include_top):
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
