import numpy as np
import pytest
import tensorflow as tf

from tfvision.data.detection.boxes import pad_or_truncate_boxes, sanitize_boxes
from tfvision.data.detection.transforms import (
    crop_zoom,
    flip_boxes_horizontal,
    random_crop_zoom,
    random_flip_horizontal,
    random_lighting,
    random_rotation_with_boxes,
    resize,
)

HEIGHT, WIDTH = 120, 160  # not square: rotation must work in pixels
RECT = (30, 50, 70, 106)  # pixel y1, x1, y2, x2 (exclusive ends)


def _scene(rect=RECT):
    """A grey image with one red rectangle, its relative box and a padded label row."""
    image = np.full((HEIGHT, WIDTH, 3), 60, np.uint8)
    y1, x1, y2, x2 = rect
    image[y1:y2, x1:x2] = (255, 0, 0)
    box = [y1 / HEIGHT, x1 / WIDTH, y2 / HEIGHT, x2 / WIDTH]
    boxes = np.array([box, [0, 0, 0, 0]], np.float32)
    return image, boxes, np.array([3, -1], np.int32)


def _red_box(image):
    """Relative yxyx box of the red pixels, or None."""
    image = np.asarray(image)
    mask = (image[..., 0] > 150) & (image[..., 1] < 100) & (image[..., 2] < 100)
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return None
    h, w = mask.shape
    return np.array([ys.min() / h, xs.min() / w, (ys.max() + 1) / h, (xs.max() + 1) / w])


def _iou(a, b):
    inter_h = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    inter_w = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = inter_h * inter_w
    area = lambda box: (box[2] - box[0]) * (box[3] - box[1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def _pixels(box):
    return np.asarray(box) * [HEIGHT, WIDTH, HEIGHT, WIDTH]


def test_flip_keeps_the_box_on_its_object_both_ways():
    image, boxes, labels = _scene()
    flipped_seen = set()
    for i in range(8):
        out_image, out_boxes, out_labels = random_flip_horizontal(image, boxes, labels, [i, 7])
        box = out_boxes.numpy()[0]
        assert _iou(box, _red_box(out_image)) >= 0.99
        flipped_seen.add(bool(box[1] != boxes[0, 1]))
        np.testing.assert_array_equal(out_boxes.numpy()[1], 0.0)  # padding stays zero
        np.testing.assert_array_equal(out_labels, labels)
    assert flipped_seen == {True, False}


def test_flip_boxes_maps_x_to_one_minus_x():
    boxes = flip_boxes_horizontal(tf.constant([[0.1, 0.2, 0.5, 0.3]]), tf.constant([0]))
    np.testing.assert_allclose(boxes.numpy(), [[0.1, 0.7, 0.5, 0.8]], atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_rotation_box_contains_the_rotated_object(seed):
    image, boxes, labels = _scene()
    out_image, out_boxes, out_labels = random_rotation_with_boxes(
        image, boxes, labels, max_degrees=25, seed=[seed, 3]
    )
    box, red = _pixels(out_boxes.numpy()[0]), _pixels(_red_box(out_image))
    assert not np.allclose(box, _pixels(boxes[0]), atol=1.0)  # it did rotate
    # Contains the object (1 pixel of resampling tolerance) ...
    assert box[0] <= red[0] + 1 and box[1] <= red[1] + 1
    assert box[2] >= red[2] - 1 and box[3] >= red[3] - 1
    # ... and for a rectangle the rotated-corners box is tight.
    assert _iou(out_boxes.numpy()[0], _red_box(out_image)) >= 0.85
    np.testing.assert_array_equal(out_boxes.numpy()[1], 0.0)
    np.testing.assert_array_equal(out_labels, labels)


def test_rotation_clips_boxes_to_the_image():
    image, boxes, labels = _scene((0, 0, 60, 80))
    _, out_boxes, _ = random_rotation_with_boxes(image, boxes, labels, 20, seed=[5, 5])
    assert out_boxes.numpy().min() >= 0.0 and out_boxes.numpy().max() <= 1.0


@pytest.mark.parametrize(
    "window",
    [[0.25, 0.25, 0.75, 0.75], [-0.5, -0.5, 1.5, 1.5], [0.0, 0.3, 0.8, 1.1], [0.4, 0.5, 0.9, 1.0]],
)
def test_crop_zoom_moves_the_box_with_the_object(window):
    image, boxes, labels = _scene()
    out_image, out_boxes, _ = crop_zoom(image, boxes, labels, window)
    assert out_image.shape == (HEIGHT, WIDTH, 3)
    box = np.clip(out_boxes.numpy()[0], 0.0, 1.0)
    np.testing.assert_allclose(_pixels(box), _pixels(_red_box(out_image)), atol=1.5)


@pytest.mark.parametrize("seed", range(6))
def test_random_crop_zoom_moves_the_box_with_the_object(seed):
    image, boxes, labels = _scene()
    out_image, out_boxes, out_labels = random_crop_zoom(image, boxes, labels, seed=[seed, 11])
    kept, kept_labels, _ = sanitize_boxes(out_boxes, out_labels)
    red = _red_box(out_image)
    if kept_labels.numpy()[0] == -1:  # the object left the view (< 25 % visible)
        visible = 0.0 if red is None else (red[2] - red[0]) * (red[3] - red[1])
        assert visible < 0.25 * (40 * 56) / (HEIGHT * WIDTH) * 1.1
    else:
        np.testing.assert_allclose(_pixels(kept.numpy()[0]), _pixels(red), atol=1.5)
    np.testing.assert_array_equal(out_boxes.numpy()[1], 0.0)


def test_random_transforms_are_deterministic_with_a_seed():
    image, boxes, labels = _scene()
    for fn in (random_flip_horizontal, random_rotation_with_boxes, random_crop_zoom,
               random_lighting):
        a = fn(image, boxes, labels, seed=[4, 2])
        b = fn(image, boxes, labels, seed=[4, 2])
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x.numpy(), y.numpy())


def test_lighting_changes_pixels_not_boxes():
    image, boxes, labels = _scene()
    out_image, out_boxes, _ = random_lighting(image, boxes, labels, 0.3, 0.3, seed=[1, 2])
    out = out_image.numpy()
    assert out.dtype == np.float32 and out.min() >= 0.0 and out.max() <= 255.0
    assert np.abs(out - image).mean() > 1.0
    np.testing.assert_array_equal(out_boxes.numpy(), boxes)


def test_resize_keeps_relative_boxes():
    image, boxes, labels = _scene()
    out_image, out_boxes, _ = resize(image, boxes, labels, 64)
    assert out_image.shape == (64, 64, 3)
    np.testing.assert_array_equal(out_boxes.numpy(), boxes)
    np.testing.assert_allclose(_red_box(out_image), boxes[0], atol=1.5 / 64)


def test_sanitize_drops_bad_boxes_counts_them_and_compacts_the_rest():
    nan = float("nan")
    boxes = [
        [0.1, 0.1, 0.4, 0.5],  # valid
        [nan, 0.1, 0.4, 0.5],  # NaN
        [0.5, 0.1, 0.4, 0.5],  # inverted
        [0.2, 0.2, 0.2, 0.6],  # zero area
        [1.2, 1.2, 1.5, 1.5],  # outside
        [0.9, 0.9, 1.9, 1.9],  # 1 % visible
        [0.5, 0.5, 1.1, 1.1],  # 69 % visible: kept, clipped
        [0.30, 0.30, 0.305, 0.305],  # below min_area
        [0.6, 0.0, 0.9, 0.2],  # valid
        [0.0, 0.0, 0.0, 0.0],  # padding
    ]
    labels = [1, 2, 3, 4, 5, 6, 7, 0, 8, -1]
    out_boxes, out_labels, dropped = sanitize_boxes(boxes, labels)
    assert int(dropped) == 6
    np.testing.assert_array_equal(out_labels.numpy(), [1, 7, 8] + [-1] * 7)
    np.testing.assert_allclose(
        out_boxes.numpy()[:3], [[0.1, 0.1, 0.4, 0.5], [0.5, 0.5, 1.0, 1.0], [0.6, 0.0, 0.9, 0.2]],
        atol=1e-6,
    )
    np.testing.assert_array_equal(out_boxes.numpy()[3:], 0.0)


def test_sanitize_works_on_batches_and_images_without_boxes():
    boxes = np.zeros((2, 3, 4), np.float32)
    boxes[0, 1] = [0.2, 0.2, 0.6, 0.6]
    labels = np.array([[-1, 4, -1], [-1, -1, -1]], np.int32)
    out_boxes, out_labels, dropped = sanitize_boxes(boxes, labels)
    np.testing.assert_array_equal(out_labels.numpy(), [[4, -1, -1], [-1, -1, -1]])
    np.testing.assert_allclose(out_boxes.numpy()[0, 0], [0.2, 0.2, 0.6, 0.6])
    np.testing.assert_array_equal(out_boxes.numpy()[1], 0.0)
    np.testing.assert_array_equal(dropped.numpy(), [0, 0])


def test_pad_or_truncate_boxes():
    boxes, labels = pad_or_truncate_boxes(tf.zeros([0, 4]), tf.zeros([0], tf.int32), 3)
    assert boxes.shape == (3, 4) and labels.numpy().tolist() == [-1, -1, -1]
    boxes, labels = pad_or_truncate_boxes(tf.ones([5, 4]), tf.range(5), 2)
    assert boxes.shape == (2, 4) and labels.numpy().tolist() == [0, 1]


def test_transforms_trace_with_unknown_image_size():
    spec = (
        tf.TensorSpec([None, None, 3], tf.uint8),
        tf.TensorSpec([None, 4], tf.float32),
        tf.TensorSpec([None], tf.int32),
    )

    @tf.function(input_signature=spec)
    def augment(image, boxes, labels):
        seed = tf.constant([1, 2])
        image, boxes, labels = random_flip_horizontal(image, boxes, labels, seed)
        image, boxes, labels = random_rotation_with_boxes(image, boxes, labels, 5.0, seed)
        image, boxes, labels = random_crop_zoom(image, boxes, labels, seed=seed)
        image, boxes, labels = resize(image, boxes, labels, 48)
        return sanitize_boxes(boxes, labels)[:2] + (image,)

    image, boxes, labels = _scene()
    out_boxes, out_labels, out_image = augment(image, boxes, labels)
    assert out_image.shape == (48, 48, 3) and out_boxes.shape == (2, 4)
    assert out_labels.numpy()[1] == -1


def test_crop_that_leaves_the_object_out_drops_its_box():
    image, boxes, labels = _scene()
    out_image, out_boxes, out_labels = crop_zoom(image, boxes, labels, [0.0, 0.0, 0.3, 0.3])
    assert _red_box(out_image) is None
    _, kept_labels, dropped = sanitize_boxes(out_boxes, out_labels)
    assert kept_labels.numpy().tolist() == [-1, -1] and int(dropped) == 1
