"""Per-backbone input normalisation, as a layer inside the model graph."""

import keras
from keras import ops

# mode -> (channel order, scale applied first, mean, std) on 0..255 RGB input.
_MODES = {
    # Inception style: [-1, 1] (MobileNet, ResNetV2, Xception).
    "tf": ("rgb", 1.0 / 127.5, (1.0, 1.0, 1.0), (1.0, 1.0, 1.0)),
    # Caffe style: BGR, ImageNet means subtracted, no scaling (VGG, ResNet v1).
    "caffe": ("bgr", 1.0, (103.939, 116.779, 123.68), (1.0, 1.0, 1.0)),
    # Torch style: [0, 1] then ImageNet mean / std (DenseNet).
    "torch": ("rgb", 1.0 / 255.0, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    # The backbone normalises its own input (EfficientNet, ConvNeXt, MobileNetV3).
    "none": ("rgb", 1.0, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
}

_LUMA = (0.2989, 0.5870, 0.1140)  # tf.image.rgb_to_grayscale's weights


@keras.saving.register_keras_serializable(package="tfvision")
class ImageNormalization(keras.layers.Layer):
    """Maps 0..255 RGB images to the range a backbone was trained on.

    The data pipelines in tfvision yield float images in 0..255 and leave
    normalisation to the model, so that an exported SavedModel carries it in
    its graph and a client only ever sends plain pixels. The modes are those
    of `keras.applications.imagenet_utils.preprocess_input`:

    - `"tf"`: `x / 127.5 - 1` (MobileNetV2, ResNetV2, Xception).
    - `"caffe"`: RGB to BGR, then subtract the ImageNet channel means (VGG,
      ResNet v1).
    - `"torch"`: `(x / 255 - mean) / std` with the ImageNet mean and std
      (DenseNet).
    - `"none"`: identity, for backbones that normalise their own input
      (EfficientNet, ConvNeXt, MobileNetV3).

    With `grayscale=True` the images turn grey first (ITU-R 601 luma, the
    weights of `tf.image.rgb_to_grayscale`, in all three channels): for a
    model that learnt from grey images, so that colour it never saw in
    training does not reach it in use.

    Args:
        mode: str. One of `"tf"`, `"caffe"`, `"torch"`, `"none"`.
            Defaults to `"tf"`.
        grayscale: bool. Grey the images before normalising them.
            Defaults to `False`.
        **kwargs: base `keras.layers.Layer` arguments.

    Example:

    >>> layer = ImageNormalization("tf")
    >>> layer(keras.ops.convert_to_tensor([[[[0.0, 127.5, 255.0]]]])).numpy().tolist()
    [[[[-1.0, 0.0, 1.0]]]]
    """

    def __init__(self, mode="tf", grayscale=False, **kwargs):
        super().__init__(**kwargs)
        if mode not in _MODES:
            raise ValueError(
                f"`mode` must be one of {sorted(_MODES)}. Received: mode={mode!r}"
            )
        self.mode = mode
        self.grayscale = bool(grayscale)

    def call(self, inputs):
        order, scale, mean, std = _MODES[self.mode]
        x = ops.cast(inputs, self.compute_dtype)
        if self.grayscale:
            luma = ops.convert_to_tensor(_LUMA, x.dtype)
            x = ops.repeat(ops.sum(x * luma, axis=-1, keepdims=True), 3, axis=-1)
        if self.mode == "none":
            return x
        if order == "bgr":
            x = ops.flip(x, axis=-1)
        x = x * scale
        return (x - ops.convert_to_tensor(mean, x.dtype)) / ops.convert_to_tensor(
            std, x.dtype
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"mode": self.mode, "grayscale": self.grayscale})
        return config
