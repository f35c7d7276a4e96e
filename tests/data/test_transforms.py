import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfvision.data import (
    random_crop_window,
    random_resized_crop,
    random_rotation,
    resize_short_side_and_center_crop,
    rotate,
    training_transform,
)


def _smooth_image(height, width, seed=0):
    """A smooth random RGB image (upsampled noise), uint8 [H, W, 3]."""
    small = np.random.default_rng(seed).integers(0, 256, (6, 4, 3)).astype(np.uint8)
    return np.asarray(Image.fromarray(small).resize((width, height), Image.BICUBIC))


@pytest.mark.parametrize("height, width", [(300, 200), (600, 400)])
def test_eval_transform_matches_pil_resize_and_center_crop(height, width):
    image = _smooth_image(height, width)
    out = resize_short_side_and_center_crop(image, 224)
    assert out.shape == (224, 224, 3) and out.dtype == tf.float32
    # Short side 200 (or 400) -> 256, long side -> 384; centre crop starts at (80, 16).
    reference = Image.fromarray(image).resize((256, 384), Image.BILINEAR).crop((16, 80, 240, 304))
    difference = np.abs(out.numpy() - np.asarray(reference, np.float32))
    assert difference.max() <= 1.0  # PIL rounds to uint8
    assert difference.mean() < 0.5


def test_eval_transform_is_an_exact_centre_crop_when_no_resize_is_needed():
    image = np.random.default_rng(1).integers(0, 256, (256, 320, 3)).astype(np.uint8)
    out = resize_short_side_and_center_crop(image, 224)
    np.testing.assert_array_equal(out.numpy(), image[16:240, 48:272].astype(np.float32))


def test_eval_transform_on_batches_and_in_a_graph_with_unknown_size():
    batch = resize_short_side_and_center_crop(tf.zeros([2, 90, 120, 3]), 64)
    assert batch.shape == (2, 64, 64, 3)
    traced = tf.function(
        lambda image: resize_short_side_and_center_crop(image, 64),
        input_signature=[tf.TensorSpec([None, None, 3], tf.uint8)],
    )
    assert traced.get_concrete_function().structured_outputs.shape == (64, 64, 3)
    assert traced(tf.zeros([50, 130, 3], tf.uint8)).shape == (64, 64, 3)
    with pytest.raises(ValueError, match="Received: crop_fraction=1.5"):
        resize_short_side_and_center_crop(tf.zeros([8, 8, 3]), 4, crop_fraction=1.5)


def test_random_crop_window_stays_inside_and_follows_scale_and_ratio():
    windows = np.stack(
        [random_crop_window(tf.constant([300, 200, 3]), seed=[i, 0]).numpy() for i in range(100)]
    )
    top, left, height, width = windows.T
    assert np.all((top >= 0) & (left >= 0) & (height >= 1) & (width >= 1))
    assert np.all((top + height <= 300) & (left + width <= 200))
    area = height * width / (300 * 200)
    assert area.min() >= 0.08 - 0.01 and area.max() <= 1.0
    ratio = width / height
    full = (height == 300) & (width == 200)  # the fallback after 10 failed attempts
    assert np.all((ratio[~full] >= 0.75 - 0.02) & (ratio[~full] <= 4 / 3 + 0.02))
    assert len(np.unique(windows, axis=0)) > 90
    same = random_crop_window(tf.constant([300, 200, 3]), seed=[5, 0]).numpy()
    np.testing.assert_array_equal(same, windows[5])


def test_random_resized_crop_resizes_its_window():
    image = _smooth_image(120, 90).astype(np.float32)
    seed = tf.constant([3, 4])
    out = random_resized_crop(image, 48, scale=(0.2, 0.5), seed=seed)
    assert out.shape == (48, 48, 3)
    top, left, height, width = random_crop_window(tf.shape(image), (0.2, 0.5), seed=seed).numpy()
    assert 0.2 - 0.01 <= height * width / (120 * 90) <= 0.5 + 0.01
    window = image[top : top + height, left : left + width]
    expected = tf.image.resize(window, [48, 48], antialias=True)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), atol=1e-4)


def test_rotate_by_90_degrees_is_rot90_and_by_0_is_identity():
    image = np.random.default_rng(2).uniform(0, 255, (9, 9, 3)).astype(np.float32)
    np.testing.assert_allclose(rotate(image, 90.0).numpy(), np.rot90(image), atol=1e-3)
    np.testing.assert_allclose(rotate(image, 0.0).numpy(), image, atol=1e-3)


def test_random_rotation_changes_pixels_and_keeps_shape():
    image = _smooth_image(60, 40)
    out = random_rotation(image, 30.0, seed=[1, 2])
    assert out.shape == (60, 40, 3) and out.dtype == tf.float32
    assert np.abs(out.numpy() - image).mean() > 1.0
    # Constant fill: the corners of a rotated white image become black, the centre stays white.
    white = np.full((41, 41, 3), 255.0, np.float32)
    rotated = rotate(white, 30.0, fill_mode="constant").numpy()
    assert rotated[0, 0].max() == 0.0 and rotated[20, 20].min() == pytest.approx(255.0)
    with pytest.raises(ValueError, match="Received: fill_mode='mirror'"):
        rotate(white, 10.0, fill_mode="mirror")


def test_training_transform_flips_about_half_the_time_and_keeps_shape():
    image = _smooth_image(64, 64).astype(np.float32)
    flips = []
    for i in range(16):
        out = training_transform(image, 64, [i, 9], rotation_degrees=0, scale=(1, 1), ratio=(1, 1))
        assert out.shape == (64, 64, 3)
        if np.allclose(out.numpy(), image, atol=1e-3):
            flips.append(False)
        else:
            np.testing.assert_allclose(out.numpy(), image[:, ::-1], atol=1e-3)
            flips.append(True)
    assert 0 < sum(flips) < 16


def test_training_transform_is_reproducible_for_a_seed():
    image = _smooth_image(80, 70)
    first = training_transform(image, 32, seed=[7, 7]).numpy()
    np.testing.assert_array_equal(first, training_transform(image, 32, seed=[7, 7]).numpy())
    assert not np.allclose(first, training_transform(image, 32, seed=[7, 8]).numpy())
    assert 0.0 <= first.min() and first.max() <= 255.0
