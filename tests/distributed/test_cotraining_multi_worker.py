"""Co-training under MultiWorkerMirroredStrategy: two local workers train as one.

Two worker processes on loopback (`tests.distributed.workers.run_workers`) run
`train_cotraining(strategy="multi-worker")` on 48 built-in two-view shapes
(32 px, alpha 0.35 with the shapes weights, 4 samples per worker of each
global batch of 8, two rounds of one epoch of two steps, 4 picks per model,
`seed=0`). Between the rounds every worker predicts its share of the pool
and `predict` gathers all shares, so both pick the same pseudo-labels. Each
then predicts an odd-sized pool (13 samples, batches of 8: the last batch's
shares differ) with `predict_pool` and compares it with a local prediction.
Each saves its final weights; the test compares them.
"""

import json
import textwrap

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
    from tfvision.recipes.cotraining.recipe import load_two_view_data, train_cotraining
    from tfvision.recipes.cotraining.rounds import aligned_dataset, predict_pool
    out = sys.argv[1]
    index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]

    cotraining, result = train_cotraining(
        "shapes", os.path.join(out, "cotraining"), strategy="multi-worker", num_shapes=48,
        labelled_fraction=0.5, test_fraction=0.2, valid_fraction=0.2, k=4, rounds=2,
        epochs_per_round=1, alpha=0.35, weights="shapes", image_size=32, hidden_units=(8,),
        batch_size=4, steps_per_epoch=2, seed=0)
    np.savez(os.path.join(out, f"cotraining_{index}.npz"), *cotraining.get_weights())
    samples = load_two_view_data("shapes", 48, 0)
    pool = np.arange(13)
    gathered = predict_pool(cotraining, samples, pool, 32, batch_size=8)
    local = [[], []]
    for (x0, x1), _ in aligned_dataset(samples, pool, 32, 8):
        outputs = cotraining((x0, x1), training=False)
        for view in range(2):
            local[view].append(np.asarray(outputs[f"view{view}"]))
    print(json.dumps({
        "history": json.dumps(result.history, sort_keys=True),  # NaN-safe comparison
        "moved": [r["moved_to_view0"] + r["moved_to_view1"] for r in result.history],
        "train_sets": [[np.asarray(a).tolist() for a in s] for s in result.train_sets],
        "pool": np.asarray(result.pool).tolist(),
        "steps": [int(o.iterations.numpy()) for o in cotraining.optimizers],
        "pool_rows": [int(g.shape[0]) for g in gathered],
        "pool_error": max(float(np.abs(g - np.concatenate(l)).max())
                          for g, l in zip(gathered, local)),
    }))
    """
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cotraining_multi_worker")
    return run_workers(WORKER, [str(out)], str(out)), out


def test_two_workers_end_with_identical_weights_and_pseudo_labels(run):
    (chief, worker), out = run
    weights = [load_weights(out / f"cotraining_{i}.npz") for i in range(2)]
    assert max_difference(*weights) == 0.0
    # Rounds, losses, accuracies and every exchanged pick are the same on both.
    assert chief["history"] == worker["history"]
    assert chief["train_sets"] == worker["train_sets"]
    assert chief["pool"] == worker["pool"]
    assert chief["moved"][0] > 0  # round 1 exchanged pseudo-labels (the last round does not)
    # Two rounds of one epoch of two global batches, for each model.
    assert chief["steps"] == worker["steps"] == [4, 4]


def test_predict_pool_gathers_every_share_in_order(run):
    for result in run[0]:
        assert result["pool_rows"] == [13, 13]  # each sample once, not once per worker
        assert result["pool_error"] < 1e-5


def test_only_the_chief_writes_the_save_dir(run):
    _, out = run
    save_dir = out / "cotraining"
    for name in ("history.json", "view0.keras", "cotraining.keras", "samples.json",
                 "backup/state.json"):
        assert (save_dir / name).is_file(), name
    assert len(json.loads((save_dir / "history.json").read_text())) == 2  # one row per round
    # Worker 1 keeps its own copy aside (its backup included); worker 0 is the chief.
    assert (save_dir / "workertemp_1" / "backup" / "state.json").is_file()
    assert not (save_dir / "workertemp_0").exists()
