import numpy as np

from tfvision.data import (
    SHAPE_CLASSES,
    generate_shapes,
    resize_short_side_and_center_crop,
    split_seed,
    synthetic_images,
)


def _first_batch(data):
    images, labels = next(iter(data.dataset))
    return images.numpy(), labels.numpy()


def test_eval_split_is_the_generated_images_centre_cropped():
    data = synthetic_images(12, "valid", image_size=48, batch_size=12, seed=3)
    assert data.class_names == list(SHAPE_CLASSES) == data.display_names
    assert data.num_examples == 12 and data.skipped == []
    images, labels = _first_batch(data)
    expected = generate_shapes(12, image_size=48, seed=split_seed(3, "valid"))
    assert images.shape == (12, 48, 48, 3) and images.dtype == np.float32
    assert labels.dtype == np.int32
    np.testing.assert_array_equal(labels, expected["class_label"])
    reference = resize_short_side_and_center_crop(expected["images"], 48).numpy()
    np.testing.assert_allclose(images, reference, atol=1e-3)


def test_multi_label_mode_gives_multi_hot_targets():
    data = synthetic_images(8, "test", image_size=32, batch_size=8, multi_label=True)
    _, labels = _first_batch(data)
    expected = generate_shapes(8, image_size=32, seed=split_seed(0, "test"))
    assert labels.shape == (8, len(SHAPE_CLASSES)) and labels.dtype == np.float32
    np.testing.assert_array_equal(labels, expected["multi_hot"])


def test_training_pipeline_is_seeded_and_reshuffles_each_epoch():
    first = synthetic_images(16, "train", image_size=32, batch_size=16, seed=5)
    second = synthetic_images(16, "train", image_size=32, batch_size=16, seed=5)
    images, labels = _first_batch(first)
    images_again, labels_again = _first_batch(second)
    np.testing.assert_array_equal(labels, labels_again)
    np.testing.assert_allclose(images, images_again, atol=1e-4)
    epoch_two_images, epoch_two_labels = _first_batch(first)  # a new iteration = a new epoch
    assert not np.allclose(images, epoch_two_images)
    np.testing.assert_array_equal(np.sort(labels), np.sort(epoch_two_labels))
    assert 0.0 <= images.min() and images.max() <= 255.0


def test_written_folder_and_in_memory_split_agree_on_class_ids(tmp_path):
    from tfvision.data import image_folder, write_image_folder

    write_image_folder(tmp_path, {"test": 12}, image_size=32, seed=4, image_format="png")
    folder = image_folder(tmp_path, "test", image_size=32, batch_size=12)
    memory = synthetic_images(12, "test", image_size=32, batch_size=12, seed=4)
    assert folder.class_names == memory.class_names == list(SHAPE_CLASSES)
    folder_images, folder_labels = _first_batch(folder)
    memory_images, memory_labels = _first_batch(memory)
    # Same images, listed by class in the folder: match them by pixels.
    order = np.argsort(memory_labels, kind="stable")
    np.testing.assert_array_equal(folder_labels, memory_labels[order])
    np.testing.assert_allclose(folder_images, memory_images[order], atol=1e-3)
