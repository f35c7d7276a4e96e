import numpy as np
import tensorflow as tf

from tfvision.data.detection.pipeline import DetectionData, detection_batches, synthetic_detection
from tfvision.data.synthetic.shape_drawing import SHAPE_CLASSES
from tfvision.data.synthetic.scenes import generate_shapes, split_seed


def _check_batch(images, targets, batch, size, max_boxes, num_classes):
    assert images.shape == (batch, size, size, 3) and images.dtype == tf.float32
    assert targets["boxes"].shape == (batch, max_boxes, 4) and targets["boxes"].dtype == tf.float32
    assert targets["labels"].shape == (batch, max_boxes) and targets["labels"].dtype == tf.int32
    boxes, labels = targets["boxes"].numpy(), targets["labels"].numpy()
    assert images.numpy().min() >= 0.0 and images.numpy().max() <= 255.0
    assert ((labels >= -1) & (labels < num_classes)).all()
    assert (boxes >= 0.0).all() and (boxes <= 1.0).all()
    valid = labels >= 0
    np.testing.assert_array_equal(boxes[~valid], 0.0)
    assert (boxes[valid][:, 2] > boxes[valid][:, 0]).all()
    assert (boxes[valid][:, 3] > boxes[valid][:, 1]).all()
    # Valid boxes first: once padding starts it never stops.
    assert (np.diff(valid.astype(int), axis=1) <= 0).all()


def test_training_batches_have_static_shapes_and_valid_targets():
    data = synthetic_detection(20, "train", image_size=64, batch_size=8, seed=3)
    assert isinstance(data, DetectionData)
    assert data.class_names == list(SHAPE_CLASSES) and data.num_classes == len(SHAPE_CLASSES)
    assert data.num_examples == 20 and data.dropped_boxes == 0
    images_spec, targets_spec = data.dataset.element_spec
    assert images_spec.shape == (8, 64, 64, 3)
    assert targets_spec["boxes"].shape == (8, 4, 4) and targets_spec["labels"].shape == (8, 4)
    batches = list(data.dataset)
    assert len(batches) == 2  # one full epoch, the partial batch dropped in training
    for images, targets in batches:
        _check_batch(images, targets, 8, 64, 4, len(SHAPE_CLASSES))


def test_training_is_deterministic_with_a_seed_and_differs_between_seeds():
    def first(seed):
        data = synthetic_detection(8, image_size=48, batch_size=4, seed=seed)
        images, targets = next(iter(data.dataset))
        return images.numpy(), targets["boxes"].numpy()

    a, b, c = first(1), first(1), first(2)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_evaluation_keeps_order_and_the_generated_boxes():
    data = synthetic_detection(10, "valid", image_size=64, batch_size=4, max_boxes=6)
    shapes = generate_shapes(10, 64, split_seed(0, "valid"))
    batches = list(data.dataset)
    assert [len(images) for images, _ in batches] == [4, 4, 2]  # the whole epoch
    images = np.concatenate([images.numpy() for images, _ in batches])
    boxes = np.concatenate([targets["boxes"].numpy() for _, targets in batches])
    labels = np.concatenate([targets["labels"].numpy() for _, targets in batches])
    np.testing.assert_allclose(images, shapes["images"].astype(np.float32), atol=1e-3)
    np.testing.assert_allclose(boxes[:, :4], shapes["boxes"], atol=1e-6)
    np.testing.assert_array_equal(labels[:, :4], shapes["labels"])
    np.testing.assert_array_equal(labels[:, 4:], -1)  # padded from 4 to max_boxes=6


def test_pipeline_handles_bad_boxes_empty_images_other_sizes_and_truncation():
    nan = float("nan")
    images = [np.full((50, 70, 3), 9, np.uint8), np.full((30, 30, 3), 200, np.uint8)]
    boxes = np.array(
        [
            [[nan, 0, 1, 1], [0.1, 0.1, 0.5, 0.5], [0.2, 0.2, 0.6, 0.6], [0.3, 0.3, 0.7, 0.7]],
            [[0, 0, 0, 0]] * 4,
        ],
        np.float32,
    )
    labels = np.array([[1, 2, 3, 4], [-1, -1, -1, -1]], np.int32)
    examples = tf.data.Dataset.from_generator(
        lambda: zip(images, boxes, labels),
        output_signature=(
            tf.TensorSpec([None, None, 3], tf.uint8),
            tf.TensorSpec([4, 4], tf.float32),
            tf.TensorSpec([4], tf.int32),
        ),
    )
    for training in (False, True):
        dataset = detection_batches(
            examples, lambda image: image, 32, 2, training, max_boxes=2, seed=0,
            drop_remainder=True, shuffle=False,
        )
        (batch_images, targets), = list(dataset)
        _check_batch(batch_images, targets, 2, 32, 2, 5)
        np.testing.assert_array_equal(targets["labels"].numpy()[1], [-1, -1])
        if not training:  # NaN box dropped, the next two kept, the last truncated
            np.testing.assert_array_equal(targets["labels"].numpy()[0], [2, 3])
            np.testing.assert_allclose(targets["boxes"].numpy()[0], boxes[0, 1:3])

