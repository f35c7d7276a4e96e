"""`model.fit` under `MultiWorkerMirroredStrategy`: what Keras' trainer needs.

Keras 3's TensorFlow trainer fails twice when a model is trained with
`MultiWorkerMirroredStrategy` (keras-team/keras#20585):

1. Before the first step, `fit`/`evaluate` build the model on one batch
   (`_maybe_symbolic_build`). Under a strategy that batch is a `PerReplica`
   value, and Keras reduces it with an eager `strategy.reduce`, which the
   collective (multi-worker) implementation cannot do: "Attempt to convert a
   value (PerReplica...) to a Tensor". Only the batch's shapes and dtypes
   matter there, so this replica's own part of the batch is used instead.
2. After each step, `reduce_per_replica` averages the step's outputs over
   all workers with `strategy.reduce("MEAN", v, axis=0)`: the metrics are
   scalars, and `axis=0` of a scalar is "Invalid reduction dimension 0 for
   input with 0 dimensions". Each scalar output is therefore given a leading
   axis of length 1 inside the replica function, so the same reduction
   averages it over the replicas and gives back a scalar.

A third difference is not an error but would leave the workers with
different weights: Keras 3 updates a batch norm's moving mean and variance
on each replica alone (variables without aggregation), so every worker
would keep the statistics of its own share of the data. After each training
step the moving statistics are therefore averaged over the replicas, as
`tf.keras` 2 did (`aggregation=MEAN`); the update being linear, this is the
moving average of the replicas' mean batch statistics. Batch norm itself
still normalises with each replica's own batch (shuffle-BN relies on it).

Last, `predict_on_batch` takes a batch that is not distributed: every
worker would run it whole and Keras would then gather all workers' outputs
(twice the rows with two workers). Under the multi-worker strategy each
worker predicts its own batch locally instead (the kNN monitor relies on it).

The overrides change nothing under any other strategy.
"""

import keras
import tensorflow as tf
from keras import tree


def in_multi_worker_mode(strategy):
    """Whether `strategy` is a `MultiWorkerMirroredStrategy` over several workers.

    Args:
        strategy: a `tf.distribute.Strategy`.

    Returns:
        bool.
    """
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and bool(
        strategy.extended._in_multi_worker_mode()
    )


def _local_part(value, strategy):
    """This replica's part of a `DistributedValues`; other values as they are."""
    if isinstance(value, tf.distribute.DistributedValues):
        return strategy.experimental_local_results(value)[0]
    return value


class MultiWorkerTrainerMixin:
    """Lets `fit`, `evaluate` and `predict_on_batch` run under `MultiWorkerMirroredStrategy`.

    Put it before `keras.Model` in a model's bases. Under any other strategy
    (none, `MirroredStrategy`) it defers to Keras unchanged.

    Example:
    >>> import keras
    >>> class Model(MultiWorkerTrainerMixin, keras.Model):
    ...     pass
    >>> inputs = keras.Input((2,))
    >>> model = Model(inputs, keras.layers.Dense(1)(inputs))
    """

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = self.distribute_strategy
        if iterator is not None and in_multi_worker_mode(strategy):
            # Keras would `strategy.reduce` the PerReplica batch eagerly; the
            # build needs only shapes and dtypes, which every replica shares.
            for _, _, batches in iterator:
                data_batch = tree.map_structure(
                    lambda v: _local_part(v, strategy), next(batches)
                )
                break
            iterator = None
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def _make_function(self, step_function):
        if not in_multi_worker_mode(self.distribute_strategy):
            return super()._make_function(step_function)

        training = step_function == self.train_step

        def step_with_batch_axis(data):
            outputs = step_function(data)
            if training:
                self._average_moving_statistics()
            # `reduce_per_replica` reduces over axis 0: give scalars one.
            return tree.map_structure(
                lambda v: tf.expand_dims(v, 0) if v.shape.rank == 0 else v, outputs
            )

        return super()._make_function(step_with_batch_axis)

    def _average_moving_statistics(self):
        """Sets every trained batch norm's moving statistics to their mean over the replicas."""
        statistics = [
            variable
            for layer in self._flatten_layers()
            if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable
            for variable in (layer.moving_mean, layer.moving_variance)
            if variable is not None
        ]
        if not statistics:
            return
        context = tf.distribute.get_replica_context()
        values = [tf.identity(variable.value) for variable in statistics]  # this replica's
        means = context.all_reduce("MEAN", values)
        for variable, mean in zip(statistics, means):
            variable.assign(mean)

    def predict_on_batch(self, x):
        if not in_multi_worker_mode(self.distribute_strategy):
            return super().predict_on_batch(x)
        # This worker's batch, this worker's outputs: no cross-worker gather.
        if getattr(self, "_local_predict_function", None) is None:
            self._local_predict_function = tf.function(self.predict_step, reduce_retracing=True)
        outputs = self._local_predict_function((x,))
        return tree.map_structure(lambda v: v.numpy(), outputs)
