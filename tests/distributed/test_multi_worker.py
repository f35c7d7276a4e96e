"""MultiWorkerMirroredStrategy: two local worker processes train as one.

Two processes on loopback form a cluster through `TF_CONFIG`
(`tests.distributed.workers.run_workers`), as two machines would. Each runs the
same script:

- the classifier fitted directly under the strategy on fixed (unaugmented)
  batches of 16, worker 0 then fitting the same model on one device with
  the same global batches as a reference;
- the classifier recipe and the MoCo recipe (with its kNN monitor) with
  `strategy="multi-worker"`.

Each worker saves its final weights; the test compares them. The tests of that
cluster run in `make test-slow` (about 2 minutes); the checks of the strategy's
arguments stay in the default suite.
"""

import textwrap

import numpy as np
import pytest
import tensorflow as tf

from tests.distributed.workers import load_weights, max_difference, run_workers
from tfvision.cli.main import build_parser
from tfvision.data import write_image_folder
from tfvision.training import distribution

WORKER = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np
    from tfvision.training import distribution
    from tfvision.training.distribution import distribution_strategy, shard_by_data
    strategy = distribution_strategy("multi-worker")  # before TensorFlow runs anything
    import keras
    import tensorflow as tf
    from tfvision.data import image_folder
    from tfvision.models.classifier import ImageClassifier
    from tfvision.recipes.classifier import train_classifier
    from tfvision.recipes.moco.recipe import pretrain_moco
    data, out = sys.argv[1:]
    index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]

    def fit_classifier(strategy):
        keras.utils.set_random_seed(0)
        with strategy.scope():
            model = ImageClassifier([str(i) for i in range(6)], image_size=32, alpha=0.35,
                                    backbone_weights="shapes", hidden_units=(8,), dropout=0.0)
            model.compile(learning_rate=1e-2)
        batches = image_folder(data, "train", image_size=32, batch_size=16, training=False)
        history = model.fit(shard_by_data(batches.dataset), epochs=2, verbose=0).history
        moved = float(np.abs(model.output_dense.get_weights()[1]).max())  # bias starts at 0
        return history["loss"], moved, model.get_weights()

    result = {"replicas": strategy.num_replicas_in_sync,
              "chief": distribution.is_chief(strategy),
              "global_batch": distribution.global_batch_size(8, strategy)}
    try:
        distribution.check_shared_seed(None, strategy)
        result["seedless"] = "accepted"
    except ValueError as error:
        result["seedless"] = str(error)
    result["loss"], result["moved"], weights = fit_classifier(strategy)
    np.savez(os.path.join(out, f"fit_{index}.npz"), *weights)

    classifier, history = train_classifier(
        data, os.path.join(out, "classifier"), strategy="multi-worker", alpha=0.35,
        image_size=32, weights="shapes", hidden_units=(8,), epochs=1, batch_size=8, seed=0,
        verbose=0,
    )
    result["recipe_loss"] = history["loss"]
    images = np.random.default_rng(index).uniform(0, 255, (3, 32, 32, 3)).astype("float32")
    local = classifier.predict_on_batch(images)  # this worker's batch only
    result["predict_shape"] = list(local.shape)
    result["predict_error"] = float(np.abs(local - classifier(images, training=False)).max())
    np.savez(os.path.join(out, f"classifier_{index}.npz"), *classifier.get_weights())

    moco, history = pretrain_moco(
        "shapes", os.path.join(out, "moco"), arch="small_cnn", image_size=32, epochs=1,
        batch_size=8, queue_size=32, hidden_dims=(32,), projection_dim=16, num_images=64,
        knn_every=1, knn_images=32, knn_k=5, seed=0, strategy="multi-worker", verbose=0,
    )
    result["moco_loss"] = history["loss"]
    result["knn_accuracy"] = history["knn_accuracy"]
    result["moco_steps"] = int(moco.optimizer.iterations.numpy())
    np.savez(os.path.join(out, f"moco_{index}.npz"), *moco.get_weights())

    if index == 0:  # The reference: one device, the same global batches.
        result["single_loss"], _, weights = fit_classifier(tf.distribute.get_strategy())
        np.savez(os.path.join(out, "fit_single.npz"), *weights)
    print(json.dumps(result))
    """
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    data = str(tmp_path_factory.mktemp("multi_worker") / "shapes")
    write_image_folder(data, {"train": 64, "valid": 16}, image_size=32, seed=21)
    out = tmp_path_factory.mktemp("multi_worker_out")
    return run_workers(WORKER, [data, str(out)], str(out)), out


@pytest.mark.slow  # the two-worker cluster fixture: about 2 minutes
def test_two_workers_train_the_classifier_as_one_device(run):
    (chief, worker), out = run
    assert chief["replicas"] == worker["replicas"] == 2
    fit = [load_weights(out / f"fit_{i}.npz") for i in range(2)]
    single = load_weights(out / "fit_single.npz")
    assert max_difference(fit[0], fit[1]) == 0.0  # identical on both workers ...
    assert chief["loss"] == worker["loss"]
    np.testing.assert_allclose(chief["loss"], chief["single_loss"], rtol=1e-5)
    assert max_difference(fit[0], single) < 1e-5  # ... and as one device on the global batch
    assert chief["moved"] > 1e-3  # training changed the head


@pytest.mark.slow  # the two-worker cluster fixture: about 2 minutes
def test_cluster_roles_batch_and_seed(run):
    (chief, worker), _ = run
    assert (chief["chief"], worker["chief"]) == (True, False)
    assert chief["global_batch"] == worker["global_batch"] == 16  # 8 per worker
    for result in (chief, worker):
        assert "needs a seed" in result["seedless"]


@pytest.mark.slow  # the two-worker cluster fixture: about 2 minutes
def test_recipes_end_with_identical_weights_on_both_workers(run):
    (chief, worker), out = run
    for name in ("classifier", "moco"):
        weights = [load_weights(out / f"{name}_{i}.npz") for i in range(2)]
        assert max_difference(*weights) == 0.0, name
    assert chief["recipe_loss"] == worker["recipe_loss"] and np.isfinite(chief["recipe_loss"][0])
    # 64 shapes images, 8 pairs per worker: 4 global batches of 16 in the epoch.
    assert chief["moco_steps"] == worker["moco_steps"] == 4
    assert chief["moco_loss"] == worker["moco_loss"] and np.isfinite(chief["moco_loss"][0])
    # The kNN monitor embeds its images on each worker (predict_on_batch).
    assert chief["knn_accuracy"] == worker["knn_accuracy"]
    assert 0.0 <= chief["knn_accuracy"][0] <= 1.0


@pytest.mark.slow  # the two-worker cluster fixture: about 2 minutes
def test_predict_on_batch_stays_on_its_worker(run):
    for result in run[0]:
        assert result["predict_shape"] == [3, 6]  # not 6 rows gathered from two workers
        assert result["predict_error"] < 1e-5


@pytest.mark.slow  # the two-worker cluster fixture: about 2 minutes
def test_only_the_chief_writes_the_save_dir(run):
    _, out = run
    for name in ("classifier", "moco"):
        save_dir = out / name
        assert (save_dir / "last.keras").is_file()
        assert (save_dir / "history.csv").is_file()
        # Worker 1 writes its own copy aside; worker 0 is the chief.
        assert (save_dir / "workertemp_1" / "last.keras").is_file()
        assert not (save_dir / "workertemp_0").exists()


def test_one_process_strategies_keep_the_save_dir_and_batch(tmp_path):
    strategy = distribution.distribution_strategy("none")
    assert distribution.is_chief(strategy)
    assert distribution.worker_save_dir(str(tmp_path), strategy) == str(tmp_path)
    assert distribution.global_batch_size(8, strategy) == 8
    distribution.check_shared_seed(None, strategy)  # one worker: no seed needed


def test_shard_by_data_sets_the_data_policy():
    dataset = distribution.shard_by_data(tf.data.Dataset.range(4))
    policy = dataset.options().experimental_distribute.auto_shard_policy
    assert policy == tf.data.experimental.AutoShardPolicy.DATA
    assert list(dataset.as_numpy_iterator()) == [0, 1, 2, 3]


@pytest.mark.parametrize("tf_config, message", [
    ("{not json", "not valid JSON"),
    ('{"cluster": {"worker": ["localhost:1"]}}', "must be"),
])
def test_a_bad_tf_config_is_refused(monkeypatch, tf_config, message):
    monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(ValueError, match=message) as error:
        distribution.distribution_strategy("multi-worker")
    assert "Received: TF_CONFIG=" in str(error.value)


@pytest.mark.parametrize("command", [["moco", "pretrain", "shapes"],
                                     ["classifier", "train", "data"],
                                     ["detector", "train", "--data", "shapes"],
                                     ["cotrain", "shapes"]])
def test_training_commands_take_strategy_multi_worker(command):
    args = build_parser().parse_args([*command, "--save-dir", "run", "--strategy", "multi-worker"])
    assert args.strategy == "multi-worker"
