"""Precise batch norm: moving statistics become the plain mean of the batches' statistics."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvision.training import PreciseBatchNorm, recompute_batch_norm_statistics


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(3, name="first"),
        keras.layers.BatchNormalization(momentum=0.9, name="trained"),
        keras.layers.Dense(3, name="second"),
        keras.layers.BatchNormalization(momentum=0.9, name="frozen"),
        keras.layers.Dense(2, activation="softmax", name="output"),
    ])


def test_statistics_are_the_mean_over_batches_and_frozen_layers_keep_theirs():
    model = _model()
    frozen = model.get_layer("frozen")
    frozen.trainable = False
    before = [v.numpy().copy() for v in frozen.non_trainable_weights]
    rng = np.random.default_rng(0)
    batches = [rng.normal(i, 1 + i, (16, 4)).astype("float32") for i in range(5)]
    used = recompute_batch_norm_statistics(model, batches, num_batches=3, inputs=lambda x: x)
    assert used == 3
    outputs = [np.asarray(model.get_layer("first")(batch)) for batch in batches[:3]]
    trained = model.get_layer("trained")
    np.testing.assert_allclose(trained.moving_mean, np.mean([o.mean(0) for o in outputs], 0),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(trained.moving_variance,
                               np.mean([o.var(0) for o in outputs], 0), rtol=1e-4)
    assert trained.momentum == 0.9  # restored
    for variable, value in zip(frozen.non_trainable_weights, before):
        np.testing.assert_array_equal(variable, value)


def test_nothing_to_do_without_training_batch_norm():
    model = _model()
    model.trainable = False
    assert recompute_batch_norm_statistics(model, [np.zeros((2, 4), "float32")]) == 0


@pytest.mark.parametrize("precise", [True, False])
def test_the_callback_runs_before_validation(precise):
    # Validation, the checkpoints and the saved model see the recomputed statistics:
    # the val_loss `fit` reports is then what the final model scores.
    model = _model()
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(1)
    x = rng.normal(0, 3, (256, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    callbacks = [PreciseBatchNorm(data, num_batches=8)] if precise else []
    history = model.fit(data, validation_data=data, epochs=2, verbose=0,
                        callbacks=callbacks).history
    after_fit = model.evaluate(data, verbose=0)
    recompute_batch_norm_statistics(model, data, num_batches=8)
    after_recompute = model.evaluate(data, verbose=0)
    assert np.isclose(history["val_loss"][-1], after_fit, rtol=1e-5)
    # With the callback the statistics already were those of the final weights.
    assert np.isclose(after_recompute, after_fit, rtol=1e-5) == precise


def test_layers_unfrozen_later_are_recomputed_too():
    # A fine-tuning phase unfreezes batch norm that the first phase kept.
    model = _model()
    frozen = model.get_layer("frozen")
    frozen.trainable = False
    batches = [np.random.default_rng(i).normal(5, 2, (16, 4)).astype("float32") for i in range(3)]
    recompute_batch_norm_statistics(model, batches, inputs=lambda x: x)
    np.testing.assert_array_equal(frozen.moving_mean, np.zeros(3))
    frozen.trainable = True
    recompute_batch_norm_statistics(model, batches, inputs=lambda x: x)
    assert not np.allclose(frozen.moving_mean, 0.0)


def test_training_callbacks_put_it_before_the_logs_and_checkpoints(tmp_path):
    # The classifier and detector recipes reach it through `training_callbacks`.
    from tfvision.training.callbacks import training_callbacks
    from tfvision.training.checkpoints import CheckpointCallback

    data = tf.data.Dataset.from_tensor_slices(np.zeros((4, 4), "float32")).batch(2)
    callbacks = training_callbacks(str(tmp_path), tensorboard=False, precise_batch_norm=data)
    kinds = [type(callback) for callback in callbacks]
    assert kinds.count(PreciseBatchNorm) == 1
    assert kinds.index(PreciseBatchNorm) < kinds.index(CheckpointCallback)
    assert callbacks[kinds.index(PreciseBatchNorm)].dataset is data
    plain = training_callbacks(str(tmp_path / "plain"), tensorboard=False)
    assert PreciseBatchNorm not in [type(callback) for callback in plain]
