import socket

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from tfvision.data import detection_data
from tfvision.data.detection.voc_tfds import voc_detection

VOC_FIRST = ["aeroplane", "bicycle", "bird", "boat", "bottle"]

# Known VOC-format examples: image size, objects as (relative yxyx box, label, is_difficult).
EXAMPLES = [
    ((40, 60), [((0.1, 0.2, 0.5, 0.6), 14, False), ((0.3, 0.3, 0.9, 0.8), 11, True)]),
    ((50, 50), []),  # no objects: all padding
    ((30, 70), [((0.0, 0.0, 1.0, 0.5), 0, False), ((0.2, 0.5, 0.4, 0.9), 19, False)]),
]


def _voc_as_dataset(self, split, decoders=None, read_config=None, shuffle_files=False):
    """Serves EXAMPLES, encoded and decoded by the real VOC features.

    tfds's random mock draws each field of the `objects` sequence with its own length,
    which VOC's features reject (tensorflow/datasets#4125); these examples replace the
    random ones, through the builder's real feature encoding and decoding.
    """
    features = self.info.features

    def encoded():
        for i, ((height, width), objects) in enumerate(EXAMPLES):
            yield features.encode_example({
                "image": np.full((height, width, 3), 10 * i, np.uint8),
                "image/filename": f"{i:06d}.jpg",
                "objects": [
                    {"bbox": tfds.features.BBox(*box), "label": label, "pose": "frontal",
                     "is_truncated": False, "is_difficult": difficult}
                    for box, label, difficult in objects
                ],
                "labels": [label for _, label, _ in objects],
                "labels_no_difficult": [label for _, label, d in objects if not d],
            })

    signature = tf.nest.map_structure(
        lambda info: tf.TensorSpec(info.shape, info.dtype), features.get_serialized_info())
    records = tf.data.Dataset.from_generator(encoded, output_signature=signature)
    return records.map(lambda record: features.decode_example(record, decoders=decoders))


def test_voc_gives_padded_batches_with_the_boxes_and_without_difficult_objects():
    with tfds.testing.mock_data(as_dataset_fn=_voc_as_dataset):
        data = detection_data("voc2007", "test", 32, 3, max_boxes=4)
        images, targets = next(iter(data.dataset))
        train = detection_data("voc2012", "train", 48, 2, seed=0)
        train_batches = [(t["boxes"].numpy(), t["labels"].numpy()) for _, t in train.dataset]
    assert data.num_classes == 20 and data.class_names[:5] == VOC_FIRST
    assert data.class_names[14] == "person" and data.class_names[-1] == "tvmonitor"
    assert data.num_examples == 3 and images.shape == (3, 32, 32, 3)
    np.testing.assert_allclose(images.numpy()[2], 20.0, atol=1e-3)
    boxes, labels = targets["boxes"].numpy(), targets["labels"].numpy()
    assert boxes.shape == (3, 4, 4)
    assert labels.tolist() == [[14, -1, -1, -1], [-1] * 4, [0, 19, -1, -1]]
    np.testing.assert_allclose(boxes[0, 0], [0.1, 0.2, 0.5, 0.6], atol=1e-6)
    np.testing.assert_allclose(boxes[2, :2], [[0, 0, 1, 0.5], [0.2, 0.5, 0.4, 0.9]], atol=1e-6)
    np.testing.assert_array_equal(boxes[labels < 0], 0.0)
    # Training: augmented, 42 padded boxes by default, labels stay VOC ids.
    assert len(train_batches) == 1  # 3 examples, batch 2, the remainder dropped
    boxes, labels = train_batches[0]
    assert boxes.shape == (2, 42, 4) and np.all((labels >= -1) & (labels < 20))
    real = boxes[labels >= 0]
    assert np.all((real >= 0) & (real <= 1)) and np.all(real[:, 2:] > real[:, :2])


def test_offline_voc_fails_with_a_clear_error(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr("tensorflow_datasets.core.download.downloader.MAX_RETRIES", 0)
    with pytest.raises(RuntimeError) as raised:
        voc_detection("voc2007", "train", 32, 2, data_dir=str(tmp_path))
    message = str(raised.value)
    assert "'voc/2007' could not be downloaded" in message
    assert "tfds build voc/2007 --data_dir DIR" in message
    with pytest.raises(FileNotFoundError, match=r"'voc/2012' is not prepared in"):
        voc_detection("voc2012", "train", 32, 2, data_dir=str(tmp_path), download=False)
