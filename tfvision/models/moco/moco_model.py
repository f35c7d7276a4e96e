"""MoCo: momentum-contrast self-supervised pretraining as a `keras.Model`."""

import keras
from keras import ops

from tfvision.layers.image_normalization import ImageNormalization
from tfvision.losses.cross_replica import num_replicas
from tfvision.models.backbones import (
    backbone_normalization,
    get_backbone,
    grid_pooled,
    pooled_feature_size,
)
from tfvision.models.moco.batch_shuffle import (
    batch_shuffle,
    batch_unshuffle,
    cross_replica_batch_shuffle,
    cross_replica_batch_unshuffle,
)
from tfvision.models.moco.key_queue import fifo_enqueue
from tfvision.models.moco.moco_heads import ProjectionHead, l2_normalize
from tfvision.models.moco.moco_train_step import MoCoTrainStepMixin
from tfvision.models.multi_worker import MultiWorkerTrainerMixin


def _clone(backbone, name):
    """A fresh copy of `backbone`'s architecture (own weights) under another name."""
    config = keras.saving.serialize_keras_object(backbone)
    if isinstance(config.get("config"), dict) and "name" in config["config"]:
        config["config"]["name"] = name
    return keras.saving.deserialize_keras_object(config)


@keras.saving.register_keras_serializable(package="tfvision")
class MoCo(MoCoTrainStepMixin, MultiWorkerTrainerMixin, keras.Model):
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
    Calling the model gives the query encoder's features `[B, D]`, the
    representation the kNN monitor, the linear probe and transfer use.
    Logs: `loss`, `positive_similarity` (mean cosine of query and positive
    key) and `learning_rate`.

    Args:
        backbone: a name of `tfvision.models.backbones.backbone_names()`
            (built with random weights at `image_size`), or a `keras.Model`
            mapping normalised images `[B, S, S, 3]` to features `[B, D]`
            (`build_backbone(name, size)`, tfvision `MobileNetV2(include_top=False,
            pooling="avg")`, `SmallCNN`, ...). It becomes the query backbone.
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
        normalization: str or None. `ImageNormalization` mode of the
            backbone's inputs; `None` takes the backbone's (see
            `backbone_normalization`; `"tf"`, `[-1, 1]`, for MobileNetV2 and
            SmallCNN). Defaults to `None`.
        seed: int. Seeds the queue's initial keys and the shuffles.
            Defaults to `0`.
        feature_grid: int >= 1. The features are the backbone's last feature
            map averaged over a `feature_grid` x `feature_grid` grid
            (`GridPooling`), flattened; `1` is the backbone's own pooled
            output. A grid keeps where in the image a feature was seen,
            which global pooling throws away and instance discrimination
            then learns slowly; it needs a backbone with named feature maps.
            The saved backbone weights are the same either way, so the
            classifier and detector take them as usual. Defaults to `1`.
        grayscale: bool. Turn every input image grey before the
            normalisation (`ImageNormalization(grayscale=True)`): for an
            encoder whose training views are all grey, so that it sees grey
            images wherever it is used (kNN monitor, export), not colours it
            never learnt from. Defaults to `False`.
        image_size: int. Input side of a backbone given by name.
            Defaults to `None`.
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
        normalization=None,
        seed=0,
        image_size=None,
        feature_grid=1,
        grayscale=False,
        **kwargs,
    ):
        backbone = get_backbone(backbone, image_size)
        grid_encoder = grid_pooled(backbone, feature_grid)  # the backbone itself for 1
        normalization = normalization or backbone_normalization(backbone)
        _validate(backbone, queue_size, momentum, temperature)
        super().__init__(**kwargs)

        # === Layers ===
        self.normalization = ImageNormalization(normalization, grayscale, name="normalization")
        self.backbone = backbone
        self.head = ProjectionHead(projection_dim, hidden_dims, name="head")
        self.key_backbone = _clone(backbone, f"key_{backbone.name}")
        self.key_head = ProjectionHead(projection_dim, hidden_dims, name="key_head")
        self.feature_grid = int(feature_grid)
        if self.feature_grid > 1:  # models sharing the backbones' layers and weights
            self.grid_encoder = grid_encoder
            self.key_grid_encoder = grid_pooled(self.key_backbone, self.feature_grid)
        feature_shape = (None, self._encoder().output_shape[-1])
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
        # Mean cosine between different images' keys: near 1 is a collapse.
        self.key_similarity_tracker = keras.metrics.Mean(name="key_similarity")
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

    @property
    def grayscale(self):
        """Whether inputs turn grey before the backbone (`ImageNormalization`'s setting)."""
        return self.normalization.grayscale

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
        return [self.loss_tracker, self.positive_similarity_tracker, self.key_similarity_tracker]

    # --- Forward passes ---

    def _encoder(self, key=False):
        """The query (or key) backbone, pooled to `feature_grid` when above 1."""
        if self.feature_grid > 1:
            return self.key_grid_encoder if key else self.grid_encoder
        return self.key_backbone if key else self.backbone

    def call(self, images, training=False):
        """Query encoder features `[B, D]` of images in 0..255 (pooled to `feature_grid`)."""
        return self._encoder()(self.normalization(images), training=training)

    def queries(self, images, training=True):
        """L2-normalised query embeddings `[B, projection_dim]`, float32."""
        features = self._encoder()(self.normalization(images), training=training)
        return l2_normalize(self.head(features, training=training))

    def keys(self, images, seed, training=True):
        """L2-normalised key embeddings `[B, projection_dim]`, shuffle-BN, no gradient."""
        x = self.normalization(images)
        distributed = num_replicas() > 1
        if self.shuffle_bn:
            shuffle = cross_replica_batch_shuffle if distributed else batch_shuffle
            x, restore = shuffle(x, seed)
        keys = l2_normalize(self.key_head(self._encoder(key=True)(x, training=training)))
        if self.shuffle_bn:
            unshuffle = cross_replica_batch_unshuffle if distributed else batch_unshuffle
            keys = unshuffle(keys, restore)
        return ops.stop_gradient(keys)

    def enqueue(self, keys):
        """Writes `keys [N, D]` into the queue, FIFO (see `fifo_enqueue`)."""
        fifo_enqueue(self.queue, self.queue_pointer, keys)

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
                "feature_grid": self.feature_grid,
                "grayscale": self.grayscale,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)


def _validate(backbone, queue_size, momentum, temperature):
    pooled_feature_size(backbone)
    if int(queue_size) < 1:
        raise ValueError(f"`queue_size` must be >= 1. Received: queue_size={queue_size}")
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"`momentum` must be in [0, 1]. Received: momentum={momentum}")
    if not temperature > 0:
        raise ValueError(f"`temperature` must be > 0. Received: temperature={temperature}")
