"""The classifier under MirroredStrategy: two replicas train exactly as one device does.

The run is a separate process: virtual devices must be set before TensorFlow
starts, which the pytest process already did.
"""

import os
import textwrap

import numpy as np
import pytest

from tests.reliability.commands import run_script
from tfvision.data import write_image_folder

RUN = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from tfvision.data import image_folder
    from tfvision.models.classifier import ImageClassifier
    from tfvision.recipes.classifier import train_classifier
    data, save_dir = sys.argv[1:]

    # The same global batches (no augmentation) on one device and on two replicas.
    def train(strategy):
        keras.utils.set_random_seed(0)
        with strategy.scope():
            model = ImageClassifier([str(i) for i in range(6)], image_size=48, alpha=0.35,
                                    backbone_weights="shapes", hidden_units=(8,), dropout=0.0)
            model.compile(learning_rate=1e-2)
        batches = image_folder(data, "train", image_size=48, batch_size=16, training=False)
        history = model.fit(batches.dataset, epochs=2, verbose=0).history
        return history["loss"], model.output_dense.get_weights()

    single_loss, single_weights = train(tf.distribute.get_strategy())
    mirrored = tf.distribute.MirroredStrategy()
    mirrored_loss, mirrored_weights = train(mirrored)
    difference = max(float(np.abs(a - b).max()) for a, b in zip(single_weights, mirrored_weights))
    moved = max(float(np.abs(w).max()) for w in mirrored_weights[1:])  # bias starts at 0

    # The recipe end to end under the strategy.
    _, recipe_history = train_classifier(
        data, save_dir, strategy="mirrored", alpha=0.35, image_size=48, weights="shapes",
        hidden_units=(8,), epochs=1, batch_size=16, seed=0, verbose=0,
    )
    print(json.dumps({
        "replicas": mirrored.num_replicas_in_sync, "single_loss": single_loss,
        "mirrored_loss": mirrored_loss, "weight_difference": difference, "moved": moved,
        "recipe_loss": recipe_history["loss"],
    }))
    """
)

@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("distributed") / "shapes")
    write_image_folder(root, {"train": 64, "valid": 16}, image_size=48, seed=21)
    return root


def test_mirrored_over_two_devices_matches_one_device(data, tmp_path):
    out = run_script(RUN, data, tmp_path / "run")
    assert out["replicas"] == 2
    np.testing.assert_allclose(out["mirrored_loss"], out["single_loss"], rtol=1e-5)
    assert out["moved"] > 1e-3  # training changed the head ...
    assert out["weight_difference"] < 1e-5  # ... identically on two replicas and on one
    assert len(out["recipe_loss"]) == 1 and np.isfinite(out["recipe_loss"][0])
    assert os.path.isfile(tmp_path / "run" / "last.keras")
