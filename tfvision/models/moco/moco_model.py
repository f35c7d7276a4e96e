"""MoCo: momentum-contrast self-supervised pretraining as a `keras.Model`."""

import keras
import tensorflow as tf
from keras import ops

from tfvision.layers.image_normalization import ImageNormalization
from tfvision.losses.cross_replica import num_replicas
from tfvision.losses.info_nce import info_nce_loss
from tfvision.models.moco.batch_shuffle import (
    batch_shuffle,
    batch_unshuffle,
    cross_replica_batch_shuffle,
    cross_replica_batch_unshuffle,
)
from tfvision.models.moco.key_queue import fifo_enqueue
from tfvision.models.moco.moco_heads import ProjectionHead, l2_normalize
from tfvision.models.moco.momentum import momentum_update
from tfvision.models.multi_worker import MultiWorkerTrainerMixin, in_multi_worker_mode


def _clone(backbone, name):
    """A fresh copy of `backbone`'s architecture (own weights) under another name."""
    config = keras.saving.serialize_keras_object(backbone)
    if isinstance(config.get("config"), dict) and "name" in config["config"]:
        config["config"]["name"] = name
    return keras.saving.deserialize_keras_object(config)


@keras.saving.register_keras_serializable(package="tfvision")
class MoCo(MultiWorkerTrainerMixin, keras.Model):
    """Momentum Contrast (MoCo v1 / v2) with a custom `train_step`.

    A query encoder (`backbone` + `ProjectionHead`) is trained so that its
    embedding of one augmented view of an image picks out the key of the
    other view among `queue_size` negative keys from earlier batches
    (InfoNCE, positive at index 0). The key encoder is a momentum copy of the
    query encoder, `k = m · k + (1 - m) · q`, updated before the keys are
    computed and never trained by gradients; its batch norms run in training
    mode on a shuffled batch (shuffle-BN; across replicas under a
    `tf.distribute` strategy). Keys of every replica are gathered and
    enqueued FIFO into the queue, a non-trainable weight `[K, D]` with a
    pointer that wraps, so checkpoints carry both. With `symmetric=True`
    both views serve as queries, the two losses are summed and both key sets
    are enqueued (the CIFAR-10 demo's symmetric loss).

    `fit` takes a dataset of view pairs `(view_1, view_2)`, images in
    0..255 (see `tfvision.data.positive_pairs`); the model normalises.
    Calling the model gives the query backbone's features `[B, D]`, the
    representation the kNN monitor, the linear probe and transfer use.
    Logs: `loss`, `positive_similarity` (mean cosine of query and positive
    key) and `learning_rate`.

    Args:
        backbone: `keras.Model` mapping normalised images `[B, S, S, 3]` to
            features `[B, D]` (tfvision `MobileNetV2(include_top=False,
            pooling="avg")`, `SmallCNN`, a `keras.applications` model with
            `pooling="avg"`). It becomes the query backbone.
        projection_dim: int. Embedding size. Defaults to `128`.
        hidden_dims: tuple of int. Hidden sizes of the projection head:
            `(2048,)` for v2's MLP, `()` for v1's linear head.
            Defaults to `(2048,)`.
        queue_size: int. Negatives K. Defaults to `4096`.
        momentum: float in [0, 1]. Key encoder momentum m. Defaults to `0.99`.
        temperature: float > 0. T: 0.07 in v1, 0.2 in v2. Defaults to `0.2`.
        symmetric: bool. Symmetric loss. Defaults to `False`.
        shuffle_bn: bool. Shuffle the key batch (across replicas when
            distributed). Defaults to `True`.
        normalization: str. `ImageNormalization` mode of the backbone's
            inputs. Defaults to `"tf"` (`[-1, 1]`, MobileNetV2's).
        seed: int. Seeds the queue's initial keys and the shuffles.
            Defaults to `0`.
        **kwargs: Base model keyword arguments (`name`, ...).

    References:
        - [He et al., 2019. Momentum Contrast for Unsupervised Visual
          Representation Learning](https://arxiv.org/abs/1911.05722), Algorithm 1.
        - [Chen et al., 2020. Improved Baselines with Momentum Contrastive
          Learning](https://arxiv.org/abs/2003.04297).

    Example:

    ```python
    import keras
    from tfvision.data import positive_pairs_dataset
    from tfvision.models.moco import MoCo, SmallCNN

    pairs, count = positive_pairs_dataset("shapes", 32, batch_size=64, num_images=1024)
    model = MoCo(SmallCNN((32, 32, 3)), queue_size=256)
    model.compile(optimizer=keras.optimizers.SGD(0.06, momentum=0.9))
    model.fit(pairs, epochs=1)  # batches of (view_1, view_2)
    features = model.predict(next(iter(pairs))[0])  # [64, 128] backbone features
    ```
    """

    def __init__(
        self,
        backbone,
        projection_dim=128,
        hidden_dims=(2048,),
        queue_size=4096,
        momentum=0.99,
        temperature=0.2,
        symmetric=False,
        shuffle_bn=True,
        normalization="tf",
        seed=0,
        **kwargs,
    ):
        if isinstance(backbone, dict):
            backbone = keras.saving.deserialize_keras_object(backbone)
        _validate(backbone, queue_size, momentum, temperature)
        super().__init__(**kwargs)

        # === Layers ===
        self.normalization = ImageNormalization(normalization, name="normalization")
        self.backbone = backbone
        self.head = ProjectionHead(projection_dim, hidden_dims, name="head")
        self.key_backbone = _clone(backbone, f"key_{backbone.name}")
        self.key_head = ProjectionHead(projection_dim, hidden_dims, name="key_head")
        feature_shape = (None, backbone.output_shape[-1])
        self.head.build(feature_shape)
        self.key_head.build(feature_shape)
        self.queue = self.add_weight(
            shape=(int(queue_size), int(projection_dim)),
            initializer=keras.initializers.RandomNormal(seed=seed),
            trainable=False, autocast=False, dtype="float32", name="queue",
            aggregation="only_first_replica",
        )
        self.queue.assign(l2_normalize(self.queue))
        self.queue_pointer = self.add_weight(
            shape=(), initializer="zeros", dtype="int32", trainable=False,
            name="queue_pointer", aggregation="only_first_replica",
        )
        for query, key in zip(self._query_weights(), self._key_weights()):
            key.assign(query)  # The key encoder starts as a copy.
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.positive_similarity_tracker = keras.metrics.Mean(name="positive_similarity")
        self.built = True

        # === Config ===
        self.projection_dim = int(projection_dim)
        self.hidden_dims = tuple(int(units) for units in hidden_dims)
        self.queue_size = int(queue_size)
        self.momentum = float(momentum)
        self.temperature = float(temperature)
        self.symmetric = bool(symmetric)
        self.shuffle_bn = bool(shuffle_bn)
        self.normalization_mode = normalization
        self.seed = int(seed)

    # --- Which weights the optimizer sees: the query encoder's only. ---

    def _query_weights(self):
        return self.backbone.trainable_weights + self.head.trainable_weights

    def _key_weights(self):
        return self.key_backbone.trainable_weights + self.key_head.trainable_weights

    def _key_ids(self):
        return {id(v) for v in self.key_backbone.weights + self.key_head.weights}

    @property
    def trainable_weights(self):
        keys = self._key_ids()
        return [v for v in super().trainable_weights if id(v) not in keys]

    @property
    def non_trainable_weights(self):
        trainable = {id(v) for v in self.trainable_weights}
        return [v for v in self.weights if id(v) not in trainable]

    @property
    def trainable_variables(self):
        return self.trainable_weights

    @property
    def non_trainable_variables(self):
        trainable = {id(v) for v in self.trainable_weights}
        return [v for v in self.variables if id(v) not in trainable]

    @property
    def metrics(self):
        return [self.loss_tracker, self.positive_similarity_tracker]

    # --- Forward passes ---

    def call(self, images, training=False):
        """Query backbone features `[B, D]` of images in 0..255."""
        return self.backbone(self.normalization(images), training=training)

    def queries(self, images, training=True):
        """L2-normalised query embeddings `[B, projection_dim]`, float32."""
        features = self.backbone(self.normalization(images), training=training)
        return l2_normalize(self.head(features, training=training))

    def keys(self, images, seed, training=True):
        """L2-normalised key embeddings `[B, projection_dim]`, shuffle-BN, no gradient."""
        x = self.normalization(images)
        distributed = num_replicas() > 1
        if self.shuffle_bn:
            shuffle = cross_replica_batch_shuffle if distributed else batch_shuffle
            x, restore = shuffle(x, seed)
        keys = l2_normalize(self.key_head(self.key_backbone(x, training=training)))
        if self.shuffle_bn:
            unshuffle = cross_replica_batch_unshuffle if distributed else batch_unshuffle
            keys = unshuffle(keys, restore)
        return ops.stop_gradient(keys)

    def enqueue(self, keys):
        """Writes `keys [N, D]` into the queue, FIFO (see `fifo_enqueue`)."""
        fifo_enqueue(self.queue, self.queue_pointer, keys)

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
        return self._update_metrics(loss, positive)

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
        return self._update_metrics(loss, positive)

    def _update_metrics(self, loss, positive):
        self.loss_tracker.update_state(loss)
        self.positive_similarity_tracker.update_state(positive)
        logs = {m.name: m.result() for m in self.metrics}
        if self.optimizer is not None:
            logs["learning_rate"] = ops.convert_to_tensor(self.optimizer.learning_rate)
        return logs

    def save_backbone_weights(self, path):
        """Saves the query backbone alone as a `.weights.h5` file (the transfer contract).

        A tfvision `MobileNetV2` backbone's file loads with
        `MobileNetV2(alpha, input_shape, include_top=False, weights=path)`,
        `ImageClassifier(backbone_weights=path)` and the SSD detector's
        `backbone_weights=path`.
        """
        if not str(path).endswith(".weights.h5"):
            raise ValueError(f"The path must end in .weights.h5. Received: path={path}")
        self.backbone.save_weights(path)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "backbone": keras.saving.serialize_keras_object(self.backbone),
                "projection_dim": self.projection_dim,
                "hidden_dims": list(self.hidden_dims),
                "queue_size": self.queue_size,
                "momentum": self.momentum,
                "temperature": self.temperature,
                "symmetric": self.symmetric,
                "shuffle_bn": self.shuffle_bn,
                "normalization": self.normalization_mode,
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)


def _unpack(data):
    """`(view_1, view_2)` from a batch; a trailing label, if any, is ignored."""
    if not isinstance(data, (tuple, list)) or len(data) < 2:
        raise ValueError(
            "MoCo trains on pairs of views (view_1, view_2). "
            f"Received a batch of type {type(data).__name__}"
        )
    return data[0], data[1]


def _validate(backbone, queue_size, momentum, temperature):
    if not isinstance(backbone, keras.Model) or len(backbone.output_shape) != 2:
        raise ValueError(
            "`backbone` must be a keras.Model with pooled features [B, D] "
            "(for example pooling='avg'). Received: "
            f"{getattr(backbone, 'output_shape', type(backbone).__name__)}"
        )
    if int(queue_size) < 1:
        raise ValueError(f"`queue_size` must be >= 1. Received: queue_size={queue_size}")
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"`momentum` must be in [0, 1]. Received: momentum={momentum}")
    if not temperature > 0:
        raise ValueError(f"`temperature` must be > 0. Received: temperature={temperature}")
