import socket

import numpy as np
import pytest
import tensorflow_datasets as tfds

from tfvision.data import tfds_images


def test_mock_oxford_flowers102_gives_batches_and_class_names():
    # tfds's mock generates random examples from the builder's code (feature specs and
    # label names ship with tfds), so no metadata or download is needed offline.
    with tfds.testing.mock_data(num_examples=10):
        train = tfds_images("oxford_flowers102", "train", image_size=32, batch_size=4, seed=0)
        test = tfds_images("oxford_flowers102", "test", image_size=24, batch_size=10)
        train_batches = [(images.numpy(), labels.numpy()) for images, labels in train.dataset]
        test_images, test_labels = next(iter(test.dataset))
    assert len(train.class_names) == 102 and train.num_classes == 102
    assert train.class_names[:2] == ["pink primrose", "hard-leaved pocket orchid"]
    assert train.display_names == train.class_names
    assert train.num_examples == 10 and [len(l) for _, l in train_batches] == [4, 4, 2]
    images, labels = train_batches[0]
    assert images.shape == (4, 32, 32, 3) and images.dtype == np.float32
    assert labels.dtype == np.int32 and np.all((0 <= labels) & (labels < 102))
    assert 0.0 <= images.min() and images.max() <= 255.0
    assert test_images.shape == (10, 24, 24, 3)


def test_category_names_override_tfds_display_names():
    with tfds.testing.mock_data(num_examples=2):
        data = tfds_images(
            "oxford_flowers102", "test", image_size=16,
            category_names={"pink primrose": "Primula vulgaris"},
        )
    assert data.class_names[0] == "pink primrose"
    assert data.display_names[:2] == ["Primula vulgaris", "hard-leaved pocket orchid"]


def test_offline_download_fails_with_a_clear_error(tmp_path, monkeypatch):
    # A real download attempt through tfds's downloader, with the network made to fail
    # as it does offline (name resolution) and retries off so it fails in a second,
    # not after tfds's ~200 s of retries. In an environment missing one of tfds's own
    # dependencies (importlib_resources with etils>=1.15) the attempt fails earlier;
    # the message must be just as clear.
    def no_network(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr("tensorflow_datasets.core.download.downloader.MAX_RETRIES", 0)
    with pytest.raises(RuntimeError) as raised:
        tfds_images("mnist", "train", data_dir=str(tmp_path))
    message = str(raised.value)
    assert "'mnist' could not be downloaded" in message
    assert "tfds build mnist --data_dir DIR" in message and "data_dir=DIR" in message


def test_missing_prepared_data_without_download_says_how_to_provide_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"'mnist' is not prepared in .*tfds build mnist"):
        tfds_images("mnist", "train", data_dir=str(tmp_path), download=False)
    with pytest.raises(ValueError, match="Unknown TensorFlow Datasets name 'no_such_dataset'"):
        tfds_images("no_such_dataset")
