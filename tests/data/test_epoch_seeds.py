"""`EpochSeeds`: each epoch's shuffle and augmentation follow from (seed, epoch)."""

import keras
import numpy as np
import tensorflow as tf

from tfvision.data.classification.pipeline import classification_batches
from tfvision.data.epoch_seeds import EpochSeeds, epoch_seeds_callbacks

IMAGES = tf.random.stateless_uniform([20, 8, 8, 3], [1, 2], maxval=255)


def pipeline(seed=3):
    examples = tf.data.Dataset.from_tensor_slices((IMAGES, tf.range(20)))
    return classification_batches(examples, lambda image: image, image_size=8, batch_size=5,
                                  training=True, seed=seed, num_examples=20)


class Recorder(keras.Model):
    """Records the labels and pixel sums of every batch `fit` trains on."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)
        self.seen = []

    def call(self, x):
        return self.dense(keras.ops.reshape(x, (-1, 8 * 8 * 3)))

    def train_step(self, data):
        x, y = data
        self.seen.append((y.numpy().tolist(), round(float(x.numpy().sum()), 2)))
        return {"examples": keras.ops.sum(y)}


def fit(dataset, **kwargs):
    model = Recorder()
    model.compile(run_eagerly=True)
    model(np.zeros((1, 8, 8, 3)))
    model.fit(dataset, verbose=0, callbacks=epoch_seeds_callbacks([dataset]), **kwargs)
    return model.seen


def test_a_resumed_fit_sees_the_batches_of_the_uninterrupted_one():
    uninterrupted = fit(pipeline(), epochs=4)
    resumed = fit(pipeline(), initial_epoch=2, epochs=4)  # a fresh dataset, as after a kill
    assert resumed == uninterrupted[8:]
    epochs = [sorted(sum((labels for labels, _ in uninterrupted[i:i + 4]), []))
              for i in range(0, 16, 4)]
    assert epochs == [list(range(20))] * 4  # each epoch is a permutation
    orders = {tuple(sum((labels for labels, _ in uninterrupted[i:i + 4]), [])) for i in range(0, 16, 4)}
    assert len(orders) == 4  # reshuffled every epoch
    assert fit(pipeline(seed=4), epochs=1) != uninterrupted[:4]


def test_without_the_callback_each_iteration_is_a_new_epoch():
    dataset = pipeline()
    first, second = ([y.numpy().tolist() for _, y in dataset] for _ in range(2))
    assert first != second
    again = pipeline()
    assert [y.numpy().tolist() for _, y in again] == first  # the same seed, the same run


def test_set_epoch_repeats_an_epoch_exactly():
    seeds = EpochSeeds(seed=7)
    epochs = seeds.shuffle_with_seeds(tf.data.Dataset.range(10), buffer_size=10, seeds_per_example=2)
    assert int(epochs.cardinality()) == 10
    seeds.set_epoch(5)
    one = [(int(x), s.numpy().tolist()) for x, s in epochs]
    assert one == [(int(x), s.numpy().tolist()) for x, s in epochs]
    seeds.set_epoch(6)
    assert one != [(int(x), s.numpy().tolist()) for x, s in epochs]
    assert len({tuple(s) for _, s in one}) == 10  # every example its own seeds
