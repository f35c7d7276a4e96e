import numpy as np
import pytest
import tensorflow as tf

from tfvision.data.detection.mixing import mix_batch, mixup_batch, mosaic_batch
from tfvision.data.detection.pipeline import synthetic_detection

SIZE = 64
# Object k is a rectangle of colour COLOURS[k] (a corner of the RGB cube) with label k:
# a blend of two of them, or with the background, is near none of them.
COLOURS = np.array([[(k >> 2) & 1, (k >> 1) & 1, k & 1] for k in range(8)], np.float32) * 255
BACKGROUND = (90, 160, 200)
RECTS = [  # pixel y1, x1, y2, x2 (exclusive ends); two objects per image, not overlapping
    [(4, 6, 26, 30), (34, 38, 58, 60)],
    [(8, 36, 30, 58), (36, 4, 60, 28)],
    [(20, 20, 44, 44), (2, 2, 14, 60)],
    [(10, 10, 54, 24), (30, 30, 50, 62)],
]
MAX_BOXES = 3  # one padding row per image


def _batch():
    """Images `[4, S, S, 3]`, boxes `[4, 3, 4]`, labels `[4, 3]` of `RECTS`."""
    images = np.empty((len(RECTS), SIZE, SIZE, 3), np.float32)
    images[:] = BACKGROUND
    boxes = np.zeros((len(RECTS), MAX_BOXES, 4), np.float32)
    labels = np.full((len(RECTS), MAX_BOXES), -1, np.int32)
    for i, rects in enumerate(RECTS):
        for j, (y1, x1, y2, x2) in enumerate(rects):
            images[i, y1:y2, x1:x2] = COLOURS[2 * i + j]
            boxes[i, j] = np.array([y1, x1, y2, x2]) / SIZE
            labels[i, j] = 2 * i + j
    return images, boxes, labels


def _mask(image, label):
    return np.all(np.abs(image - COLOURS[label]) <= 40, axis=-1)


def _bounding_box(mask):
    ys, xs = np.nonzero(mask)
    return np.array([ys.min(), xs.min(), ys.max() + 1, xs.max() + 1], np.float32)


def _area(rect):
    return (rect[2] - rect[0]) * (rect[3] - rect[1])


def _check_padding(boxes, labels):
    valid = labels >= 0
    np.testing.assert_array_equal(boxes[~valid], 0.0)
    assert (np.diff(valid.astype(int), axis=1) <= 0).all()  # valid boxes first


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mosaic_keeps_every_visible_object_boxed_and_every_box_on_its_object(seed):
    images, boxes, labels = _batch()
    out_images, out_boxes, out_labels = (
        x.numpy() for x in mosaic_batch(images, boxes, labels, [seed, 5], probability=1.0)
    )
    assert out_images.shape == images.shape
    assert out_boxes.shape == (4, 4 * MAX_BOXES, 4) and out_labels.shape == (4, 4 * MAX_BOXES)
    _check_padding(out_boxes, out_labels)
    assert not np.array_equal(out_images, images)
    rects = [rect for image_rects in RECTS for rect in image_rects]
    kept = dropped = 0
    for image, image_boxes, image_labels in zip(out_images, out_boxes, out_labels):
        valid = image_labels >= 0
        assert len(set(image_labels[valid])) == valid.sum()  # 4 distinct images: each once
        for box, label in zip(image_boxes[valid], image_labels[valid]):
            mask = _mask(image, label)
            pixels = box * SIZE
            # The box is the object's visible part (1 pixel of resampling tolerance) ...
            np.testing.assert_allclose(pixels, _bounding_box(mask), atol=1.5)
            # ... and all of it is the object's colour.
            y1, x1, y2, x2 = np.round(pixels).astype(int) + [1, 1, -1, -1]
            if y2 > y1 and x2 > x1:
                assert mask[y1:y2, x1:x2].mean() >= 0.95
        for label in set(range(8)) - set(image_labels[valid]):
            # An object without a box shows less than a quarter of its area (scale <= 1),
            # up to a row and a column of blended edge pixels.
            rect = rects[label]
            allowance = (rect[2] - rect[0]) + (rect[3] - rect[1]) + 1
            assert _mask(image, label).sum() <= 0.25 * _area(rect) + allowance
        kept += valid.sum()
        dropped += 8 - valid.sum()
    assert kept >= 4 and dropped >= 4  # the seeds exercise both


def test_mosaic_has_no_seams_where_images_cover_their_quadrants():
    images, boxes, labels = _batch()
    for seed in range(3):
        out_images, _, _ = mosaic_batch(images, boxes, labels, [seed, 1], scale=(1.0, 1.0))
        fill = np.all(np.abs(out_images.numpy() - 127.5) < 3.0, axis=-1)
        assert fill.sum() == 0


def test_mixup_blends_two_images_and_keeps_both_box_lists():
    images, boxes, labels = _batch()
    out_images, out_boxes, out_labels = (
        x.numpy() for x in mixup_batch(images, boxes, labels, [3, 1], probability=1.0)
    )
    assert out_boxes.shape == (4, 2 * MAX_BOXES, 4) and out_labels.shape == (4, 2 * MAX_BOXES)
    _check_padding(out_boxes, out_labels)
    weights = []
    for i in range(4):
        valid = out_labels[i] >= 0
        assert valid.sum() == 4
        np.testing.assert_array_equal(out_labels[i, :2], labels[i, :2])  # its own boxes first
        partner = out_labels[i, 2] // 2
        assert partner != i
        np.testing.assert_array_equal(out_labels[i, 2:4], labels[partner, :2])
        np.testing.assert_array_equal(out_boxes[i, :4], np.concatenate(
            [boxes[i, :2], boxes[partner, :2]]))
        # out = w x_i + (1 - w) x_j for one w.
        difference = (images[i] - images[partner]).ravel()
        w = np.dot(out_images[i].ravel() - images[partner].ravel(), difference) / np.dot(
            difference, difference)
        np.testing.assert_allclose(
            out_images[i], w * images[i] + (1 - w) * images[partner], atol=1e-3)
        weights.append(w)
    assert all(0.3 < w < 0.7 for w in weights)  # Beta(32, 32)
    assert len(set(np.round(weights, 6))) == 4  # one weight per image


def test_probability_decides_per_image_and_zero_returns_the_batch_padded():
    images, boxes, labels = _batch()
    for fn, factor in ((mosaic_batch, 4), (mixup_batch, 2)):
        out_images, out_boxes, out_labels = fn(images, boxes, labels, [0, 0], probability=0.0)
        np.testing.assert_array_equal(out_images.numpy(), images)
        np.testing.assert_array_equal(out_boxes.numpy()[:, :MAX_BOXES], boxes)
        np.testing.assert_array_equal(out_boxes.numpy()[:, MAX_BOXES:], 0.0)
        np.testing.assert_array_equal(out_labels.numpy()[:, :MAX_BOXES], labels)
        np.testing.assert_array_equal(out_labels.numpy()[:, MAX_BOXES:], -1)
        assert out_labels.shape == (4, factor * MAX_BOXES)
        changed = []
        for seed in range(3):
            out_images, _, out_labels = fn(images, boxes, labels, [seed, 9], probability=0.5)
            for i in range(4):
                same = np.array_equal(out_images.numpy()[i], images[i])
                changed.append(not same)
                if same:
                    np.testing.assert_array_equal(out_labels.numpy()[i, :MAX_BOXES], labels[i])
                    np.testing.assert_array_equal(out_labels.numpy()[i, MAX_BOXES:], -1)
        assert any(changed) and not all(changed)
    with pytest.raises(ValueError, match="probability in"):
        mosaic_batch(images, boxes, labels, [0, 0], probability=1.5)


def test_same_seed_same_output_other_seed_other_output():
    images, boxes, labels = _batch()
    for fn in (mosaic_batch, mixup_batch):
        a, b, c = (fn(images, boxes, labels, seed) for seed in ([4, 2], [4, 2], [4, 3]))
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x.numpy(), y.numpy())
        assert not np.array_equal(a[0].numpy(), c[0].numpy())


def test_mix_batch_traces_with_unknown_batch_size_and_matches_eager():
    images, boxes, labels = _batch()

    @tf.function(
        input_signature=(
            tf.TensorSpec([None, SIZE, SIZE, 3], tf.float32),
            tf.TensorSpec([None, MAX_BOXES, 4], tf.float32),
            tf.TensorSpec([None, MAX_BOXES], tf.int32),
            tf.TensorSpec([], tf.bool),
        ),
        jit_compile=False,
    )
    def mix(images, boxes, labels, enabled):
        return mix_batch(images, boxes, labels, [7, 7], mosaic=1.0, mixup=0.5, enabled=enabled)

    graph = mix(images, boxes, labels, tf.constant(True))
    eager = mix_batch(images, boxes, labels, [7, 7], mosaic=1.0, mixup=0.5)
    assert graph[1].shape == (4, 8 * MAX_BOXES, 4)
    for x, y in zip(graph, eager):
        np.testing.assert_allclose(x.numpy(), y.numpy(), atol=1e-4)
    off_images, off_boxes, _ = mix(images, boxes, labels, tf.constant(False))
    np.testing.assert_array_equal(off_images.numpy(), images)
    np.testing.assert_array_equal(off_boxes.numpy()[:, :MAX_BOXES], boxes)


def _first_batch(data):
    images, targets = next(iter(data.dataset))
    return images.numpy(), targets["boxes"].numpy(), targets["labels"].numpy()


def test_pipeline_mosaic_gives_4_max_boxes_and_valid_targets():
    data = synthetic_detection(8, "train", image_size=48, batch_size=4, seed=0, mosaic=1.0)
    _, targets_spec = data.dataset.element_spec
    assert targets_spec["boxes"].shape == (4, 16, 4) and targets_spec["labels"].shape == (4, 16)
    both = synthetic_detection(8, "train", image_size=48, batch_size=4, mosaic=0.5, mixup=0.5)
    assert both.dataset.element_spec[1]["labels"].shape == (4, 32)
    evaluation = synthetic_detection(8, "valid", image_size=48, batch_size=4, mosaic=1.0)
    assert evaluation.dataset.element_spec[1]["labels"].shape == (None, 4)  # no mixing
    batches = list(data.dataset)
    assert len(batches) == 2
    most = 0
    for images, targets in batches:
        boxes, labels = targets["boxes"].numpy(), targets["labels"].numpy()
        assert images.shape == (4, 48, 48, 3)
        assert (boxes >= 0.0).all() and (boxes <= 1.0).all()
        _check_padding(boxes, labels)
        valid = labels >= 0
        assert (boxes[valid][:, 2] > boxes[valid][:, 0]).all()
        most = max(most, valid.sum(axis=1).max())
    assert most > 4  # a mosaic holds more objects than one image can
    with pytest.raises(ValueError, match="mixup"):
        synthetic_detection(8, mixup=-0.1)
    with pytest.raises(ValueError, match="mixing_epochs"):
        synthetic_detection(8, mosaic=0.5, mixing_epochs=-1)


def test_pipeline_mixing_stops_at_mixing_epochs():
    def data(**mixing):
        return synthetic_detection(8, "train", image_size=48, batch_size=4, seed=1, **mixing)

    plain, mixed = data(), data(mosaic=1.0, mixup=1.0, mixing_epochs=2)
    for epoch in (1, 2):
        plain.dataset.tfvision_epoch_seeds.set_epoch(epoch)
        mixed.dataset.tfvision_epoch_seeds.set_epoch(epoch)
        plain_images, plain_boxes, plain_labels = _first_batch(plain)
        images, boxes, labels = _first_batch(mixed)
        assert boxes.shape == (4, 32, 4)
        if epoch < 2:  # mixing on: another image, more boxes; the same batch when repeated
            assert not np.array_equal(images, plain_images)
            assert (labels >= 0).sum() > (plain_labels >= 0).sum()
            np.testing.assert_array_equal(images, _first_batch(mixed)[0])
        else:  # mixing off: the un-mixed batch of this epoch, its boxes padded
            np.testing.assert_array_equal(images, plain_images)
            np.testing.assert_array_equal(boxes[:, :4], plain_boxes)
            np.testing.assert_array_equal(labels[:, :4], plain_labels)
            np.testing.assert_array_equal(labels[:, 4:], -1)
