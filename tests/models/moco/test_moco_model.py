import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.testing import run_serialization_test
from tfvision.models.moco import MoCo, SmallCNN
from tfvision.training import load_checkpoint, save_checkpoint


def _model(**kwargs):
    options = dict(queue_size=24, hidden_dims=(32,), projection_dim=8, seed=1)
    options.update(kwargs)
    return MoCo(SmallCNN((16, 16, 3), filters=(8, 16)), **options)


def _pairs(num=16, batch=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 255, (num, 16, 16, 3)).astype("float32")
    y = np.clip(x + rng.normal(0, 20, x.shape), 0, 255).astype("float32")
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch, drop_remainder=True)


def _compile(model, learning_rate=0.06):
    model.compile(optimizer=keras.optimizers.SGD(learning_rate, momentum=0.9, weight_decay=5e-4))


def test_key_encoder_starts_as_copy_and_receives_no_gradient():
    model = _model()
    for q, k in zip(model._query_weights(), model._key_weights()):
        np.testing.assert_array_equal(q.numpy(), k.numpy())
    key_ids = {id(v) for v in model.key_backbone.weights + model.key_head.weights}
    assert not key_ids & {id(v) for v in model.trainable_variables}
    assert len(model.trainable_variables) == len(model._query_weights())
    # The loss has no gradient path into the key encoder.
    view_1, view_2 = next(iter(_pairs()))
    _compile(model)
    with tf.GradientTape() as tape:
        # Even with the keys computed under the tape, no gradient reaches the key encoder.
        keys_1, keys_2 = model._all_keys(view_1, view_2)
        loss, _ = model._contrast(view_1, view_2, keys_1, keys_2, training=True)
    gradients = tape.gradient(loss, model._key_weights() + model.trainable_variables)
    assert all(g is None for g in gradients[: len(model._key_weights())])
    assert all(g is not None for g in gradients[len(model._key_weights()) :])


def test_momentum_one_freezes_the_key_encoder_while_the_query_trains():
    model = _model(momentum=1.0)
    _compile(model)
    before_key = [v.numpy() for v in model._key_weights()]
    before_query = [v.numpy() for v in model._query_weights()]
    model.fit(_pairs(), epochs=1, verbose=0)
    for v, b in zip(model._key_weights(), before_key):
        np.testing.assert_array_equal(v.numpy(), b)
    assert any(not np.allclose(v.numpy(), b) for v, b in zip(model._query_weights(), before_query))


def test_key_encoder_follows_the_query_encoder_before_computing_keys():
    model = _model(momentum=0.9)
    _compile(model)
    query = [v.numpy() for v in model._query_weights()]
    key = [v.numpy() for v in model._key_weights()]
    # Shift the query weights: the first step's update must use these values.
    for v in model._query_weights():
        v.assign(v + 1.0)
    model.train_on_batch(*[np.asarray(t) for t in next(iter(_pairs()))])
    for v, k, q in zip(model._key_weights(), key, query):
        np.testing.assert_allclose(v.numpy(), 0.9 * k + 0.1 * (q + 1.0), rtol=1e-5, atol=1e-6)


def test_queue_is_fifo_and_the_pointer_wraps():
    model = _model(queue_size=10)
    initial = model.queue.numpy()
    first = np.arange(6 * 8, dtype="float32").reshape(6, 8)
    model.enqueue(first)
    assert int(model.queue_pointer.numpy()) == 6
    np.testing.assert_array_equal(model.queue.numpy()[:6], first)
    np.testing.assert_array_equal(model.queue.numpy()[6:], initial[6:])
    second = -np.arange(1, 7 * 8 + 1, dtype="float32").reshape(7, 8)
    model.enqueue(second)  # 4 at the end, then 3 wrap to the front
    assert int(model.queue_pointer.numpy()) == 3
    queue = model.queue.numpy()
    np.testing.assert_array_equal(queue[6:], second[:4])
    np.testing.assert_array_equal(queue[:3], second[4:])
    np.testing.assert_array_equal(queue[3:6], first[3:6])  # oldest survivors
    model.enqueue(np.ones((25, 8), "float32"))  # more keys than the queue holds
    assert int(model.queue_pointer.numpy()) == (3 + 10) % 10
    np.testing.assert_array_equal(model.queue.numpy(), np.ones((10, 8)))


@pytest.mark.parametrize("symmetric", [False, True])
def test_training_enqueues_every_key_and_logs(symmetric):
    model = _model(symmetric=symmetric)
    _compile(model)
    history = model.fit(_pairs(num=16, batch=8), epochs=1, verbose=0).history
    keys_per_step = 16 if symmetric else 8
    assert int(model.queue_pointer.numpy()) == (2 * keys_per_step) % 24
    np.testing.assert_allclose(np.linalg.norm(model.queue.numpy(), axis=1), 1.0, atol=1e-5)
    assert set(history) == {"loss", "positive_similarity", "key_similarity", "learning_rate"}
    assert -1.0 <= history["key_similarity"][0] <= 1.0
    assert history["learning_rate"][0] == pytest.approx(0.06)
    assert -1.0 <= history["positive_similarity"][0] <= 1.0
    assert np.isfinite(history["loss"][0])


def test_save_and_resume_restore_queue_pointer_and_optimizer(tmp_path):
    model = _model()
    _compile(model)
    model.fit(_pairs(), epochs=1, verbose=0)
    path = str(tmp_path / "last.keras")
    save_checkpoint(model, path, epoch=1)
    restored, state = load_checkpoint(path)
    assert state["epoch"] == 1
    np.testing.assert_array_equal(restored.queue.numpy(), model.queue.numpy())
    assert int(restored.queue_pointer.numpy()) == int(model.queue_pointer.numpy()) == 16
    assert int(restored.optimizer.iterations.numpy()) == 2
    for a, b in zip(restored.weights, model.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    images = np.random.default_rng(3).uniform(0, 255, (4, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(restored.predict(images, verbose=0),
                               model.predict(images, verbose=0), atol=1e-5)
    # Both continue identically: same step, same shuffles, same queue.
    model.fit(_pairs(seed=5), epochs=1, verbose=0)
    restored.fit(_pairs(seed=5), epochs=1, verbose=0)
    np.testing.assert_allclose(restored.queue.numpy(), model.queue.numpy(), atol=1e-5)
    assert int(restored.queue_pointer.numpy()) == 32 % 24


def test_config_round_trip():
    revived = run_serialization_test(_model(symmetric=True, temperature=0.07, momentum=0.999))
    assert revived.symmetric and revived.temperature == 0.07 and revived.queue_size == 24


def test_a_training_step_compiles_under_xla():
    model = _model(symmetric=True)
    model.compile(optimizer=keras.optimizers.SGD(0.06, momentum=0.9), jit_compile=True)
    history = model.fit(_pairs(), epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0])
    assert int(model.queue_pointer.numpy()) == 32 % 24


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="queue_size=0"):
        _model(queue_size=0)
    with pytest.raises(ValueError, match="pooled features"):
        MoCo(keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Conv2D(2, 1)]))
    with pytest.raises(ValueError, match="pairs of views"):
        _compile(model := _model())
        model.train_step(tf.zeros((2, 16, 16, 3)))


def test_a_feature_grid_pools_the_last_map_by_cells_and_keeps_the_backbone_contract(tmp_path):
    model = _model(feature_grid=2)
    images = np.random.default_rng(3).uniform(0, 255, (4, 16, 16, 3)).astype("float32")
    # SmallCNN (8, 16) at 16 px: a 2x2 last map of 16 channels, one cell per position.
    maps = model.backbone.feature_extractor(["final"])(model.normalization(images))["final"]
    maps = np.asarray(maps)
    assert maps.shape == (4, 2, 2, 16)
    expected = np.concatenate([maps[:, i, j] for i in range(2) for j in range(2)], axis=-1)
    np.testing.assert_allclose(model(images), expected, rtol=1e-5, atol=1e-5)
    assert model.queries(images).shape == (4, 8)
    # The grid model's layers are the backbone's: training moves the pooled backbone.
    before = [v.numpy() for v in model.backbone.trainable_weights]
    _compile(model)
    model.fit(_pairs(), epochs=1, verbose=0)
    assert any(not np.allclose(v.numpy(), b) for v, b in zip(model.backbone.trainable_weights,
                                                               before))
    assert len(model.trainable_variables) == len(model._query_weights())
    # Checkpoint round trip, and the backbone file loads into a plain SmallCNN.
    path = str(tmp_path / "moco.keras")
    save_checkpoint(model, path, epoch=1)
    restored, _ = load_checkpoint(path)
    assert restored.feature_grid == 2
    np.testing.assert_allclose(restored(images), model(images), rtol=1e-5, atol=1e-5)
    weights = str(tmp_path / "backbone.weights.h5")
    model.save_backbone_weights(weights)
    plain = SmallCNN((16, 16, 3), filters=(8, 16))
    plain.load_weights(weights)
    trained = model.backbone(model.normalization(images))
    np.testing.assert_allclose(plain(model.normalization(images)), trained, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(model(images)).reshape(4, 4, 16).mean(axis=1), trained,
                               rtol=1e-5, atol=1e-5)


def test_a_feature_grid_needs_feature_maps():
    with pytest.raises(ValueError, match="feature_grid=0"):
        _model(feature_grid=0)
    flat = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.GlobalAveragePooling2D()])
    with pytest.raises(ValueError, match="pooled features only"):
        MoCo(flat, feature_grid=2)


def test_grayscale_makes_every_input_grey_as_tf_image_does():
    model = _model(grayscale=True, feature_grid=2)
    images = np.random.default_rng(4).uniform(0, 255, (4, 16, 16, 3)).astype("float32")
    grey = tf.tile(tf.image.rgb_to_grayscale(images), [1, 1, 1, 3])
    np.testing.assert_allclose(model(images), model(grey), rtol=1e-3, atol=1e-3)
    colour = _model(feature_grid=2)
    colour.set_weights(model.get_weights())
    np.testing.assert_allclose(model(images), colour(grey), rtol=1e-3, atol=1e-3)
    assert not np.allclose(colour(images), colour(grey), atol=1e-3)
    revived = run_serialization_test(model)
    assert revived.grayscale and revived.feature_grid == 2
