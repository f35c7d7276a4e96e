"""Weighted kNN accuracy of an encoder's features, and the callback that tracks it."""

import keras
import numpy as np
from keras import ops


def weighted_knn_predict(features, bank_features, bank_labels, num_classes, k=200,
                         temperature=0.1):
    """Classes by a similarity-weighted vote of the `k` nearest memory-bank features.

    Each of the `k` most cosine-similar bank features votes for its label
    with weight `exp(similarity / temperature)`; the class with the largest
    total wins. This is the monitor of the MoCo CIFAR-10 demo (after Wu et
    al.'s instance discrimination).

    Args:
        features: tensor `[B, D]`, L2-normalised.
        bank_features: tensor `[N, D]`, L2-normalised.
        bank_labels: int tensor `[N]`, in `[0, num_classes)`.
        num_classes: int.
        k: int, neighbours; capped at `N`. Defaults to `200`.
        temperature: float > 0. Defaults to `0.1`.

    Returns:
        `(predictions, scores)`: int `[B]` and float32 `[B, num_classes]`.

    References:
        - [Wu et al., 2018. Unsupervised Feature Learning via Non-Parametric
          Instance Discrimination](https://arxiv.org/abs/1805.01978), section 3.4.

    Example:
    >>> bank = np.eye(2, dtype="float32")
    >>> weighted_knn_predict(bank, bank, np.array([0, 1]), 2, k=1)[0].numpy().tolist()
    [0, 1]
    """
    if not temperature > 0:
        raise ValueError(f"`temperature` must be > 0. Received: temperature={temperature}")
    k = min(int(k), int(bank_features.shape[0]))
    similarity = ops.matmul(ops.cast(features, "float32"),
                            ops.transpose(ops.cast(bank_features, "float32")))  # [B, N]
    top, indices = ops.top_k(similarity, k)  # [B, k]
    labels = ops.take(ops.cast(bank_labels, "int32"), indices)  # [B, k]
    weights = ops.exp(top / temperature)  # [B, k]
    scores = ops.sum(ops.one_hot(labels, num_classes) * weights[..., None], axis=1)  # [B, C]
    return ops.argmax(scores, axis=-1), scores


def embed(model, dataset):
    """L2-normalised features and labels of a `(images, labels)` dataset.

    Args:
        model: a model whose call maps images to features `[B, D]` (a `MoCo`
            model gives its query backbone's features).
        dataset: `tf.data.Dataset` of `(images, int labels)`.

    Returns:
        `(features [N, D] float32, labels [N] int32)` NumPy arrays.
    """
    features, labels = [], []
    for images, batch_labels in dataset:
        outputs = np.asarray(model.predict_on_batch(images), "float32")
        # Under a strategy with R replicas, Keras 3.15's `predict_on_batch` runs the
        # whole batch on every replica and concatenates them, `[R * B, D]`.
        features.append(outputs[: len(batch_labels)])  # [B, D]
        labels.append(np.asarray(batch_labels, "int32"))
    features = np.concatenate(features)
    features /= np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    return features, np.concatenate(labels)


def knn_accuracy(model, memory_data, test_data, num_classes, k=200, temperature=0.1,
                 batch_size=512):
    """Weighted kNN accuracy of `test_data` against `memory_data` in `model`'s feature space.

    Returns:
        float in [0, 1].
    """
    bank, bank_labels = embed(model, memory_data)
    features, labels = embed(model, test_data)
    correct = 0
    for start in range(0, len(features), batch_size):
        predictions, _ = weighted_knn_predict(features[start : start + batch_size], bank,
                                              bank_labels, num_classes, k, temperature)
        correct += int(np.sum(np.asarray(predictions) == labels[start : start + batch_size]))
    return correct / max(len(features), 1)


class KNNMonitor(keras.callbacks.Callback):
    """Logs the weighted kNN accuracy of the model's features every `every_n_epochs`.

    The value goes into the epoch logs as `knn_accuracy` (NaN in the epochs
    it skips), so the CSV logger, TensorBoard and the history record it when
    this callback comes before them; `self.history` keeps `(epoch, accuracy)`
    pairs of the measured epochs for plotting.

    Args:
        memory_data: `tf.data.Dataset` of `(images, labels)`, the memory bank
            (the demo: the training set, evaluation transform).
        test_data: `tf.data.Dataset` of `(images, labels)`.
        num_classes: int.
        every_n_epochs: int. Defaults to `1`.
        k: int. Defaults to `200`.
        temperature: float. Defaults to `0.1`.
        verbose: bool, print the accuracy. Defaults to `True`.

    Example:
    >>> import tensorflow as tf
    >>> features = np.eye(4, 8, dtype="float32")  # one image per class, as features
    >>> memory = tf.data.Dataset.from_tensor_slices((features, np.arange(4))).batch(4)
    >>> encoder = keras.Sequential([keras.layers.Identity()])  # stands for MoCo's encoder
    >>> monitor = KNNMonitor(memory, memory, num_classes=4, k=1, verbose=False)
    >>> monitor.set_model(encoder)  # what `model.fit(pairs, callbacks=[monitor])` does
    >>> logs = {}
    >>> monitor.on_epoch_end(0, logs)
    >>> logs
    {'knn_accuracy': 1.0}
    """

    def __init__(self, memory_data, test_data, num_classes, every_n_epochs=1, k=200,
                 temperature=0.1, verbose=True):
        super().__init__()
        if int(every_n_epochs) < 1:
            raise ValueError(f"`every_n_epochs` must be >= 1. Received: {every_n_epochs}")
        self.memory_data = memory_data
        self.test_data = test_data
        self.num_classes = int(num_classes)
        self.every_n_epochs = int(every_n_epochs)
        self.k = k
        self.temperature = temperature
        self.verbose = verbose
        self.history = []

    def evaluate(self):
        """The current kNN accuracy."""
        return knn_accuracy(self.model, self.memory_data, self.test_data, self.num_classes,
                            self.k, self.temperature)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs:
            if logs is not None:
                # Not measured: NaN keeps the same columns in every row of a CSV
                # history, whichever epoch a (resumed) run starts at.
                logs["knn_accuracy"] = float("nan")
            return
        accuracy = self.evaluate()
        self.history.append((epoch + 1, accuracy))
        if logs is not None:
            logs["knn_accuracy"] = accuracy
        if self.verbose:
            print(f"Epoch {epoch + 1}: kNN accuracy {accuracy:.4f}")
