"""MoCo's training and evaluation steps: keys outside the tape, InfoNCE, queue update."""

import keras
import tensorflow as tf
from keras import ops

from tfvision.losses.cross_replica import num_replicas
from tfvision.losses.info_nce import info_nce_loss
from tfvision.models.moco.momentum import momentum_update
from tfvision.models.multi_worker import in_multi_worker_mode


class MoCoTrainStepMixin:
    """`train_step` and `test_step` of `MoCo`, in the order of a Keras step.

    Unpack the view pairs, move the key encoder, compute the keys outside the
    tape, then under the tape the queries and their InfoNCE loss against the
    keys and the queue; apply the gradients (query encoder only), enqueue the
    keys, update the metrics. Uses the `MoCo` attributes (`queries`, `keys`,
    `enqueue`, `queue`, `temperature`, `symmetric`, the trackers).
    """

    def _step_seeds(self):
        """Two stateless seeds `[2]` from the seed and the step counter, equal on all replicas."""
        step = ops.cast(self.optimizer.iterations, "int64") if self.optimizer else 0
        base = ops.stack([ops.cast(self.seed, "int64"), ops.cast(step, "int64")])
        return base, base + ops.array([0, 2**40], "int64")

    def _all_keys(self, view_1, view_2):
        """Keys of view 2 (and of view 1 when symmetric), computed outside any tape."""
        seed_1, seed_2 = self._step_seeds()
        keys_2 = self.keys(view_2, seed_2, training=True)
        keys_1 = self.keys(view_1, seed_1, training=True) if self.symmetric else None
        return keys_1, keys_2

    def _contrast(self, view_1, view_2, keys_1, keys_2, training):
        """Loss and mean positive similarity of the queries against the given keys."""
        loss, logits = info_nce_loss(self.queries(view_1, training), keys_2, self.queue,
                                     self.temperature)
        positive = ops.mean(logits[:, 0]) * self.temperature
        if self.symmetric:
            loss_21, logits_21 = info_nce_loss(self.queries(view_2, training), keys_1,
                                               self.queue, self.temperature)
            loss = loss + loss_21  # The demo sums the two directions.
            positive = (positive + ops.mean(logits_21[:, 0]) * self.temperature) / 2.0
        return loss, positive

    def train_step(self, data):
        view_1, view_2 = _unpack(data)
        # The key encoder moves before it computes this step's keys.
        momentum_update(self._query_weights(), self._key_weights(), self.momentum)
        keys_1, keys_2 = self._all_keys(view_1, view_2)
        with tf.GradientTape() as tape:
            loss, positive = self._contrast(view_1, view_2, keys_1, keys_2, training=True)
            # Gradients are summed over replicas: average the loss instead.
            scaled_loss = self.optimizer.scale_loss(loss / num_replicas())
        variables = self.trainable_variables
        gradients = tape.gradient(scaled_loss, variables)
        self.optimizer.apply(gradients, variables)
        keys = [keys_1, keys_2] if self.symmetric else [keys_2]
        if num_replicas() > 1:
            # Each view's keys of all replicas, in replica order: the global batch's
            # order, so the queue is filled as on one device.
            context = tf.distribute.get_replica_context()
            keys = [context.all_gather(k, axis=0) for k in keys]  # [R * N, D] each
        self.enqueue(ops.concatenate(keys, axis=0))  # [N', D], view 1's keys first
        if num_replicas() > 1 and not in_multi_worker_mode(self.distribute_strategy):
            # (Across workers `MultiWorkerTrainerMixin` averages them after the step.)
            self._average_batch_norm_statistics()
        return self._update_metrics(loss, positive, keys_2)

    def _average_batch_norm_statistics(self):
        """Sets every replica's batch-norm moving statistics to their mean over the replicas.

        Keras keeps one copy of them per replica (aggregation "none"), each moved
        towards its own replica's batch statistics, so the copies drift apart and a
        checkpoint keeps the first replica's. Their mean is what
        `SplitBatchNormalization` keeps on one device: the same moving statistics
        with `R` replicas as with `bn_splits=R` on one device.
        """
        context = tf.distribute.get_replica_context()
        for layer in self._flatten_layers(include_self=False):
            if isinstance(layer, keras.layers.BatchNormalization):
                for statistic in (layer.moving_mean, layer.moving_variance):
                    statistic.assign(context.all_reduce("mean", statistic.value))

    def test_step(self, data):
        view_1, view_2 = _unpack(data)
        keys_1, keys_2 = self._all_keys(view_1, view_2)
        loss, positive = self._contrast(view_1, view_2, keys_1, keys_2, training=False)
        return self._update_metrics(loss, positive, keys_2)

    def _update_metrics(self, loss, positive, keys):
        self.loss_tracker.update_state(loss)
        self.positive_similarity_tracker.update_state(positive)
        self.key_similarity_tracker.update_state(mean_pairwise_cosine(keys))
        logs = {m.name: m.result() for m in self.metrics}
        if self.optimizer is not None:
            logs["learning_rate"] = ops.convert_to_tensor(self.optimizer.learning_rate)
        return logs


def mean_pairwise_cosine(keys):
    """Mean cosine between the unit-norm `keys` `[N, D]` of different images.

    Near 0 for spread embeddings; near 1 when the encoder maps every image to
    the same point (a collapse: the loss then climbs to `log(K + 1)`).
    `||sum_i k_i||^2 = N + sum_{i != j} k_i . k_j`, so no `N x N` matrix is built.
    """
    keys = ops.cast(keys, "float32")
    count = ops.cast(ops.shape(keys)[0], "float32")
    total = ops.sum(ops.square(ops.sum(keys, axis=0)))
    return (total - count) / ops.maximum(count * (count - 1.0), 1.0)


def _unpack(data):
    """`(view_1, view_2)` from a batch; a trailing label, if any, is ignored."""
    if not isinstance(data, (tuple, list)) or len(data) < 2:
        raise ValueError(
            "MoCo trains on pairs of views (view_1, view_2). "
            f"Received a batch of type {type(data).__name__}"
        )
    return data[0], data[1]
