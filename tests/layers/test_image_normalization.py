import keras
import numpy as np
import pytest

from tests.testing import run_serialization_test
from tfvision.layers.image_normalization import ImageNormalization


@pytest.mark.parametrize(
    "mode, module",
    [
        ("tf", keras.applications.mobilenet_v2),
        ("caffe", keras.applications.vgg16),
        ("torch", keras.applications.densenet),
    ],
)
def test_matches_keras_applications_preprocessing(mode, module):
    images = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    expected = module.preprocess_input(images.copy())
    actual = keras.ops.convert_to_numpy(ImageNormalization(mode)(images))
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-4)


def test_none_is_identity():
    images = np.random.default_rng(1).uniform(0, 255, (1, 4, 4, 3)).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(ImageNormalization("none")(images)), images)


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="Received: mode='bgr'"):
        ImageNormalization("bgr")


def test_config_round_trip():
    revived = run_serialization_test(ImageNormalization("caffe", name="norm"))
    assert revived.mode == "caffe"


@pytest.mark.parametrize("mode", ["tf", "caffe", "torch"])
def test_grayscale_normalises_the_grey_image_of_tf_image(mode):
    import tensorflow as tf

    images = np.random.default_rng(2).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    grey = tf.tile(tf.image.rgb_to_grayscale(images), [1, 1, 1, 3]).numpy()
    layer = ImageNormalization(mode, grayscale=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(images)),
                               keras.ops.convert_to_numpy(ImageNormalization(mode)(grey)),
                               rtol=1e-5, atol=1e-3)
    assert run_serialization_test(layer).grayscale
