import keras
import numpy as np
import pytest

from tfvision.training.lr_sweep import learning_rate_sweep


def _problem():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 2)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int32")
    return x, y


def test_each_rate_starts_from_the_same_weights_and_best_is_kept():
    keras.utils.set_random_seed(0)
    x, y = _problem()
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    initial = [w.copy() for w in model.get_weights()]
    starts = []

    def compile_fn(model, rate):
        starts.append([w.copy() for w in model.get_weights()])
        model.compile(
            optimizer=keras.optimizers.SGD(rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )

    data = (x, y)
    import tensorflow as tf

    train = tf.data.Dataset.from_tensor_slices(data).batch(32)
    result = learning_rate_sweep(model, train, train, [1e-6, 0.5], epochs=2, compile_fn=compile_fn)

    assert len(starts) == 2
    for start in starts:
        for a, b in zip(start, initial):
            np.testing.assert_array_equal(a, b)
    assert result.best_learning_rate == 0.5
    assert result.scores[0.5] > 0.9 > result.scores[1e-6]
    # The model keeps the best run's weights.
    _, accuracy = model.evaluate(x, y, verbose=0)
    assert accuracy == pytest.approx(result.histories[0.5]["val_accuracy"][-1], abs=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="positive"):
        learning_rate_sweep(None, None, None, [0.1, -1])
    with pytest.raises(ValueError, match="Received: mode='up'"):
        learning_rate_sweep(None, None, None, [0.1], mode="up")
