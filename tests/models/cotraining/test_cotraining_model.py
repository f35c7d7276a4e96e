"""CoTraining: each model learns from its own view with its own optimizer; XLA; saving."""

import keras
import numpy as np
import tensorflow as tf

from tests.testing import run_model_saving_test, run_serialization_test
from tfvision.models.cotraining import CoTraining
from tfvision.recipes.cotraining.view_callbacks import PerViewPlateau

SIZE = 32


def _convnet(seed):
    """A tiny conv net, so the XLA compilation stays cheap."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((SIZE, SIZE, 3)),
        keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(4, 3, strides=2, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(3, activation="softmax"),
    ])


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    images = [rng.uniform(0, 255, (6, SIZE, SIZE, 3)).astype("float32") for _ in range(2)]
    labels = [rng.integers(0, 3, 6).astype("int32") for _ in range(2)]
    return images, labels


def test_jit_compiled_step_equals_each_model_trained_alone_on_its_view():
    images, labels = _batch()
    cotraining = CoTraining(_convnet(0), _convnet(1))
    references = [_convnet(0), _convnet(1)]
    for reference, model in zip(references, cotraining.models):
        np.testing.assert_array_equal(reference.get_weights()[0], model.get_weights()[0])
    # Different optimizers per model: SGD for model 0, Adam for model 1.
    cotraining.compile(optimizer0=keras.optimizers.SGD(0.1), optimizer1=keras.optimizers.Adam(0.01),
                       jit_compile=True)
    data = tf.data.Dataset.from_tensors(((images[0], images[1]), (labels[0], labels[1])))
    logs = cotraining.fit(data, epochs=1, verbose=0).history
    for reference, optimizer, x, y in zip(references, (keras.optimizers.SGD(0.1),
                                                       keras.optimizers.Adam(0.01)), images, labels):
        # Plain Keras training of the model alone on its own view.
        reference.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
        reference.fit(x, y, batch_size=6, epochs=1, verbose=0, shuffle=False)
    for reference, model in zip(references, cotraining.models):
        for expected, actual in zip(reference.get_weights(), model.get_weights()):
            np.testing.assert_allclose(actual, expected, atol=2e-5)
    assert set(logs) == {"loss0", "loss1", "accuracy0", "accuracy1"}


def test_evaluate_reports_both_models_and_the_averaged_ensemble():
    images, labels = _batch(1)
    cotraining = CoTraining(_convnet(2), _convnet(3))
    cotraining.compile()
    results = cotraining.evaluate((images[0], images[1]), labels[0], verbose=0, return_dict=True)
    p0 = cotraining.model0.predict(images[0], verbose=0)
    p1 = cotraining.model1.predict(images[1], verbose=0)
    for key, p in (("accuracy0", p0), ("accuracy1", p1), ("ensemble_accuracy", (p0 + p1) / 2)):
        np.testing.assert_allclose(results[key], np.mean(p.argmax(1) == labels[0]), atol=1e-6)
    expected_loss = -np.mean(np.log(p1[np.arange(6), labels[0]]))
    np.testing.assert_allclose(results["loss1"], expected_loss, rtol=1e-4)


def test_config_and_keras_file_round_trip(tmp_path):
    images, labels = _batch(2)
    cotraining = CoTraining(_convnet(4), _convnet(5))
    cotraining.compile(learning_rate=0.01)
    data = tf.data.Dataset.from_tensors(((images[0], images[1]), (labels[0], labels[1])))
    cotraining.fit(data, epochs=2, verbose=0)
    run_serialization_test(cotraining)
    restored = run_model_saving_test(cotraining, (images[0], images[1]),
                                     str(tmp_path / "cotraining.keras"), atol=1e-5)
    assert isinstance(restored.model1, keras.Sequential)
    assert int(restored.optimizer1.iterations) == 2  # optimizer state travels too
    np.testing.assert_allclose(float(restored.optimizer0.learning_rate), 0.01)


def test_per_view_plateau_reduces_and_stops_each_model_on_its_own_loss():
    # Real model and optimizers; the epoch logs are fed by hand to script the losses.
    cotraining = CoTraining(_convnet(6), _convnet(7))
    cotraining.compile(learning_rate=0.01)
    plateau = PerViewPlateau(early_stopping_patience=2, reduce_lr_patience=1, factor=0.5)
    plateau.set_model(cotraining)
    plateau.on_train_begin()
    best1 = cotraining.model1.get_weights()
    plateau.on_epoch_end(0, {"val_loss0": 1.0, "val_loss1": 1.0})
    best1 = cotraining.model1.get_weights()
    cotraining.model1.set_weights([w + 1.0 for w in best1])  # a worse epoch for model 1
    plateau.on_epoch_end(1, {"val_loss0": 0.5, "val_loss1": 1.5})
    np.testing.assert_allclose(float(cotraining.optimizer0.learning_rate), 0.01)
    np.testing.assert_allclose(float(cotraining.optimizer1.learning_rate), 0.005)
    plateau.on_epoch_end(2, {"val_loss0": 0.4, "val_loss1": 1.2})
    assert plateau.stopped_epochs == [None, 3] and not cotraining.stop_training
    assert float(cotraining.optimizer1.learning_rate) == 0.0  # model 1 no longer learns
    np.testing.assert_array_equal(cotraining.model1.get_weights()[0], best1[0])
    plateau.on_epoch_end(3, {"val_loss0": 0.6, "val_loss1": 0.1})  # model 1 is ignored now
    plateau.on_epoch_end(4, {"val_loss0": 0.7, "val_loss1": 0.1})
    assert plateau.stopped_epochs == [5, 3] and cotraining.stop_training
    plateau.on_train_end()
    np.testing.assert_allclose(float(cotraining.optimizer1.learning_rate), 0.0025)
