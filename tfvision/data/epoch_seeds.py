"""Training randomness that depends on the epoch number, so a resumed run repeats it.

A training pipeline reshuffles its examples and draws new augmentation seeds
every epoch. With `reshuffle_each_iteration`, epoch `n`'s order comes from the
`n`-th iterator the dataset made — and how many iterators `fit` makes per epoch
is Keras' business (3.15 makes two). A run resumed at epoch `n` starts with a
fresh dataset, so it would see epoch 0's batches again.

`EpochSeeds` keys every epoch's order and augmentation seeds on the epoch
number instead: `fit` sets it through `EpochSeeds.callback()` (tfvision's
`training_callbacks` adds it), and epoch `n`'s batches are the same in an
uninterrupted run and in one resumed at `n`. Without the callback, every new
iterator draws new randomness, as with `reshuffle_each_iteration`.
"""

import keras
import tensorflow as tf

SEED_RANGE = 2**31 - 1


class EpochSeeds:
    """The per-epoch random seeds of one training pipeline.

    Args:
        seed: int or None. `None` draws one from TensorFlow's global
            generator (so `keras.utils.set_random_seed` still fixes it).
            Defaults to `None`.

    Example:
    >>> examples = tf.data.Dataset.range(6)
    >>> seeds = EpochSeeds(seed=1)
    >>> epochs = seeds.shuffle_with_seeds(examples, buffer_size=6, seeds_per_example=2)
    >>> seeds.set_epoch(3)
    >>> first = [int(x) for x, _ in epochs]
    >>> sorted(first)
    [0, 1, 2, 3, 4, 5]
    >>> first == [int(x) for x, _ in epochs]  # epoch 3 again: the same order
    True
    """

    def __init__(self, seed=None):
        if seed is None:
            seed = int(tf.random.uniform([], maxval=SEED_RANGE, dtype=tf.int64))
        self.seed = int(seed)
        # Outside any strategy scope would be cleaner, but a mirrored copy
        # reads the same in the input pipeline.
        self._epoch = tf.Variable(-1, dtype=tf.int64, trainable=False, name="epoch")

    def set_epoch(self, epoch):
        """Makes the next iterators produce epoch `epoch`'s order and seeds."""
        self._epoch.assign(int(epoch))

    def callback(self):
        """A `keras.callbacks.Callback` telling the pipeline each epoch's number."""
        return _EpochCallback(self)

    def _epochs(self):
        """One int64 per iterator: the epoch `fit` is in (>= 0), or without the
        callback a new negative number per iterator, drawn when the iterator is
        made (`rerandomize_each_iteration`), so runs with one seed agree."""
        fallback = tf.data.Dataset.random(seed=self.seed, rerandomize_each_iteration=True)
        driven = tf.data.Dataset.from_tensors(0).map(lambda _: tf.identity(self._epoch))
        return tf.data.Dataset.zip(driven, fallback.take(1)).map(
            lambda epoch, draw: tf.where(epoch >= 0, epoch, -1 - tf.abs(draw // 2))
        )

    def shuffle_with_seeds(self, examples, buffer_size=None, seeds_per_example=2):
        """`examples`, shuffled per epoch, each paired with its own random seeds.

        Args:
            examples: a finite `tf.data.Dataset`.
            buffer_size: int or None. Shuffle buffer; `None` keeps the order.
                Defaults to `None`.
            seeds_per_example: int, the length of each example's int64 seed
                vector (2 per stateless-random call). Defaults to `2`.

        Returns:
            A `tf.data.Dataset` of `(example, int64 [seeds_per_example])`,
            with the cardinality of `examples`.
        """
        count = int(examples.cardinality())
        base = tf.constant(self.seed, tf.int64)

        def one_epoch(epoch):
            epoch_seed = tf.random.stateless_uniform(
                [], tf.stack([base, epoch]), maxval=SEED_RANGE, dtype=tf.int64
            )
            ordered = examples
            if buffer_size:
                # The seed is already the run's and the epoch's; the graph's own
                # seed (the global one, traced in) must not enter: TensorFlow
                # compares seed pairs in Python and would test this tensor.
                tf.compat.v1.get_default_graph().seed = None
                ordered = ordered.shuffle(
                    int(buffer_size), seed=epoch_seed, reshuffle_each_iteration=False
                )

            def with_seeds(index, example):
                seeds = tf.random.stateless_uniform(
                    [seeds_per_example], tf.stack([epoch_seed, index]),
                    maxval=SEED_RANGE, dtype=tf.int64,
                )
                return example, seeds

            return ordered.enumerate().map(with_seeds)

        epochs = self._epochs().flat_map(one_epoch)
        if count >= 0:
            epochs = epochs.apply(tf.data.experimental.assert_cardinality(count))
        return epochs


class _EpochCallback(keras.callbacks.Callback):
    def __init__(self, seeds):
        super().__init__()
        self.seeds = seeds

    def on_epoch_begin(self, epoch, logs=None):
        self.seeds.set_epoch(epoch)


def epoch_seeds_callbacks(datasets):
    """The `EpochSeeds` callbacks of the tfvision training datasets among `datasets`."""
    found = (getattr(dataset, "tfvision_epoch_seeds", None) for dataset in datasets)
    return [seeds.callback() for seeds in found if seeds is not None]


def attach_epoch_seeds(dataset, seeds):
    """Marks `dataset` as driven by `seeds`, so `epoch_seeds_callbacks` finds it."""
    dataset.tfvision_epoch_seeds = seeds
    return dataset
