"""The MoCo pretrain command survives `kill -9`, and trains on two replicas as on one device.

Every run here is a real process: the `tfvision moco pretrain` command on the
built-in shapes, and a Python process that sets two logical CPU devices
before TensorFlow starts (the pytest process already started it).
"""

import csv
import os
import signal
import textwrap
import time

import keras
import numpy as np
import tensorflow as tf

from tests.reliability.commands import finish, run_script, tfvision
from tfvision.models.moco import MoCo, SmallCNN
from tfvision.training import load_checkpoint, read_checkpoint_state
from tfvision.training.checkpoints import CheckpointCallback

EPOCHS, STEPS = 4, 2  # steps per epoch: 64 images in batches of 32
PRETRAIN = [
    "moco", "pretrain", "shapes", "--arch", "small_cnn", "--image-size", "32",
    "--num-images", "64", "--batch-size", "32", "--queue-size", "80", "--hidden-dim", "32",
    "--projection-dim", "16", "--bn-splits", "2", "--symmetric", "--knn-every", "0",
    "--seed", "0", "--deterministic", "--epochs", str(EPOCHS),
]

MIRRORED = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from tfvision.data.pairs.positive_pairs import positive_pairs_dataset
    from tfvision.models.moco import MoCo, SmallCNN
    from tfvision.recipes.moco.recipe import pretrain_moco
    save_dir = sys.argv[1]

    # The recipe under strategy="mirrored": stopped after one epoch (as a killed job is),
    # then resumed inside the strategy.
    class Stop(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = True

    options = dict(strategy="mirrored", arch="small_cnn", image_size=32, num_images=64,
                   batch_size=16, queue_size=48, hidden_dims=(16,), projection_dim=8,
                   bn_splits=1, knn_images=32, knn_k=5, epochs=2, seed=0, verbose=0)
    _, first = pretrain_moco("shapes", save_dir, callbacks=[Stop()], **options)
    recipe_model, second = pretrain_moco("shapes", save_dir, **options)

    # Fixed augmented view pairs: the same global batches of 16 on one device and on two.
    pairs, _ = positive_pairs_dataset("shapes", 32, 16, seed=0, num_images=64)
    views = tuple(np.concatenate(v) for v in zip(*[(a.numpy(), b.numpy()) for a, b in pairs]))

    def build(bn_splits):
        return MoCo(SmallCNN((32, 32, 3), filters=(8, 16), bn_splits=bn_splits), queue_size=64,
                    hidden_dims=(16,), projection_dim=8, symmetric=True)

    def train(strategy, bn_splits, initial):
        with strategy.scope():
            model = build(bn_splits)
            model.set_weights(initial)
            model.compile(optimizer=keras.optimizers.SGD(0.06, momentum=0.9, weight_decay=5e-4))
        batches = tf.data.Dataset.from_tensor_slices(views).batch(16, drop_remainder=True)
        history = model.fit(batches, epochs=2, verbose=0).history
        return history["loss"], model

    keras.utils.set_random_seed(0)
    initial = build(2).get_weights()
    single_loss, single = train(tf.distribute.get_strategy(), 2, initial)
    unsplit_loss, _ = train(tf.distribute.get_strategy(), 1, initial)
    # The recipe's strategy: MirroredStrategy instances running different programs in one
    # process clash over their collective-op keys (TensorFlow 2.21).
    mirrored = recipe_model.distribute_strategy
    mirrored_loss, twin = train(mirrored, 1, initial)

    names = [w.path for w in single.weights]
    moving = [i for i, n in enumerate(names) if "moving_" in n]
    learned = [i for i in range(len(names)) if i not in moving]
    a, b = single.get_weights(), twin.get_weights()
    difference = max(float(np.abs(a[i] - b[i]).max()) for i in learned)
    moved = min(float(np.abs(a[i] - initial[i]).max()) for i in learned
                if "queue_pointer" not in names[i])
    # Batch-norm moving statistics: every replica's copy against one device's.
    replica_copies = [[v.numpy() for v in twin.weights[i].value.values] for i in moving]
    moving_difference = max(float(np.abs(copy - a[i]).max() / max(1.0, np.abs(a[i]).max()))
                            for copies, i in zip(replica_copies, moving) for copy in copies)

    print(json.dumps({
        "replicas": mirrored.num_replicas_in_sync, "single_loss": single_loss,
        "unsplit_loss": unsplit_loss, "mirrored_loss": mirrored_loss,
        "weight_difference": difference, "moved": moved, "moving_difference": moving_difference,
        "recipe_first": first, "recipe_second": second,
        "recipe_replicas": recipe_model.distribute_strategy.num_replicas_in_sync,
        "recipe_pointer": int(recipe_model.queue_pointer.numpy()),
    }))
    """
)
def history(save_dir):
    with open(os.path.join(save_dir, "history.csv")) as handle:
        return list(csv.DictReader(handle))


def test_kill_9_during_pretraining_then_the_same_command_resumes(tmp_path):
    save_dir = str(tmp_path / "run")
    last = os.path.join(save_dir, "last.keras")
    command = PRETRAIN + ["--save-dir", save_dir]
    process = tfvision(*command)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if os.path.isfile(last) and read_checkpoint_state(last)["epoch"] >= 2:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = read_checkpoint_state(last)["epoch"]  # epochs fully done before the kill
    assert 2 <= killed_at < EPOCHS
    kept = history(save_dir)[:killed_at]  # rows of the completed epochs, before the rerun

    output = finish(tfvision(*command))
    assert (f"Epoch {killed_at + 1}/{EPOCHS}" in output
            and f"Epoch {killed_at}/{EPOCHS}" not in output)
    rows = history(save_dir)
    # Every epoch once, in order: none lost, none the resumed run repeated; the
    # rows of the epochs done before the kill are untouched.
    assert [int(row["epoch"]) for row in rows] == list(range(EPOCHS))
    assert rows[:killed_at] == kept
    # The cosine schedule went on from the restored optimizer step: it ends at 0.
    assert float(rows[-1]["learning_rate"]) < 1e-7 < float(rows[0]["learning_rate"])
    assert read_checkpoint_state(last)["epoch"] == EPOCHS
    model, _ = load_checkpoint(last)  # the checkpoint the kill may have cut is whole
    # The keys of every step once (the queue wrapped around; the pointer is not 0).
    assert int(model.queue_pointer.numpy()) == (EPOCHS * STEPS * 2 * 32) % 80 != 0
    assert model.optimizer.iterations.numpy() == EPOCHS * STEPS
    assert os.path.isfile(os.path.join(save_dir, "backbone.weights.h5"))
    resumed_rows, resumed_weights = rows, model.get_weights()

    # --no-resume starts again at epoch 0, from scratch: with --seed and
    # --deterministic, this uninterrupted run repeats the killed-and-resumed one
    # exactly — its history and its final weights (key encoder and queue included).
    output = finish(tfvision(*command, "--no-resume"))
    assert f"Epoch 1/{EPOCHS}" in output
    rows = history(save_dir)
    assert [int(row["epoch"]) for row in rows] == list(range(EPOCHS))
    assert rows[:killed_at] == kept
    assert read_checkpoint_state(last)["epoch"] == EPOCHS
    model, _ = load_checkpoint(last)
    assert model.optimizer.iterations.numpy() == EPOCHS * STEPS
    for a, b in zip(resumed_weights, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert [row["loss"] for row in rows] == [row["loss"] for row in resumed_rows]


def test_mirrored_over_two_devices_matches_one_device_with_split_batch_norm(tmp_path):
    save_dir = str(tmp_path / "mirrored")
    out = run_script(MIRRORED, save_dir)
    assert out["replicas"] == 2
    # Each replica normalises its half of the batch, as SplitBatchNormalization(2)
    # does on one device; the cross-replica key shuffle draws the same permutation
    # of the global batch as the one-device shuffle, and the queue gets the keys in
    # the same order. So the maths is the same and only the float32 summation order
    # differs. Eight momentum-SGD steps through a temperature-0.2 softmax amplify
    # that rounding by an amount that depends on the images: measured 4e-6 with one
    # set of augmented views and 1.4e-4 with another, the losses equal to float32
    # precision both times, while every weight moved by more than 3e-3.
    # One device without split batch norm is a different computation.
    np.testing.assert_allclose(out["mirrored_loss"], out["single_loss"], rtol=1e-5)
    assert np.abs(np.subtract(out["unsplit_loss"], out["single_loss"])).max() > 1e-2
    assert out["moved"] > 1e-4  # every weight (and the queue) changed ...
    assert out["weight_difference"] < 5e-4  # ... the same on two replicas and on one
    # The moving statistics too (relative to the largest of each, or absolute
    # below 1): every replica keeps the mean of the replicas'.
    assert out["moving_difference"] < 5e-4

    # The recipe under the strategy: one epoch, then resumed inside the strategy.
    assert out["recipe_replicas"] == 2
    assert len(out["recipe_first"]["loss"]) == 1 and len(out["recipe_second"]["loss"]) == 1
    assert np.isfinite(out["recipe_second"]["loss"][0])
    assert 0.0 <= out["recipe_second"]["knn_accuracy"][0] <= 1.0
    assert out["recipe_pointer"] == (2 * 4 * 16) % 48  # both replicas' keys, every step once
    assert read_checkpoint_state(os.path.join(save_dir, "last.keras"))["epoch"] == 2
    assert [int(row["epoch"]) for row in history(save_dir)] == [0, 1]


def test_a_fit_resumed_from_last_keras_ends_as_an_uninterrupted_one(tmp_path):
    # What a resumed run needs beyond the weights -- the key encoder, its batch-norm
    # statistics, the queue and its pointer, the optimizer's step (which seeds the
    # key shuffles and drives the schedule) and momentum -- is in the checkpoint.
    views = tuple(np.random.default_rng(3).uniform(0, 255, (2, 32, 16, 16, 3)).astype("float32"))
    batches = tf.data.Dataset.from_tensor_slices(views).batch(8, drop_remainder=True)

    def build():
        keras.utils.set_random_seed(0)
        model = MoCo(SmallCNN((16, 16, 3), filters=(8, 16), bn_splits=2), queue_size=40,
                     hidden_dims=(16,), projection_dim=8, symmetric=True)
        schedule = keras.optimizers.schedules.CosineDecay(0.06, 3 * 4)
        model.compile(optimizer=keras.optimizers.SGD(schedule, momentum=0.9, weight_decay=5e-4))
        return model

    uninterrupted = build()
    uninterrupted.fit(batches, epochs=3, verbose=0)
    first = build()
    first.fit(batches, epochs=1, verbose=0, callbacks=[CheckpointCallback(str(tmp_path), "loss",
                                                                         "min")])
    resumed, state = load_checkpoint(str(tmp_path / "last.keras"))
    assert state["epoch"] == 1
    resumed.fit(batches, epochs=3, initial_epoch=1, verbose=0)
    assert int(resumed.queue_pointer.numpy()) == (3 * 4 * 16) % 40 != 0
    assert int(resumed.optimizer.iterations.numpy()) == 3 * 4
    names = [w.path.split("/", 1)[-1] for w in uninterrupted.weights]  # without the model's
    assert names == [w.path.split("/", 1)[-1] for w in resumed.weights]
    for name, a, b in zip(names, uninterrupted.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(b, a, err_msg=name)
    for a, b in zip(uninterrupted.optimizer.variables, resumed.optimizer.variables):
        np.testing.assert_array_equal(b.numpy(), a.numpy(), err_msg=a.path)
