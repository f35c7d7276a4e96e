"""After a short from-scratch schedule, every trainable recipe predicts in inference mode
what it learned in training mode, on the same images.

Batch norm's moving statistics must match the weights inference uses. At Keras'
momentum 0.999 they stay mostly at their initial values for a thousand steps; at
0.9 they still lag weights that move fast early in a run (here, 57 steps from
random weights: 0.82 with batch statistics, 0.18 in inference mode). Every recipe
therefore fits with `PreciseBatchNorm`, as these tests do. The images are
scikit-learn's bundled handwritten digits (real scans, nothing downloaded), as in
`make quality`.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

pytest.importorskip("sklearn")

from benchmarks.quality import digits  # noqa: E402
from tests.testing import build_optimizer  # noqa: E402
from tfvision.data.detection.pipeline import synthetic_detection  # noqa: E402
from tfvision.data.pairs.positive_pairs import positive_pairs  # noqa: E402
from tfvision.models.classifier import ImageClassifier  # noqa: E402
from tfvision.models.moco import MoCo  # noqa: E402
from tfvision.models.ssd import ssdlite_mobilenet_v2  # noqa: E402
from tfvision.recipes.cotraining.recipe import build_cotraining  # noqa: E402
from tfvision.recipes.moco.knn_monitor import weighted_knn_predict  # noqa: E402
from tfvision.recipes.moco.recipe import build_encoder_backbone  # noqa: E402
from tfvision.training import PreciseBatchNorm  # noqa: E402

SIZE = 64
NAMES = [str(digit) for digit in range(10)]
BATCH = 32


@pytest.fixture(scope="module")
def scans():
    """600 training and 300 test digits, 8x8 scans blown up to 64 px RGB in 0..255."""
    pixels, labels = digits.load_scans()
    splits = digits.split_scans(labels, seed=0)

    def images(ids):
        big = np.kron(pixels[ids], np.ones((SIZE // 8, SIZE // 8), np.float32)) * (255 / 16)
        return np.repeat(big[..., None], 3, axis=-1).astype(np.float32), labels[ids]

    return images(splits["train"][:600]), images(splits["test"][:300])


def _accuracy(predict, images, labels, training):
    hits = 0
    for start in range(0, len(images), 100):  # batches of 100 for the batch statistics
        probabilities = predict(images[start:start + 100], training)
        hits += int(np.sum(np.argmax(probabilities, axis=-1) == labels[start:start + 100]))
    return hits / len(images)


def _assert_inference_matches_training(predict, images, labels, learned=0.5):
    with_batch_statistics = _accuracy(predict, images, labels, training=True)
    inference = _accuracy(predict, images, labels, training=False)
    assert with_batch_statistics >= learned, with_batch_statistics
    assert abs(inference - with_batch_statistics) <= 0.05, (inference, with_batch_statistics)


def _classifier():
    return ImageClassifier(NAMES, alpha=0.35, image_size=SIZE, backbone_weights=None,
                           freeze_backbone=False, hidden_units=())


def test_classifier(scans):
    (images, labels), _ = scans
    keras.utils.set_random_seed(0)
    model = _classifier()
    model.compile(learning_rate=1e-3)
    build_optimizer(model)
    data = tf.data.Dataset.from_tensor_slices((images, labels)).batch(BATCH)
    model.fit(data, epochs=3, verbose=0, callbacks=[PreciseBatchNorm(data)])
    _assert_inference_matches_training(lambda x, training: model(x, training=training),
                                       images, labels)


@pytest.mark.slow  # about 40 s each; the classifier's case stays in the default suite
def test_cotraining(scans):
    (images, labels), _ = scans
    views = (images, np.ascontiguousarray(np.transpose(images, (0, 2, 1, 3))))
    keras.utils.set_random_seed(0)
    cotraining = build_cotraining(NAMES, image_size=SIZE, alpha=0.35, weights=None,
                                  train_backbone=True, hidden_units=())
    data = tf.data.Dataset.from_tensor_slices((views, (labels, labels))).batch(BATCH)
    cotraining.fit(data, epochs=3, verbose=0, callbacks=[PreciseBatchNorm(data)])
    for model, view in zip(cotraining.models, views):
        _assert_inference_matches_training(lambda x, training: model(x, training=training),
                                           view, labels)


@pytest.mark.slow
def test_moco_encoder(scans):
    (images, labels), (test_images, test_labels) = scans
    keras.utils.set_random_seed(0)
    model = MoCo(build_encoder_backbone("mobilenet_v2", SIZE, alpha=0.35), queue_size=256)
    model.compile(optimizer=keras.optimizers.SGD(0.06, momentum=0.9))
    build_optimizer(model)
    pairs = positive_pairs(tf.data.Dataset.from_tensor_slices(images), lambda image: image,
                           SIZE, BATCH, seed=0, num_examples=len(images))
    model.fit(pairs, epochs=3, verbose=0, callbacks=[PreciseBatchNorm(pairs)])

    def features(x, training):
        out = np.concatenate([np.asarray(model(x[i:i + 100], training=training))
                              for i in range(0, len(x), 100)])
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    def knn(training):
        bank = features(images, training)
        predicted, _ = weighted_knn_predict(features(test_images, training), bank, labels, 10,
                                            k=20)
        return float(np.mean(np.asarray(predicted) == test_labels))

    with_batch_statistics, inference = knn(training=True), knn(training=False)
    assert abs(inference - with_batch_statistics) <= 0.05, (inference, with_batch_statistics)
    assert inference >= 0.2, inference  # above chance (0.1)


@pytest.mark.slow
def test_detector():
    keras.utils.set_random_seed(0)
    data = synthetic_detection(96, "train", image_size=SIZE, batch_size=16, training=False)
    model = ssdlite_mobilenet_v2(data.class_names, alpha=0.35, image_size=SIZE,
                                 backbone_weights=None, freeze_backbone=False)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    build_optimizer(model)
    history = model.fit(data.dataset, epochs=4, verbose=0,
                        callbacks=[PreciseBatchNorm(data.dataset)]).history
    assert history["loss"][-1] < history["loss"][0]
    losses = {True: [], False: []}
    for images, targets in data.dataset:
        for training in (True, False):
            outputs = model(images, training=training)
            losses[training].append(float(model.compute_loss(images, targets, outputs)))
    with_batch_statistics, inference = np.mean(losses[True]), np.mean(losses[False])
    assert inference <= 1.15 * with_batch_statistics, (inference, with_batch_statistics)
