"""Distributed training with `tf.distribute`: one device, the local ones, or several machines.

A recipe builds and compiles its model inside `strategy.scope()`; `model.fit`
then splits each global batch across the replicas and sums the gradients.

`"multi-worker"` is `MultiWorkerMirroredStrategy`: every machine (worker)
runs the same command with its own `TF_CONFIG` environment variable, which
names the cluster and the worker's index in it (see
https://www.tensorflow.org/guide/distributed_training). Every worker reads
the same data and the strategy shards it (`shard_by_data`); a worker's
`batch_size` is its share, so the global batch is `batch_size` times the
number of workers (`global_batch_size`). Only the chief (worker 0) writes to
the save directory; the others write to their own subdirectory of it
(`worker_save_dir`). Models need `MultiWorkerTrainerMixin` for `fit`.
"""

import json
import os

import tensorflow as tf

from tfvision.data.epoch_seeds import attach_epoch_seeds

STRATEGIES = ("none", "mirrored", "multi-worker")

_MULTI_WORKER = []  # The process's MultiWorkerMirroredStrategy: collectives are set up once.


def distribution_strategy(name="none"):
    """The `tf.distribute.Strategy` of `name`.

    Args:
        name: `"none"` (the default strategy: one device), `"mirrored"`
            (`MirroredStrategy`: every local GPU, or the CPU when there is
            none) or `"multi-worker"` (`MultiWorkerMirroredStrategy`: the
            cluster of the `TF_CONFIG` environment variable, every local GPU
            of each worker; without `TF_CONFIG`, this machine alone). The
            multi-worker strategy is created once per process, before
            TensorFlow runs anything else. Defaults to `"none"`.

    Returns:
        A `tf.distribute.Strategy`.

    Example:
    >>> distribution_strategy("none").num_replicas_in_sync
    1
    """
    if name not in STRATEGIES:
        raise ValueError(f"`strategy` must be one of {STRATEGIES}. Received: strategy={name!r}")
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        if not _MULTI_WORKER:
            _check_tf_config()
            _MULTI_WORKER.append(tf.distribute.MultiWorkerMirroredStrategy())
        return _MULTI_WORKER[0]
    return tf.distribute.get_strategy()


def _check_tf_config():
    """Fails with a clear message on a `TF_CONFIG` that is not JSON with a cluster."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        return
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON ({error}). Received: TF_CONFIG={text!r}")
    if not isinstance(config, dict) or "cluster" not in config or "task" not in config:
        raise ValueError(
            'TF_CONFIG must be {"cluster": {"worker": ["host:port", ...]}, '
            f'"task": {{"type": "worker", "index": i}}}}. Received: TF_CONFIG={text!r}'
        )


def num_workers(strategy):
    """How many workers (machines or processes) `strategy` spans: 1 unless multi-worker.

    Args:
        strategy: a `tf.distribute.Strategy`.

    Returns:
        int.
    """
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return strategy.num_replicas_in_sync // len(strategy.extended.worker_devices)
    return 1


def global_batch_size(batch_size, strategy):
    """The batch all workers together train on per step: `batch_size` per worker.

    Args:
        batch_size: int, the batch of one worker (split over its devices).
        strategy: a `tf.distribute.Strategy`.

    Returns:
        int, `batch_size * num_workers(strategy)`.
    """
    return int(batch_size) * num_workers(strategy)


def check_shared_seed(seed, strategy):
    """Fails unless a multi-worker run has a seed.

    Every worker builds the whole shuffled dataset and keeps its share of
    each batch: with different shuffles, the shares would overlap and some
    examples would be left out.

    Args:
        seed: int or None, the run's seed.
        strategy: a `tf.distribute.Strategy`.
    """
    if seed is None and num_workers(strategy) > 1:
        raise ValueError(
            "Multi-worker training needs a seed (--seed), the same on every worker, so "
            "that all workers shuffle the data alike before each keeps its share. "
            "Received: seed=None"
        )


def is_chief(strategy):
    """Whether this process is the one that writes checkpoints and logs.

    Under `MultiWorkerMirroredStrategy` that is worker 0 (or the task of type
    `"chief"`, if `TF_CONFIG` names one); under any other strategy, always.

    Args:
        strategy: a `tf.distribute.Strategy`.

    Returns:
        bool.
    """
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    resolver = strategy.cluster_resolver
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type is None or task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "worker" and task_id == 0 and not has_chief


def worker_save_dir(save_dir, strategy):
    """Where this worker writes checkpoints, history and plots.

    The chief writes to `save_dir`; every other worker to
    `save_dir/workertemp_<index>` (the name TensorFlow's multi-worker guide
    uses). Their files are copies of the chief's state (all workers hold the
    same weights), kept so that each worker can resume a killed run from its
    own disk, which need not be shared.

    Args:
        save_dir: str, the run's directory.
        strategy: a `tf.distribute.Strategy`.

    Returns:
        str, `save_dir` or a subdirectory of it.
    """
    if is_chief(strategy):
        return save_dir
    return os.path.join(save_dir, f"workertemp_{strategy.cluster_resolver.task_id}")


def shard_by_data(dataset):
    """Lets the strategy shard `dataset` by elements, each worker keeping its part.

    Generated and decoded-in-memory datasets have no files to split between
    workers (`AutoShardPolicy.FILE`); every worker then builds the same
    elements and keeps every n-th batch share (`AutoShardPolicy.DATA`).

    Args:
        dataset: a `tf.data.Dataset`.

    Returns:
        The dataset with `AutoShardPolicy.DATA` in its options.
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    seeds = getattr(dataset, "tfvision_epoch_seeds", None)  # see `tfvision.data.epoch_seeds`
    sharded = dataset.with_options(options)
    return sharded if seeds is None else attach_epoch_seeds(sharded, seeds)


def prepare_run(strategy, save_dir, batch_size, seed=None, **run_options):
    """Sets up a training run on a strategy, in the order multi-worker needs.

    The strategy is made first (a multi-worker strategy sets up its
    collectives before TensorFlow runs anything), then `configure_run`; a
    multi-worker run must have a seed (`check_shared_seed`), writes to this
    worker's directory (`worker_save_dir`) and takes `batch_size` per worker
    (`global_batch_size`).

    Args:
        strategy: str, one of `STRATEGIES`.
        save_dir: str, the run's directory.
        batch_size: int, the batch of one worker.
        seed: int or None, the run's seed.
        **run_options: more `tfvision.training.configure_run` arguments
            (`mixed_precision`, `require_gpu`, `deterministic`).

    Returns:
        `(distribution, save_dir, batch_size)`: the `tf.distribute.Strategy`,
        this worker's directory and the global batch size.
    """
    from tfvision.training.setup import configure_run

    distribution = distribution_strategy(strategy)
    configure_run(seed=seed, **run_options)
    check_shared_seed(seed, distribution)
    return (distribution, worker_save_dir(save_dir, distribution),
            global_batch_size(batch_size, distribution))
