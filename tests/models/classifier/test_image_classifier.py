import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.testing import run_serialization_test
from tfvision.models.classifier import ImageClassifier

NAMES = ["circle", "square", "triangle", "star", "cross"]


def _classifier(**kwargs):
    defaults = dict(image_size=48, alpha=0.35, backbone_weights=None,
                    freeze_backbone=False, hidden_units=(16,))
    defaults.update(kwargs)
    return ImageClassifier(NAMES, **defaults)


def _infer(model, images):
    """`model.predict(images)` as one eager inference-mode call: no predict function to trace."""
    return keras.ops.convert_to_numpy(model(images, training=False))


def _set_output_probabilities(model, probabilities):
    """Zero kernel + log-probability bias: softmax returns `probabilities`."""
    kernel, _ = model.output_dense.get_weights()
    model.output_dense.set_weights([np.zeros_like(kernel), np.log(probabilities)])


def test_predict_top_k_orders_scores_and_names():
    model = _classifier()
    _set_output_probabilities(model, [0.1, 0.45, 0.2, 0.15, 0.1])
    scores, names = model.predict_top_k(np.zeros((48, 48, 3)), k=3)
    np.testing.assert_allclose(scores, [0.45, 0.2, 0.15], rtol=1e-5)
    assert names == ["square", "triangle", "star"]
    # A batch gives one row per image; k is capped at the number of classes.
    scores, names = model.predict_top_k(np.zeros((2, 60, 80, 3)), k=9)
    assert scores.shape == (2, 5) and len(names) == 2 and names[1][:2] == ["square", "triangle"]
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-5)


def test_predict_top_k_reads_files(tmp_path):
    from PIL import Image

    model = _classifier()
    _set_output_probabilities(model, [0.05, 0.05, 0.1, 0.3, 0.5])
    path = tmp_path / "x.png"
    Image.new("RGB", (70, 50), (200, 10, 10)).save(path)
    scores, names = model.predict_top_k(str(path), k=2)
    assert names == ["cross", "star"]
    with pytest.raises(FileNotFoundError):
        model.predict_top_k(str(tmp_path / "missing.png"))


def test_frozen_backbone_trains_only_the_head():
    with pytest.warns(UserWarning, match="frozen with random weights"):
        model = _classifier(freeze_backbone=True)
    assert {w.path.split("/")[0] for w in model.trainable_weights} == {"hidden_0", "predictions"}
    model.set_backbone_trainable(True, trainable_layers=2)
    trainable = {w.path.split("/")[0] for w in model.trainable_weights}
    assert trainable == {"block_16", "Conv_1", "hidden_0", "predictions"}
    assert model.get_config()["trainable_backbone_layers"] == 2
    model.set_backbone_trainable(False)
    assert len(model.trainable_weights) > 100


def test_multi_label_head_is_independent_sigmoids():
    model = _classifier(multi_label=True)
    model.compile()
    assert isinstance(model.loss, keras.losses.BinaryCrossentropy)
    probabilities = model.predict(np.random.uniform(0, 255, (3, 48, 48, 3)), verbose=0)
    assert probabilities.shape == (3, 5)
    assert np.all((probabilities > 0) & (probabilities < 1))
    assert not np.allclose(probabilities.sum(axis=1), 1.0)


def test_keras_applications_backbone_and_its_normalization():
    model = ImageClassifier(NAMES, backbone="resnet50", image_size=32, backbone_weights=None,
                            freeze_backbone=False, hidden_units=())
    assert model.normalization.mode == "caffe"
    assert model.backbone.name.startswith("resnet50")
    assert model.predict(np.zeros((1, 32, 32, 3)), verbose=0).shape == (1, 5)
    # Keras' 0.99 becomes tfvision's batch-norm momentum, as in MobileNetV2.
    momenta = {layer.momentum for layer in model.backbone._flatten_layers()
               if isinstance(layer, keras.layers.BatchNormalization)}
    assert momenta == {0.9}


def test_argument_errors():
    with pytest.raises(ValueError, match="Received: arch='alexnet'"):
        _classifier(backbone="alexnet")
    with pytest.raises(ValueError, match="at least 2 classes"):
        ImageClassifier(["one"], backbone_weights=None)
    with pytest.raises(ValueError, match="Received: dropout=1.5"):
        _classifier(dropout=1.5)


def test_config_round_trip_keeps_class_names_and_never_downloads():
    model = _classifier()
    revived = run_serialization_test(model)
    assert revived.class_names == NAMES
    assert model.get_config()["backbone_weights"] is None
    assert revived.count_params() == model.count_params()


def test_train_step_compiles_under_xla():
    # One step of the smallest MobileNetV2 (0.35, 32 px, 2 images), every layer
    # trainable: its forward, backward and Adam update compile under XLA. The
    # optimizer is built first, so the step traces and compiles once (built
    # lazily inside the first call, its variables make TensorFlow trace it twice).
    model = _classifier(image_size=32, hidden_units=())
    model.compile(jit_compile=True)
    assert model.jit_compile  # Keras falls back to no XLA (a warning) if a layer lacks it
    model.optimizer.build(model.trainable_variables)
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    y = np.array([0, 3])
    before = [w.copy() for w in model.get_weights()]
    logs = model.train_on_batch(x, y, return_dict=True)
    assert np.isfinite(logs["loss"])
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_offline_imagenet_download_gives_a_clear_error(monkeypatch):
    # The network cannot be reached here; the download is mocked to fail as
    # keras' get_file does offline (a bare Exception with the URL error).
    from keras.src.utils import file_utils

    def offline(fname, origin, **kwargs):
        raise Exception(f"URL fetch failure on {origin}: None -- [Errno -3] Temporary failure")

    monkeypatch.setattr(file_utils, "get_file", offline)
    with pytest.raises(RuntimeError, match=r"Could not download the ImageNet weights of VGG16.*~/.keras/models"):
        ImageClassifier(NAMES, backbone="vgg16", image_size=32, backbone_weights="imagenet")


def test_fine_tuning_keeps_the_pretrained_batch_norm_frozen():
    # Keras 3 passes an outer training=True down through the backbone's own
    # training=False, so the freeze must come from the layers themselves.
    model = ImageClassifier(["a", "b"], image_size=32, alpha=0.35, backbone_weights="shapes",
                            hidden_units=(), trainable_backbone_layers=2)
    norms = [layer for layer in model.backbone._flatten_layers()
             if isinstance(layer, keras.layers.BatchNormalization)]
    statistics = [np.array(v) for layer in norms for v in layer.non_trainable_weights]
    trainable = [np.array(v) for v in model.backbone.trainable_weights]
    assert trainable  # the top two blocks train
    images = np.random.default_rng(0).uniform(0, 255, (8, 32, 32, 3)).astype("float32")
    # Eagerly: the same train step without tracing it (the layers' training
    # flags are Python logic, the same in a graph).
    model.compile(learning_rate=0.1, run_eagerly=True)
    model.fit(images, np.array([0, 1] * 4), epochs=1, batch_size=8, verbose=0)
    for before, after in zip(statistics, [v for layer in norms for v in layer.non_trainable_weights]):
        np.testing.assert_array_equal(before, np.array(after))
    assert any(not np.allclose(b, np.array(a))
               for b, a in zip(trainable, model.backbone.trainable_weights))
    np.testing.assert_allclose(model(images, training=True), model(images, training=False),
                               rtol=1e-5, atol=1e-6)


def test_a_pretrained_backbone_that_trains_whole_trains_its_batch_norm():
    # A MoCo or `shapes` backbone fine-tuned whole on new images: its moving
    # statistics must follow the new images, or inference mode drifts from training.
    model = ImageClassifier(["a", "b"], image_size=32, alpha=0.35, backbone_weights="shapes",
                            hidden_units=(), freeze_backbone=False)
    assert not model.freeze_batch_norm
    norms = [layer for layer in model.backbone._flatten_layers()
             if isinstance(layer, keras.layers.BatchNormalization)]
    before = [np.array(v) for layer in norms for v in layer.non_trainable_weights]
    images = np.random.default_rng(0).uniform(0, 255, (8, 32, 32, 3)).astype("float32")
    model.compile(learning_rate=1e-3, run_eagerly=True)  # the train step, untraced
    model.fit(images, np.array([0, 1] * 4), epochs=1, batch_size=8, verbose=0)
    after = [np.array(v) for layer in norms for v in layer.non_trainable_weights]
    assert all(not np.allclose(b, a) for b, a in zip(before, after))
    frozen = ImageClassifier(["a", "b"], image_size=32, alpha=0.35, backbone_weights="shapes",
                             hidden_units=(), freeze_backbone=False, freeze_batch_norm=True)
    assert frozen.freeze_batch_norm


def test_crop_fraction_is_kept_by_the_config_and_used_by_predict_top_k():
    model = _classifier(image_size=32, hidden_units=(), crop_fraction=1.0, backbone_weights="shapes")
    assert run_serialization_test(model).crop_fraction == 1.0
    assert _classifier(image_size=32, hidden_units=()).crop_fraction == 224 / 256
    with pytest.raises(ValueError, match="crop_fraction"):
        _classifier(image_size=32, crop_fraction=0.0)
    # Random head weights, so that the scores depend on what the model sees.
    rng = np.random.default_rng(1)
    for variable in model.trainable_weights:
        if "kernel" in variable.path and variable.shape[-1] == len(NAMES):
            variable.assign(rng.normal(0, 1.0, variable.shape).astype("float32"))
    # A 64 px image: with crop_fraction 1 the model sees the whole image resized.
    image = rng.uniform(0, 255, (64, 64, 3)).astype("float32")
    scores, _ = model.predict_top_k(image, k=4)
    whole = tf.image.resize(image[None], [32, 32], antialias=True)
    centre = tf.image.resize(image[None, 4:60, 4:60], [32, 32], antialias=True)
    expected = np.sort(model.predict(whole, verbose=0)[0])[::-1][:4]
    cropped = np.sort(model.predict(centre, verbose=0)[0])[::-1][:4]
    np.testing.assert_allclose(scores, expected, rtol=1e-5)
    assert not np.allclose(scores, cropped, rtol=1e-3)


def test_grayscale_classifies_an_image_as_its_grey_version(tmp_path):
    model = _classifier(image_size=32, grayscale=True, backbone_weights="shapes")
    assert run_serialization_test(model).normalization.grayscale
    images = np.random.default_rng(2).uniform(0, 255, (3, 32, 32, 3)).astype("float32")
    grey = tf.tile(tf.image.rgb_to_grayscale(images), [1, 1, 1, 3])
    # Inference-mode calls (what `predict` runs, without tracing a predict function).
    np.testing.assert_allclose(_infer(model, images), _infer(model, grey), rtol=1e-3, atol=1e-4)
    colour = _classifier(image_size=32, backbone_weights="shapes")
    assert not np.allclose(_infer(colour, images), _infer(colour, grey), atol=1e-3)
    path = str(tmp_path / "grey.keras")
    model.save(path)
    assert keras.models.load_model(path).normalization.grayscale


def test_a_feature_grid_heads_the_last_map_pooled_by_cells(tmp_path):
    model = _classifier(image_size=64, hidden_units=(), feature_grid=2)
    # MobileNetV2 0.35 at 64 px: a 2x2 last map of 1280 channels, one cell per position.
    assert model.output_dense.kernel.shape == (4 * 1280, 5)
    images = np.random.default_rng(3).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    maps = model.backbone.feature_extractor(["final"])(model.normalization(images))["final"]
    features = np.concatenate([np.asarray(maps)[:, i, j] for i in range(2) for j in range(2)],
                              axis=-1)
    kernel, bias = model.output_dense.get_weights()
    logits = features @ kernel + bias
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities = _infer(model, images)
    np.testing.assert_allclose(probabilities, expected / expected.sum(axis=1, keepdims=True),
                               atol=1e-5)
    assert run_serialization_test(model).feature_grid == 2
    path = str(tmp_path / "grid.keras")
    model.save(path)
    np.testing.assert_allclose(_infer(keras.models.load_model(path), images), probabilities,
                               atol=1e-6)
    flat = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.GlobalAveragePooling2D()])
    with pytest.raises(ValueError, match="pooled features only"):
        ImageClassifier(NAMES, backbone=flat, image_size=32, backbone_weights=None,
                        freeze_backbone=False, feature_grid=2)
