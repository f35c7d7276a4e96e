"""The detector recipe under MultiWorkerMirroredStrategy: two local workers train as one.

Two worker processes on loopback (`tests.distributed.workers.run_workers`) first
fit an SSDLite directly under the strategy on fixed (unaugmented) global
batches of 16, worker 0 then fitting the same model on one device with the
same global batches as a reference. Then they run
`train_detector(strategy="multi-worker")` on the built-in shapes (64 px,
alpha 0.35 with the shapes weights, 8 images per worker of each global batch
of 16, one frozen epoch then one fine-tuning epoch through the
`GroupedOptimizer`, `--seed 0`), then evaluate the trained model on the
valid split (`evaluate_detector`, each worker predicting its own batches).
Each saves its final weights; the test compares them.
"""

import textwrap

import numpy as np
import pytest

from tests.distributed.workers import load_weights, max_difference, run_workers

# Two more worker pairs (about 2.5 minutes on two cores): run by `make test-slow` and
# `.ci/run`, as are the classifier and MoCo ones (tests/distributed/test_multi_worker.py).
pytestmark = pytest.mark.slow

WORKER = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np
    from tfvision.training.distribution import distribution_strategy
    strategy = distribution_strategy("multi-worker")  # before TensorFlow runs anything
    import keras
    import tensorflow as tf
    from tfvision.data.detection.pipeline import synthetic_detection
    from tfvision.models.mobilenet_v2 import MobileNetV2
    from tfvision.models.ssd import ssdlite_mobilenet_v2
    from tfvision.recipes.detector import evaluate_detector, train_detector
    from tfvision.training.distribution import shard_by_data
    out = sys.argv[1]
    index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]

    # The same unaugmented global batches of 16 (8 per worker) on two workers and one device.
    def fit_detector(strategy):
        keras.utils.set_random_seed(0)
        data = synthetic_detection(32, "train", image_size=64, batch_size=16, training=False)
        valid = synthetic_detection(16, "valid", image_size=64, batch_size=16, training=False)
        with strategy.scope():
            model = ssdlite_mobilenet_v2(data.class_names, alpha=0.35, image_size=64,
                                         backbone_weights="shapes", freeze_backbone=True,
                                         extra_channels=(32, 32, 32, 32))
            for layer in model._flatten_layers():  # batch norm in inference mode
                if isinstance(layer, keras.layers.BatchNormalization):
                    layer.trainable = False
            model.compile(optimizer=keras.optimizers.SGD(0.05))
        initial = [v.numpy() for v in model.trainable_variables]
        history = model.fit(shard_by_data(data.dataset), epochs=1, verbose=0,
                            validation_data=shard_by_data(valid.dataset)).history
        weights = [v.numpy() for v in model.trainable_variables]
        moved = max(float(np.abs(a - b).max()) for a, b in zip(initial, weights))
        return history, moved, weights

    result = {}
    result["fit"], result["fit_moved"], weights = fit_detector(strategy)
    np.savez(os.path.join(out, f"fit_{index}.npz"), *weights)

    detector, history = train_detector(
        "shapes", os.path.join(out, "detector"), strategy="multi-worker", image_size=64,
        alpha=0.35, backbone_weights="shapes", epochs=1, fine_tune_epochs=1, batch_size=8,
        num_train_images=32, num_valid_images=16, learning_rate=3e-3, seed=0, verbose=0,
    )
    np.savez(os.path.join(out, f"detector_{index}.npz"), *detector.get_weights())
    # Phase 2 trains the backbone: its kernels leave the shapes weights.
    shapes = MobileNetV2(alpha=0.35, input_shape=(64, 64, 3), include_top=False,
                         weights="shapes")
    moved = max(float(np.abs(a - b).max())
                for a, b in zip(detector.backbone.get_weights(), shapes.get_weights()))
    evaluation = evaluate_detector("shapes", None, split="valid", batch_size=8,
                                   num_images=16, model=detector)
    if index == 0:  # The reference: one device, the same global batches.
        result["single"], _, weights = fit_detector(tf.distribute.get_strategy())
        np.savez(os.path.join(out, "fit_single.npz"), *weights)
    print(json.dumps({
        **result,
        "history": history,
        "iterations": int(detector.optimizer.iterations.numpy()),
        "backbone_moved": moved,
        "num_images": evaluation["num_images"],
        "voc07_map": float(evaluation["voc07_map"]),
        "AP50": float(evaluation["AP50"]),
    }))
    """
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("detector_multi_worker")
    return run_workers(WORKER, [str(out)], str(out)), out


def test_two_workers_fit_the_detector_as_one_device(run):
    (chief, worker), out = run
    fit = [load_weights(out / f"fit_{i}.npz") for i in range(2)]
    assert max_difference(*fit) == 0.0  # identical on both workers ...
    assert chief["fit"] == worker["fit"]
    # Each replica divides by the positives of the global batch (across workers):
    # the losses are the one-device figures, not twice them nor a mean of ratios.
    for key in ("loss", "localization_loss", "classification_loss", "val_loss"):
        np.testing.assert_allclose(chief["fit"][key], chief["single"][key], rtol=1e-5,
                                   err_msg=key)
    assert chief["fit_moved"] > 1e-3  # training changed the head ...
    assert max_difference(fit[0], load_weights(out / "fit_single.npz")) < 1e-5  # ... as one device


def test_two_workers_end_with_identical_detector_weights(run):
    (chief, worker), out = run
    weights = [load_weights(out / f"detector_{i}.npz") for i in range(2)]
    assert max_difference(*weights) == 0.0
    assert chief["history"] == worker["history"]
    assert len(chief["history"]["loss"]) == 2  # one frozen epoch, one fine-tuning epoch
    assert all(np.isfinite(chief["history"]["loss"] + chief["history"]["val_loss"]))
    # 32 images in global batches of 16 (8 per worker): 2 steps in each phase's epoch.
    assert chief["iterations"] == worker["iterations"] == 2
    assert chief["backbone_moved"] == worker["backbone_moved"] > 1e-5


def test_both_workers_evaluate_alike(run):
    (chief, worker), _ = run
    # Each worker predicts its own batches of the whole split (not a gather of both).
    assert chief["num_images"] == worker["num_images"] == 16
    assert chief["voc07_map"] == worker["voc07_map"]
    assert chief["AP50"] == worker["AP50"]
    assert 0.0 <= chief["voc07_map"] <= 1.0


def test_only_the_chief_writes_the_save_dir(run):
    _, out = run
    save_dir = out / "detector"
    for name in ("last.keras", "best.keras", "history.csv"):
        assert (save_dir / name).is_file(), name
    lines = (save_dir / "history.csv").read_text().strip().splitlines()
    assert len(lines) == 3  # header and one row per epoch, written once
    # Worker 1 keeps its own copy aside; worker 0 is the chief.
    assert (save_dir / "workertemp_1" / "last.keras").is_file()
    assert not (save_dir / "workertemp_0").exists()
