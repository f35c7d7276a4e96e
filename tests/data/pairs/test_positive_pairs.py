import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from tfvision.data import (
    PairAugmentation,
    augment_view,
    positive_pairs_dataset,
    positive_pairs,
    write_image_folder,
)
from tfvision.data.pairs.augmentation import SHAPES_AUGMENTATION, gaussian_blur, view_augmentation

NOTHING = PairAugmentation(
    crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), rotation_probability=0.0,
    blur_probability=0.0, color_jitter_probability=0.0, grayscale_probability=0.0,
    flip_probability=0.0,
)


def _image(seed=0, size=32):
    return np.random.default_rng(seed).uniform(0, 255, (size, size, 3)).astype("float32")


def test_shapes_pairs_are_two_different_views_and_reproducible():
    pairs, count = positive_pairs_dataset("shapes", 32, 8, num_images=16, seed=3)
    batches = [(a.numpy(), b.numpy()) for a, b in pairs]
    assert count == 16 and len(batches) == 2
    view_1, view_2 = batches[0]
    assert view_1.shape == view_2.shape == (8, 32, 32, 3) and view_1.dtype == np.float32
    assert 0.0 <= view_1.min() and view_1.max() <= 255.0
    assert np.abs(view_1 - view_2).mean() > 5.0  # independent augmentations
    again, _ = positive_pairs_dataset("shapes", 32, 8, num_images=16, seed=3)
    np.testing.assert_array_equal(next(iter(again))[0].numpy(), view_1)


def test_with_every_probability_zero_both_views_are_the_image():
    image = _image()
    pairs = positive_pairs(tf.data.Dataset.from_tensors(image), lambda x: x, 32, 1,
                           augmentation=NOTHING, seed=0)
    view_1, view_2 = next(iter(pairs))
    np.testing.assert_allclose(view_1.numpy()[0], image, atol=1e-3)
    np.testing.assert_allclose(view_2.numpy()[0], image, atol=1e-3)


@pytest.mark.parametrize(
    "change, check",
    [
        (dict(flip_probability=1.0), lambda v, x: np.allclose(v, x[:, ::-1], atol=1e-3)),
        (dict(grayscale_probability=1.0),
         lambda v, x: np.allclose(v[..., 0], v[..., 1]) and np.allclose(
             v[..., 0], x @ np.array([0.2989, 0.587, 0.114]), atol=0.5)),
        (dict(color_jitter_probability=1.0), lambda v, x: not np.allclose(v, x, atol=1.0)),
        (dict(rotation_probability=1.0), lambda v, x: not np.allclose(v, x, atol=1.0)),
        (dict(blur_probability=1.0), lambda v, x: v.std() < x.std()),
    ],
)
def test_each_augmentation_applies_with_probability_one(change, check):
    import dataclasses

    image = _image(1)
    view = augment_view(image, 32, seed=[4, 5],
                        augmentation=dataclasses.replace(NOTHING, **change)).numpy()
    assert check(view, image)


def test_view_augmentation_changes_only_the_given_settings():
    assert view_augmentation("shapes") == SHAPES_AUGMENTATION
    assert view_augmentation("images/") == PairAugmentation()
    changed = view_augmentation("images/", crop_scale=[0.5, 1.0], grayscale_probability=1.0,
                                rotation_degrees=0, flip=False)
    assert changed == PairAugmentation(crop_scale=(0.5, 1.0), grayscale_probability=1.0,
                                       rotation_degrees=0.0, flip_probability=0.0)
    assert view_augmentation("shapes", flip=False).hue == SHAPES_AUGMENTATION.hue


@pytest.mark.parametrize("change, message", [
    (dict(crop_scale=(0.0, 1.0)), "crop_scale=(0.0, 1.0)"),
    (dict(crop_scale=(0.8, 0.5)), "crop_scale=(0.8, 0.5)"),
    (dict(rotation_degrees=-5.0), "rotation_degrees=-5.0"),
    (dict(grayscale_probability=1.5), "grayscale_probability=1.5"),
])
def test_bad_view_settings_are_clear_errors(change, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        PairAugmentation(**change)


def test_gaussian_blur_equals_numpy_reference():
    image = _image(2, size=12)
    sigma, size = 1.3, 5
    offsets = np.arange(-2, 3)
    weights = np.exp(-(offsets**2) / (2 * sigma**2))
    weights /= weights.sum()
    padded = np.pad(image, ((2, 2), (2, 2), (0, 0)), mode="reflect")
    rows = sum(w * padded[i : i + 12] for i, w in enumerate(weights))
    expected = sum(w * rows[:, i : i + 12] for i, w in enumerate(weights))
    np.testing.assert_allclose(gaussian_blur(image, sigma, size).numpy(), expected, atol=1e-3)


def test_image_folder_pairs_and_bad_input(tmp_path):
    write_image_folder(tmp_path / "shapes", counts={"train": 12}, image_size=40, seed=0)
    (tmp_path / "shapes" / "train" / "circle" / "broken.jpg").write_bytes(b"not an image")
    with pytest.warns(UserWarning, match="Skipped 1 of 13 image files"):
        pairs, count = positive_pairs_dataset(str(tmp_path / "shapes"), 32, 4, seed=0)
    view_1, view_2 = next(iter(pairs))
    assert count == 12 and view_1.shape == (4, 32, 32, 3) and view_2.shape == (4, 32, 32, 3)
    with pytest.raises(FileNotFoundError, match="Image folder not found"):
        positive_pairs_dataset(str(tmp_path / "missing"), 32, 4)
    with pytest.raises(ValueError, match="blur_probability"):
        PairAugmentation(blur_probability=1.5)


def test_tfds_cifar10_pairs_with_mock_data():
    with tfds.testing.mock_data(num_examples=8):
        pairs, count = positive_pairs_dataset("tfds:cifar10", 32, 4, seed=0)
        batches = [(a.numpy(), b.numpy()) for a, b in pairs]
    assert count == 8 and len(batches) == 2
    assert batches[0][0].shape == (4, 32, 32, 3)
