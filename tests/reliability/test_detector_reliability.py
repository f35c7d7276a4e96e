"""The detector command survives `kill -9` in phase 2 and trains the same under MirroredStrategy.

Every run here is a real `tfvision` process (or, for MirroredStrategy, a
real Python process: virtual devices must be set before TensorFlow starts,
which the pytest process already did) on the built-in shapes.
"""

import os
import signal
import textwrap
import time

import numpy as np
import pytest

from tests.reliability.commands import history_epochs, run_script, tfvision
from tfvision.cli.main import build_parser
from tfvision.training import GroupedOptimizer, load_checkpoint, read_checkpoint_state
from tfvision.training.backup import read_backup_epoch
from tfvision.visualization.training_curves import read_history_epochs

EPOCHS, FINE_TUNE_EPOCHS, TRAIN_IMAGES, BATCH = 1, 2, 32, 16
TOTAL = EPOCHS + FINE_TUNE_EPOCHS
STEPS = TRAIN_IMAGES // BATCH


def train_args(save_dir, *extra):
    return [
        "detector", "train", "--data", "shapes", "--save-dir", save_dir,
        "--image-size", "64", "--alpha", "0.35", "--weights", "shapes",
        "--epochs", str(EPOCHS), "--fine-tune-epochs", str(FINE_TUNE_EPOCHS),
        "--train-images", str(TRAIN_IMAGES), "--valid-images", "16",
        "--batch-size", str(BATCH), "--learning-rate", "0.003", "--seed", "0", "--deterministic",
        *extra,
    ]
def test_train_takes_strategy_and_resume_options():
    args = build_parser().parse_args(train_args("run"))
    assert args.strategy == "none" and args.resume is True
    args = build_parser().parse_args(train_args("run", "--strategy", "mirrored", "--no-resume"))
    assert args.strategy == "mirrored" and args.resume is False


@pytest.mark.slow  # ~100 s; the default suite kills and resumes the classifier, MoCo and co-training
def test_kill_9_in_fine_tuning_resumes_fine_tuning_and_no_resume_starts_again(tmp_path):
    save_dir = str(tmp_path / "run")
    last = os.path.join(save_dir, "last.keras")
    process = tfvision(*train_args(save_dir))
    deadline = time.monotonic() + 300
    # Phase 1 is epoch 0; from 2 epochs done on, the kill lands in phase 2.
    while time.monotonic() < deadline and process.poll() is None:
        if os.path.isfile(last) and read_checkpoint_state(last)["epoch"] >= EPOCHS + 1:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = read_checkpoint_state(last)["epoch"]  # epochs fully written before the kill
    assert EPOCHS < killed_at < TOTAL
    # The backup is written just before last.keras: it may hold one epoch more.
    killed_at = max(killed_at, read_backup_epoch(os.path.join(save_dir, "backup")))

    rerun = tfvision(*train_args(save_dir))
    output, _ = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, output[-3000:]
    # Phase 1 is not trained again: the rerun's Keras progress starts in phase 2.
    assert f"Epoch {killed_at + 1}/{TOTAL}" in output, output[-3000:]
    assert f"Epoch {EPOCHS}/{EPOCHS}" not in output
    epochs = history_epochs(save_dir)
    # The row of the epoch the kill cut short may exist only if it was written:
    # no epoch is lost, and none after the resume point is repeated.
    assert sorted(set(epochs)) == list(range(TOTAL))
    assert epochs[: EPOCHS] == list(range(EPOCHS))  # phase 1 logged once
    assert epochs[-(TOTAL - killed_at):] == list(range(killed_at, TOTAL))
    assert read_checkpoint_state(last)["epoch"] == TOTAL
    # best.keras is chosen by validation mAP across the kill: the resumed run
    # started from the killed run's best value, so it holds the best epoch of
    # the whole history (best.keras is written before an epoch counts as done).
    epochs_evaluated, maps = read_history_epochs(os.path.join(save_dir, "history.csv"))["val_map"]
    assert epochs_evaluated == list(range(1, TOTAL + 1))
    best = read_checkpoint_state(os.path.join(save_dir, "best.keras"))
    assert best["logs"]["val_map"] == pytest.approx(max(maps), abs=1e-12)
    assert best["epoch"] == epochs_evaluated[int(np.argmax(maps))]
    model, _ = load_checkpoint(last)  # the checkpoint the kill may have cut is whole
    assert not model.freeze_backbone and isinstance(model.optimizer, GroupedOptimizer)
    # The optimizer state came back with the backup: the fine-tuning cycle
    # counted every one of its steps, not only those after the resume.
    assert int(model.optimizer.iterations) == FINE_TUNE_EPOCHS * STEPS

    # --no-resume ignores last.keras and the backup and trains from epoch 0; with
    # the same seed and deterministic ops, the uninterrupted run it makes ends
    # with the weights of the killed-and-resumed one.
    resumed_weights = model.get_weights()
    fresh = tfvision(*train_args(save_dir, "--no-resume"))
    output, _ = fresh.communicate(timeout=600)
    assert fresh.returncode == 0, output[-3000:]
    assert f"Epoch {EPOCHS + 1}/{TOTAL}" in output  # a finished run, resumed, trains nothing
    assert history_epochs(save_dir) == list(range(TOTAL))
    model, state = load_checkpoint(last)
    assert state["epoch"] == TOTAL
    for a, b in zip(resumed_weights, model.get_weights()):
        np.testing.assert_array_equal(a, b)


MIRRORED = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from tfvision.data.detection.pipeline import synthetic_detection
    from tfvision.models.ssd import ssdlite_mobilenet_v2
    from tfvision.recipes.detector import train_detector
    save_dir = sys.argv[1]

    # The same unaugmented global batches of 8 (4 per replica) on one device and two.
    def train(strategy):
        keras.utils.set_random_seed(0)
        data = synthetic_detection(16, "train", image_size=64, batch_size=8, training=False)
        valid = synthetic_detection(8, "valid", image_size=64, batch_size=8, training=False)
        with strategy.scope():
            model = ssdlite_mobilenet_v2(data.class_names, alpha=0.35, image_size=64,
                                         backbone_weights="shapes", freeze_backbone=True,
                                         extra_channels=(32, 32, 32, 32))
            for layer in model._flatten_layers():  # batch norm in inference mode
                if isinstance(layer, keras.layers.BatchNormalization):
                    layer.trainable = False
            model.compile(optimizer=keras.optimizers.SGD(0.05))
        initial = [v.numpy() for v in model.trainable_variables]
        history = model.fit(data.dataset, validation_data=valid.dataset, epochs=2,
                            verbose=0).history
        return history, initial, [v.numpy() for v in model.trainable_variables]

    single, initial, single_weights = train(tf.distribute.get_strategy())
    # Not collective ops here: two MirroredStrategy objects with collectives in one
    # process share collective instance keys, and TensorFlow then refuses the
    # recipe's (own strategy, other gradient shapes) as a shape mismatch.
    one_device_reduce = tf.distribute.ReductionToOneDevice()
    mirrored = tf.distribute.MirroredStrategy(cross_device_ops=one_device_reduce)
    two, _, mirrored_weights = train(mirrored)
    difference = max(float(np.abs(a - b).max()) for a, b in zip(single_weights, mirrored_weights))
    moved = max(float(np.abs(a - b).max()) for a, b in zip(initial, single_weights))

    # The recipe end to end under the strategy (its head's batch norm trains).
    _, recipe = train_detector(
        "shapes", save_dir, strategy="mirrored", image_size=64, alpha=0.35,
        backbone_weights="shapes", epochs=1, batch_size=8, num_train_images=16,
        num_valid_images=8, seed=0, verbose=0,
    )
    print(json.dumps({
        "replicas": mirrored.num_replicas_in_sync, "single": single, "mirrored": two,
        "weight_difference": difference, "moved": moved, "recipe": recipe,
    }))
    """
)


@pytest.mark.slow  # ~70 s; the default suite runs the classifier, MoCo and co-training mirrored
def test_mirrored_over_two_devices_matches_one_device(tmp_path):
    save_dir = str(tmp_path / "run")
    out = run_script(MIRRORED, save_dir)
    assert out["replicas"] == 2
    # Each replica divides by the positives of the global batch: the losses
    # (total, both parts, validation) are the one-device figures, not twice
    # them nor a mean of per-replica ratios. Float32 sums in another order
    # differ by ~1e-7 relative; 1e-5 leaves room for the 4 SGD steps.
    for key in ("loss", "localization_loss", "classification_loss", "val_loss"):
        np.testing.assert_allclose(out["mirrored"][key], out["single"][key], rtol=1e-5,
                                   err_msg=key)
    assert out["moved"] > 1e-3  # training changed the head ...
    assert out["weight_difference"] < 1e-5  # ... identically on two replicas and on one
    assert len(out["recipe"]["loss"]) == 1 and np.isfinite(out["recipe"]["loss"][0])
    assert read_checkpoint_state(os.path.join(save_dir, "last.keras"))["epoch"] == 1
