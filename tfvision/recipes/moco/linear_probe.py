"""Linear probe: a linear classifier trained on frozen features, on a fraction of the labels."""

import keras
import numpy as np
import tensorflow as tf

from tfvision.recipes.moco.knn_monitor import embed


def select_classes(features, labels, classes=None):
    """Keeps the examples of `classes` and renumbers their labels 0..len(classes)-1.

    Args:
        features: array `[N, D]`.
        labels: int array `[N]`.
        classes: list of int class ids, or `None` for all.

    Returns:
        `(features, labels)` of the kept examples.
    """
    if classes is None:
        return features, labels
    classes = [int(c) for c in classes]
    if len(set(classes)) < 2:
        raise ValueError(f"A probe needs at least 2 distinct classes. Received: classes={classes}")
    missing = [c for c in classes if not np.any(labels == c)]
    if missing:
        raise ValueError(f"No example of classes {missing}. Received: classes={classes}")
    remap = {c: i for i, c in enumerate(classes)}
    keep = np.isin(labels, classes)
    return features[keep], np.array([remap[int(l)] for l in labels[keep]], "int32")


def label_fraction_indices(labels, fraction, seed=0):
    """Indices of a stratified random `fraction` of the examples (at least one per class).

    Returns:
        sorted int array.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"`label_fraction` must be in (0, 1]. Received: {fraction}")
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        count = max(1, int(round(fraction * len(members))))
        chosen.append(rng.choice(members, count, replace=False))
    return np.sort(np.concatenate(chosen))


def linear_probe(train_features, train_labels, test_features, test_labels, label_fraction=1.0,
                 classes=None, epochs=100, learning_rate=0.1, batch_size=64, seed=0):
    """Trains a linear softmax classifier on frozen features and tests it.

    The seed recipe's protocol: the encoder stays frozen, a linear (then
    softmax) layer learns from `label_fraction` of the training labels,
    optionally on a subset of `classes` (the seed's binary task is two
    classes, its 5-class task five). `probe_encoder` hands it L2-normalised
    features.

    Args:
        train_features: array `[N, D]`.
        train_labels: int array `[N]`.
        test_features: array `[M, D]`.
        test_labels: int array `[M]`.
        label_fraction: float in (0, 1]. Defaults to `1.0`.
        classes: list of int, or `None` for all classes. Defaults to `None`.
        epochs: int. Defaults to `100`.
        learning_rate: float, Adam. Defaults to `0.1`.
        batch_size: int. Defaults to `64`.
        seed: int, the label subset and initialisation. Defaults to `0`.

    Returns:
        dict: `accuracy` (test), `train_accuracy`, `num_train`, `num_test`,
        `num_classes`, and the trained `classifier` (`keras.Sequential`).

    Example:
    >>> rng = np.random.default_rng(0)
    >>> labels = np.arange(80) % 4
    >>> features = np.eye(4, 8)[labels] + rng.normal(0, 0.1, (80, 8))  # one cluster per class
    >>> result = linear_probe(features, labels, features, labels, 0.5, classes=[0, 1], epochs=20)
    >>> result["num_train"], result["num_test"], result["num_classes"], result["accuracy"] > 0.9
    (20, 40, 2, True)
    """
    train_features, train_labels = select_classes(train_features, train_labels, classes)
    test_features, test_labels = select_classes(test_features, test_labels, classes)
    chosen = label_fraction_indices(train_labels, label_fraction, seed)
    x, y = train_features[chosen], train_labels[chosen]
    num_classes = len(classes) if classes is not None else int(
        max(train_labels.max(), test_labels.max()) + 1)
    keras.utils.set_random_seed(seed)
    classifier = keras.Sequential(
        [keras.Input((x.shape[1],)),
         keras.layers.Dense(num_classes, activation="softmax", dtype="float32")],
        name="linear_probe",
    )
    classifier.compile(optimizer=keras.optimizers.Adam(learning_rate),
                       loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    # All epochs as one pass over a repeated dataset: no per-epoch overhead.
    batches = (tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed)
               .repeat(epochs).batch(batch_size))
    classifier.fit(batches, epochs=1, verbose=0)
    train_accuracy = classifier.evaluate(x, y, verbose=0, return_dict=True)["accuracy"]
    accuracy = classifier.evaluate(test_features, test_labels, verbose=0,
                                   return_dict=True)["accuracy"]
    return {
        "accuracy": float(accuracy),
        "train_accuracy": float(train_accuracy),
        "num_train": int(len(x)),
        "num_test": int(len(test_features)),
        "num_classes": int(num_classes),
        "classifier": classifier,
    }


def probe_encoder(model, train_data, test_data, **kwargs):
    """`linear_probe` on the features `model` gives for two `(images, labels)` datasets."""
    train_features, train_labels = embed(model, train_data)
    test_features, test_labels = embed(model, test_data)
    return linear_probe(train_features, train_labels, test_features, test_labels, **kwargs)
