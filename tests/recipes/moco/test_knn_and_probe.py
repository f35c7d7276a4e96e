import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvision.recipes.moco.knn_monitor import KNNMonitor, knn_accuracy, weighted_knn_predict
from tfvision.recipes.moco.linear_probe import label_fraction_indices, linear_probe, select_classes


def _clusters(num_per_class, num_classes=4, dim=8, noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.eye(num_classes, dim)
    labels = np.repeat(np.arange(num_classes), num_per_class)
    features = centres[labels] + rng.normal(0, noise, (len(labels), dim))
    return features.astype("float32"), labels.astype("int32")


def _normalize(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_weighted_knn_matches_a_numpy_vote():
    rng = np.random.default_rng(1)
    bank, queries = _normalize(rng.normal(size=(30, 5))), _normalize(rng.normal(size=(7, 5)))
    bank_labels = rng.integers(0, 3, 30)
    predictions, scores = weighted_knn_predict(queries, bank, bank_labels, 3, k=6, temperature=0.1)
    for i, q in enumerate(queries):
        similarity = bank @ q
        top = np.argsort(-similarity)[:6]
        expected = np.zeros(3)
        for j in top:
            expected[bank_labels[j]] += np.exp(similarity[j] / 0.1)
        np.testing.assert_allclose(np.asarray(scores)[i], expected, rtol=1e-4)
        assert int(np.asarray(predictions)[i]) == int(np.argmax(expected))


class Identity(keras.Model):
    def call(self, x):
        return x


def test_knn_monitor_gives_100_percent_on_separable_features():
    bank, bank_labels = _clusters(50)
    test, test_labels = _clusters(20, seed=1)
    memory = tf.data.Dataset.from_tensor_slices((bank, bank_labels)).batch(64)
    queries = tf.data.Dataset.from_tensor_slices((test, test_labels)).batch(64)
    model = Identity(name="identity")
    assert knn_accuracy(model, memory, queries, 4, k=200, temperature=0.1) == 1.0
    monitor = KNNMonitor(memory, queries, 4, every_n_epochs=2, verbose=False)
    monitor.set_model(model)
    logs = {}
    monitor.on_epoch_end(0, logs)
    assert np.isnan(logs["knn_accuracy"]) and monitor.history == []  # skipped, same columns
    monitor.on_epoch_end(1, logs)
    assert logs["knn_accuracy"] == 1.0 and monitor.history == [(2, 1.0)]
    # Shuffled labels in the bank: no better than chance.
    shuffled = tf.data.Dataset.from_tensor_slices(
        (bank, np.random.default_rng(2).permutation(bank_labels))).batch(64)
    assert knn_accuracy(model, shuffled, queries, 4, k=200) < 0.6


def test_label_fraction_is_stratified_and_classes_renumbered():
    labels = np.repeat(np.arange(5), 20)
    chosen = label_fraction_indices(labels, 0.1, seed=0)
    assert np.bincount(labels[chosen]).tolist() == [2] * 5
    features = np.arange(100)[:, None].astype("float32")
    kept, renumbered = select_classes(features, labels, [3, 1])
    assert len(kept) == 40 and set(renumbered.tolist()) == {0, 1}
    assert renumbered[labels[labels != 0][0] == 1] is not None
    np.testing.assert_array_equal(renumbered, np.where(labels[np.isin(labels, [3, 1])] == 3, 0, 1))
    with pytest.raises(ValueError, match="label_fraction"):
        label_fraction_indices(labels, 0.0)
    with pytest.raises(ValueError, match="No example of classes \\[7\\]"):
        select_classes(features, labels, [1, 7])


@pytest.mark.parametrize("classes, fraction", [([0, 1], 0.1), ([0, 1, 2, 3, 4], 0.5), (None, 1.0)])
def test_linear_probe_learns_separable_features(classes, fraction):
    x, y = _clusters(40, num_classes=6, dim=12, noise=0.1)
    x_test, y_test = _clusters(10, num_classes=6, dim=12, noise=0.1, seed=1)
    result = linear_probe(x, y, x_test, y_test, label_fraction=fraction, classes=classes,
                          epochs=60)
    expected_classes = 6 if classes is None else len(classes)
    assert result["num_classes"] == expected_classes
    assert result["num_train"] == round(40 * fraction) * expected_classes
    assert result["num_test"] == 10 * expected_classes
    assert result["accuracy"] >= 0.95
