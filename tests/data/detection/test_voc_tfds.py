import socket

import numpy as np
import pytest
import tensorflow_datasets as tfds

from tests.data.detection.voc_mock import voc_as_dataset
from tfvision.data import detection_data
from tfvision.data.detection.voc_tfds import voc_detection

VOC_FIRST = ["aeroplane", "bicycle", "bird", "boat", "bottle"]


def test_voc_gives_padded_batches_with_the_boxes_and_without_difficult_objects():
    with tfds.testing.mock_data(as_dataset_fn=voc_as_dataset):
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
