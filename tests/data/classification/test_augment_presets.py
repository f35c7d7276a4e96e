"""Augmentation presets: what `auto` picks, and what each preset does to real pipelines."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfvision.data.classification.augment_presets import PRESETS, augmentation_preset
from tfvision.data.classification.image_folder import image_folder
from tfvision.data.transforms import DEFAULT_CROP_FRACTION


def test_auto_is_none_from_scratch_light_on_small_images_and_standard_otherwise():
    assert augmentation_preset("auto", image_size=224).name == "standard"
    assert augmentation_preset("auto", image_size=224, from_scratch=True).name == "none"
    assert augmentation_preset("auto", image_size=64, from_scratch=True).name == "none"
    assert augmentation_preset("auto", image_size=64).name == "light"
    assert augmentation_preset("standard").crop_scale == (0.08, 1.0)
    assert augmentation_preset("standard").crop_fraction == DEFAULT_CROP_FRACTION
    assert augmentation_preset("light").crop_fraction == 1.0


def test_crop_scale_overrides_the_preset_and_bad_values_are_refused():
    assert augmentation_preset("light", crop_scale=(0.3, 0.9)).crop_scale == (0.3, 0.9)
    with pytest.raises(ValueError, match="augment"):
        augmentation_preset("heavy")
    with pytest.raises(ValueError, match="crop_scale"):
        augmentation_preset("light", crop_scale=(0.9, 0.3))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """One 40 x 40 image per class: a left-to-right ramp, so a flip shows."""
    root = tmp_path_factory.mktemp("presets")
    ramp = np.tile(np.linspace(0, 255, 40, dtype=np.uint8)[None, :, None], (40, 1, 3))
    for split in ("train", "valid"):
        for name in ("a", "b"):
            (root / split / name).mkdir(parents=True)
            Image.fromarray(ramp).save(root / split / name / "0.png")
    return str(root), ramp


def test_none_preset_trains_on_the_whole_unchanged_image(folder):
    root, ramp = folder
    data = image_folder(root, "train", image_size=40, batch_size=2, seed=0,
                        **PRESETS["none"].keywords())
    for _ in range(3):  # three epochs: never flipped, cropped or turned
        images, _ = next(iter(data.dataset))
        np.testing.assert_allclose(images.numpy(), np.stack([ramp, ramp]).astype(np.float32),
                                   atol=1e-3)


def test_light_preset_evaluates_the_whole_image_and_standard_crops_its_centre(folder):
    root, ramp = folder
    whole = image_folder(root, "valid", image_size=20, batch_size=2,
                         **PRESETS["light"].keywords())
    centre = image_folder(root, "valid", image_size=20, batch_size=2,
                          **PRESETS["standard"].keywords())
    expected_whole = tf.image.resize(ramp[None].astype(np.float32), [20, 20], antialias=True)
    np.testing.assert_allclose(next(iter(whole.dataset))[0][:1], expected_whole, atol=1e-3)
    # The centre crop loses the darkest and brightest columns of the ramp.
    centre_images = next(iter(centre.dataset))[0].numpy()
    assert centre_images[0, :, 0].mean() > expected_whole.numpy()[0, :, 0].mean() + 5
    assert centre_images[0, :, -1].mean() < expected_whole.numpy()[0, :, -1].mean() - 5


def test_flip_override_switches_the_mirror_on_and_off(folder):
    root, _ = folder

    def mirrored(image):  # the ramp runs dark to bright, left to right
        return image[:, :5].mean() > image[:, -5:].mean()

    seen = {}
    for flip in (True, False):
        keywords = augmentation_preset("none", flip=flip).keywords()
        data = image_folder(root, "train", image_size=40, batch_size=2, seed=0, **keywords)
        seen[flip] = [mirrored(image) for images, _ in data.dataset.repeat(8)
                      for image in images.numpy()]
    assert any(seen[True]) and not all(seen[True]), seen[True]
    assert not any(seen[False])
    assert not augmentation_preset("light", flip=False).flip
