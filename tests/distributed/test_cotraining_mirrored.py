"""Co-training under MirroredStrategy: two replicas train both models as one device does.

The run is a separate process: virtual devices must be set before TensorFlow
starts, which the pytest process already did.
"""

import os
import textwrap

import numpy as np
import pytest

from tests.reliability.commands import run_script

RUN = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from tfvision.data import shapes_two_views
    from tfvision.models.classifier import ImageClassifier
    from tfvision.models.cotraining import CoTraining
    from tfvision.recipes.cotraining.recipe import train_cotraining
    save_dir = sys.argv[1]
    samples = shapes_two_views(48, image_size=48, seed=5)

    # The same global batches (no augmentation; view 1 in another order, as after an
    # exchange the two training sets differ) on one device and on two replicas.
    def batches():
        views = [samples.view_dataset(v, indices, image_size=32, batch_size=16, repeat=True)
                 for v, indices in enumerate((np.arange(48), np.arange(48)[::-1]))]
        return tf.data.Dataset.zip(*views).map(lambda a, b: ((a[0], b[0]), (a[1], b[1])))

    def train(strategy):
        keras.utils.set_random_seed(0)
        with strategy.scope():
            models = [ImageClassifier(samples.class_names, image_size=32, alpha=0.35,
                                      backbone_weights="shapes", hidden_units=(8,), dropout=0.0)
                      for _ in range(2)]
            cotraining = CoTraining(*models)
            cotraining.compile(learning_rate=1e-2)
        history = cotraining.fit(batches(), steps_per_epoch=3, epochs=2, verbose=0).history
        weights = [w for m in models for w in m.output_dense.get_weights()]
        return {k: history[k] for k in ("loss0", "loss1", "accuracy0", "accuracy1")}, weights

    single, single_weights = train(tf.distribute.get_strategy())
    mirrored = tf.distribute.MirroredStrategy()
    two, mirrored_weights = train(mirrored)
    difference = max(float(np.abs(a - b).max()) for a, b in zip(single_weights, mirrored_weights))
    moved = min(float(np.abs(w).max()) for w in mirrored_weights[1::2])  # biases start at 0

    # The recipe end to end under the strategy: two rounds, one exchange (predict).
    _, result = train_cotraining(
        "shapes", save_dir, strategy="mirrored", num_shapes=48, labelled_fraction=0.5,
        test_fraction=0.2, valid_fraction=0.2, k=4, rounds=2, epochs_per_round=1,
        alpha=0.35, weights="shapes", image_size=32, hidden_units=(8,), batch_size=8,
        steps_per_epoch=2, seed=0)
    print(json.dumps({
        "replicas": mirrored.num_replicas_in_sync, "single": single, "mirrored": two,
        "weight_difference": difference, "moved": moved,
        "recipe_rounds": [r["round"] for r in result.history],
        "recipe_accuracy": result.history[-1]["test_ensemble_accuracy"],
        "recipe_moved": [r["moved_to_view0"] + r["moved_to_view1"] for r in result.history],
        "recipe_train_sizes": [len(indices) for indices, _ in result.train_sets],
        "recipe_labelled": result.history[0]["train_size0"],
    }))
    """
)


@pytest.mark.slow  # ~70 s; the default suite runs the classifier and MoCo mirrored
def test_mirrored_over_two_devices_matches_one_device_and_the_recipe_runs(tmp_path):
    out = run_script(RUN, tmp_path / "run")
    print(out)  # the figures, with pytest -s
    assert out["replicas"] == 2
    # Each replica's loss is divided by the replica count, so the summed gradients are
    # the global batch's: only float32 summation order differs (two half-batch sums
    # added vs one sum), ~1e-7 relative per step, far below 1e-5 after 6 Adam steps.
    for key, values in out["single"].items():
        np.testing.assert_allclose(out["mirrored"][key], values, rtol=1e-5, err_msg=key)
    assert out["moved"] > 1e-3  # training changed both heads ...
    assert out["weight_difference"] < 1e-5  # ... identically on two replicas and on one
    assert out["recipe_rounds"] == [1, 2] and 0.0 <= out["recipe_accuracy"] <= 1.0
    moved = out["recipe_moved"][0]
    assert moved > 0 and out["recipe_moved"][1] == 0  # picks exchanged after round 1 only
    # Each model's set grew by the other's picks.
    assert sum(out["recipe_train_sizes"]) == 2 * out["recipe_labelled"] + moved
    for name in ("history.json", "epochs.csv", "view0.keras", "cotraining.keras"):
        assert os.path.isfile(tmp_path / "run" / name), name
