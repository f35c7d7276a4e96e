import os
import zipfile

import keras
import numpy as np
import pytest

from tfvision.training.checkpoints import (
    CheckpointCallback,
    load_checkpoint,
    read_checkpoint_state,
    save_checkpoint,
)


def _small_model():
    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.Dense(8, activation="relu")(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    return model


def _data(n=64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype("int32") + (x[:, 1] > 0).astype("int32")


def test_checkpoint_round_trip_keeps_predictions_epoch_and_optimizer(tmp_path):
    model = _small_model()
    x, y = _data()
    model.fit(x, y, epochs=2, verbose=0)
    path = str(tmp_path / "ckpt.keras")
    save_checkpoint(model, path, epoch=2, logs={"loss": 0.5})

    restored, state = load_checkpoint(path)
    assert state["epoch"] == 2 and state["logs"] == {"loss": 0.5}
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    assert int(restored.optimizer.iterations) == int(model.optimizer.iterations) > 0
    for a, b in zip(restored.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # The file is still a plain Keras model file.
    assert keras.saving.load_model(path).count_params() == model.count_params()
    assert not [f for f in os.listdir(tmp_path) if "partial" in f]


def test_interrupted_save_leaves_previous_checkpoint_intact(tmp_path, monkeypatch):
    model = _small_model()
    path = str(tmp_path / "last.keras")
    save_checkpoint(model, path, epoch=1)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the job dies in the middle of writing

    monkeypatch.setattr(zipfile.ZipFile, "writestr", killed)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(model, path, epoch=2)
    monkeypatch.undo()
    assert read_checkpoint_state(path)["epoch"] == 1
    load_checkpoint(path)


def test_bad_checkpoints_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No checkpoint"):
        load_checkpoint(str(tmp_path / "missing.keras"))
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable .keras checkpoint"):
        load_checkpoint(str(broken))
    with pytest.raises(ValueError, match="must end in .keras"):
        save_checkpoint(_small_model(), str(tmp_path / "x.h5"), epoch=0)


def test_callback_keeps_last_and_best(tmp_path):
    model = _small_model()
    callback = CheckpointCallback(str(tmp_path), monitor="score", mode="max")
    callback.set_model(model)
    for epoch, score in enumerate([0.2, 0.6, 0.4]):
        callback.on_epoch_end(epoch, {"score": score})
    assert read_checkpoint_state(str(tmp_path / "last.keras"))["epoch"] == 3
    best = read_checkpoint_state(str(tmp_path / "best.keras"))
    assert best["epoch"] == 2 and best["logs"]["score"] == pytest.approx(0.6)
    # A resumed run remembers the best value so far.
    assert CheckpointCallback(str(tmp_path), monitor="score").best == pytest.approx(0.6)
