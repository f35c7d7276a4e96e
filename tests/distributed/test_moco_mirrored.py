"""MoCo under tf.distribute.MirroredStrategy on two virtual CPU devices.

Virtual devices must be configured before TensorFlow initialises its
devices, which the pytest process has already done: the training runs in a
fresh Python process and reports back as JSON on its last line.
"""

import json
import math
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    import keras
    import numpy as np
    from keras import ops
    from tfvision.models.moco import MoCo, SmallCNN

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    rng = np.random.default_rng(0)
    view_1 = rng.uniform(0, 255, (8, 16, 16, 3)).astype("float32")
    view_2 = rng.uniform(0, 255, (8, 16, 16, 3)).astype("float32")


    def run(shuffle_bn, symmetric):
        with strategy.scope():
            model = MoCo(SmallCNN((16, 16, 3), filters=(8, 16)), queue_size=32,
                         hidden_dims=(16,), projection_dim=8, shuffle_bn=shuffle_bn,
                         symmetric=symmetric)
            model.compile(optimizer=keras.optimizers.SGD(0.06, momentum=0.9))
        return model, train(model)


    def train(model):
        initial = model.queue.numpy()
        pairs = tf.data.Dataset.from_tensor_slices((view_1, view_2)).batch(8, drop_remainder=True)
        history = model.fit(pairs, epochs=1, verbose=0).history
        queue = model.queue.numpy()
        # Keys of each replica's half, through the key encoder as it was during the step
        # (the momentum update comes first and nothing moves it afterwards).
        def keys(images):
            x = model.normalization(images)
            return ops.normalize(model.key_head(model.key_backbone(x, training=True)), axis=-1)
        expected = np.concatenate([keys(view_2[:4]), keys(view_2[4:])])
        return {{
            "replicas": strategy.num_replicas_in_sync,
            "pointer": int(model.queue_pointer.numpy()),
            "loss": float(history["loss"][0]),
            "written_rows_changed": bool(np.all(np.abs(queue[:8] - initial[:8]).max(1) > 1e-6)),
            "rest_unchanged": bool(np.array_equal(queue[16:], initial[16:])),
            "norms": np.linalg.norm(queue[:8], axis=1).tolist(),
            "max_key_error": float(np.abs(queue[:8] - expected).max()),
        }}


    print(json.dumps({{"plain": run(False, False)[1], "shuffled": run(True, True)[1]}}))
    """
)


@pytest.fixture(scope="module")
def results():
    completed = subprocess.run([sys.executable, "-c", SCRIPT.format()], capture_output=True,
                               text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_queue_receives_the_keys_of_both_replicas(results):
    result = results["plain"]
    assert result["replicas"] == 2
    assert result["pointer"] == 8  # the global batch: 4 keys from each replica
    assert result["written_rows_changed"] and result["rest_unchanged"]
    # Rows 0-3 are replica 0's keys, rows 4-7 replica 1's, each normalised with
    # its own replica's batch statistics.
    assert result["max_key_error"] < 1e-4
    assert math.isfinite(result["loss"])


def test_cross_replica_shuffle_bn_and_symmetric_loss_run(results):
    result = results["shuffled"]
    assert result["pointer"] == 16  # both key sets of both replicas
    assert result["written_rows_changed"]
    assert all(abs(n - 1.0) < 1e-4 for n in result["norms"])
    assert result["loss"] > 0
