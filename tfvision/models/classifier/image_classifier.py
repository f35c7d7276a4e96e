"""Transfer-learning image classifier: a pretrained backbone and a new head."""

import warnings

import keras
import numpy as np

from tfvision.layers.image_normalization import ImageNormalization
from tfvision.models.backbones import (
    backbone_normalization,
    get_backbone,
    grid_pooled,
    pooled_feature_size,
)
from tfvision.models.multi_worker import MultiWorkerTrainerMixin

# torchvision's ImageNet evaluation crop (as in `tfvision.data.transforms`; models
# import no data code).
DEFAULT_CROP_FRACTION = 224 / 256


@keras.saving.register_keras_serializable(package="tfvision")
class ImageClassifier(MultiWorkerTrainerMixin, keras.Model):
    """A backbone (frozen by default) with a new feed-forward head.

    The model takes float RGB images in 0..255 at `image_size` x
    `image_size`; the normalisation the backbone expects is the first layer
    of the graph (see `ImageNormalization`), so data pipelines and exported
    SavedModels only ever handle plain pixels. The head is a stack of
    `Dense(units, relu)` + `Dropout` blocks and a final `Dense(num_classes)`
    with softmax (one class per image) or sigmoid (`multi_label=True`: the set
    of classes present in an image). Class names travel in the config, so a
    saved `.keras` checkpoint predicts names on its own.

    Args:
        class_names: list of str. One name per class, in label order.
        backbone: str or `keras.Model`. A name of
            `tfvision.models.backbones.backbone_names()`: `"mobilenet_v2"`
            (tfvision's own), `"mobilenet_v1"` or a `keras.applications` model
            such as `"vgg16"`, `"resnet50"`, `"efficientnetb0"`; or a backbone
            model with pooled features `[B, D]` (for example
            `build_backbone(name, size)`), whose `normalization` attribute
            gives the input normalisation. Defaults to `"mobilenet_v2"`.
        image_size: int. Side of the square input; a backbone model's input
            size must match. Defaults to `224`.
        alpha: float. Width multiplier of backbones that have one (MobileNets),
            for a backbone name. Defaults to `1.0`.
        backbone_weights: `"imagenet"`, `None` (random initialisation) or a
            path to a `.weights.h5` file of the backbone. Defaults to
            `"imagenet"` (downloaded by Keras; see the README for offline use).
            A backbone model keeps its own weights; this then only says
            whether they are pretrained (anything but `None`), for the
            `freeze_batch_norm` default.
        freeze_backbone: bool. Train the head only. Defaults to `True`.
        trainable_backbone_layers: int. With a frozen backbone, the number of
            its top layers that still train (fine-tuning). Defaults to `0`.
        hidden_units: tuple of int. Hidden layer sizes of the head.
            Defaults to `(512,)`.
        dropout: float. Dropout rate after each hidden layer. Defaults to `0.2`.
        multi_label: bool. Sigmoid outputs for multi-hot labels. Defaults to
            `False`.
        freeze_batch_norm: bool or None. Run the backbone's batch norm in
            inference mode even while its layers train (the usual choice when
            fine-tuning pretrained weights). `None` means: when
            `backbone_weights` is given and `freeze_backbone` is true (a
            backbone that trains whole, as from a MoCo pretraining, trains
            its batch norm too). Defaults to `None`.
        normalization: str or None. The `ImageNormalization` mode the
            backbone expects; `None` takes the backbone's (see
            `backbone_normalization`). Defaults to `None`.
        crop_fraction: float in (0, 1]. The evaluation centre crop that
            `predict_top_k`, the recipe's evaluation and the export apply to
            images of another size: the short side is resized to
            `image_size / crop_fraction`, then cropped. `1.0` keeps the whole
            image. Defaults to `224/256` (torchvision's ImageNet evaluation).
        grayscale: bool. Grey every image in the graph before the backbone
            (`ImageNormalization(grayscale=True)`): where colour says nothing
            about the class, or for a backbone pretrained on grey views
            (`moco pretrain --grayscale-probability 1`). Defaults to `False`.
        feature_grid: int >= 1. The head reads the backbone's last feature
            map averaged over `feature_grid` x `feature_grid` cells (see
            `grid_pooled`); `1` is the backbone's global pooling. Use the
            grid a `moco pretrain --feature-grid` backbone was trained with.
            Defaults to `1`.

    Example:

    >>> model = ImageClassifier(["cat", "dog"], image_size=96, alpha=0.35,
    ...                         backbone_weights=None, freeze_backbone=False)
    >>> model.compile()
    >>> scores, names = model.predict_top_k(np.zeros((96, 96, 3)), k=2)
    """

    def __init__(
        self,
        class_names,
        backbone="mobilenet_v2",
        image_size=224,
        alpha=1.0,
        backbone_weights="imagenet",
        freeze_backbone=True,
        trainable_backbone_layers=0,
        hidden_units=(512,),
        dropout=0.2,
        multi_label=False,
        freeze_batch_norm=None,
        normalization=None,
        crop_fraction=DEFAULT_CROP_FRACTION,
        grayscale=False,
        feature_grid=1,
        **kwargs,
    ):
        class_names = [str(name) for name in class_names]
        if len(class_names) < 2 and not multi_label:
            raise ValueError(
                "An ImageClassifier needs at least 2 classes. "
                f"Received: class_names={class_names}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout}")
        if trainable_backbone_layers < 0:
            raise ValueError(
                "`trainable_backbone_layers` must be >= 0. "
                f"Received: trainable_backbone_layers={trainable_backbone_layers}"
            )
        if not 0.0 < float(crop_fraction) <= 1.0:
            raise ValueError(
                f"`crop_fraction` must be in (0, 1]. Received: crop_fraction={crop_fraction}"
            )
        if freeze_batch_norm is None:
            # Pretrained statistics stay while the backbone is (partly) frozen;
            # a backbone that trains whole trains its batch norm too.
            freeze_batch_norm = backbone_weights is not None and bool(freeze_backbone)
        if freeze_backbone and backbone_weights is None and not freeze_batch_norm:
            warnings.warn(
                "The backbone is frozen with random weights, so only the head "
                "will learn. Pass backbone_weights='imagenet' (or a file) or "
                "freeze_backbone=False.",
                stacklevel=2,
            )

        # === Layers ===
        backbone_name = backbone if isinstance(backbone, str) else None
        backbone = get_backbone(backbone, image_size, weights=backbone_weights, alpha=alpha)
        _check_backbone(backbone, image_size)
        self.normalization = ImageNormalization(
            normalization or backbone_normalization(backbone), grayscale, name="normalization"
        )
        self.backbone = backbone
        self.head_layers = []
        for i, units in enumerate(hidden_units):
            self.head_layers.append(
                keras.layers.Dense(units, activation="relu", name=f"hidden_{i}")
            )
            self.head_layers.append(keras.layers.Dropout(dropout, name=f"dropout_{i}"))
        self.output_dense = keras.layers.Dense(
            len(class_names),
            activation="sigmoid" if multi_label else "softmax",
            dtype="float32",
            name="predictions",
        )

        # === Functional Model ===
        inputs = keras.Input((image_size, image_size, 3), name="images")
        x = self.normalization(inputs)
        features = grid_pooled(self.backbone, feature_grid)  # the backbone itself for 1
        x = features(x, training=False if freeze_batch_norm else None)
        for layer in self.head_layers:
            x = layer(x)
        outputs = self.output_dense(x)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.class_names = class_names
        self.backbone_name = backbone_name
        self.image_size = image_size
        self.alpha = alpha
        self.hidden_units = tuple(hidden_units)
        self.feature_grid = int(feature_grid)
        self.dropout = dropout
        self.multi_label = multi_label
        self.freeze_batch_norm = freeze_batch_norm
        self.crop_fraction = float(crop_fraction)
        self.freeze_backbone = freeze_backbone
        self.trainable_backbone_layers = 0
        self.set_backbone_trainable(freeze_backbone, trainable_backbone_layers)

    def set_backbone_trainable(self, freeze_backbone, trainable_layers=0):
        """Freezes the backbone, or lets all or its top layers train.

        Recompile the model afterwards for the change to take effect.

        Args:
            freeze_backbone: bool. Freeze the backbone.
            trainable_layers: int. With `freeze_backbone=True`, the number of
                top backbone layers (MobileNetV2 blocks, or layers of a
                `keras.applications` model) that still train. Defaults to `0`.
        """
        self.freeze_backbone = bool(freeze_backbone)
        self.trainable_backbone_layers = int(trainable_layers) if freeze_backbone else 0
        layers = [layer for layer in self.backbone.layers if layer.weights]
        first_trainable = len(layers) - self.trainable_backbone_layers if freeze_backbone else 0
        self.backbone.trainable = first_trainable < len(layers)
        for i, layer in enumerate(layers):
            layer.trainable = i >= first_trainable
        if self.freeze_batch_norm:
            # A frozen Keras batch norm runs in inference mode. The backbone's
            # `training=False` alone is not enough: an outer `training=True`
            # overrides it in a functional model, so unfrozen blocks would
            # normalise with batch statistics and move the pretrained ones.
            for layer in self.backbone._flatten_layers():
                if isinstance(layer, keras.layers.BatchNormalization):
                    layer.trainable = False

    def compile(self, optimizer="auto", loss="auto", metrics="auto", learning_rate=1e-3, **kwargs):
        """Compiles with defaults that fit the task.

        Args:
            optimizer: `"auto"` for `Adam(learning_rate)`, or any Keras
                optimizer. Defaults to `"auto"`.
            loss: `"auto"` for sparse categorical cross-entropy (binary
                cross-entropy when `multi_label`). Defaults to `"auto"`.
            metrics: `"auto"` for accuracy (binary accuracy when
                `multi_label`). Defaults to `"auto"`.
            learning_rate: float. Used by `optimizer="auto"`. Defaults to `1e-3`.
            **kwargs: passed to `keras.Model.compile`.
        """
        if optimizer == "auto":
            optimizer = keras.optimizers.Adam(learning_rate)
        if loss == "auto":
            loss = (
                keras.losses.BinaryCrossentropy()
                if self.multi_label
                else keras.losses.SparseCategoricalCrossentropy()
            )
        if metrics == "auto":
            metrics = [
                keras.metrics.BinaryAccuracy(name="accuracy")
                if self.multi_label
                else keras.metrics.SparseCategoricalAccuracy(name="accuracy")
            ]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def compile_from_config(self, config):
        # `compile` is overridden only to fill in defaults; a saved compile
        # config holds the resolved optimizer, loss and metrics.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def predict_top_k(self, images, k=5, batch_size=32):
        """The `k` most probable classes, highest first.

        Args:
            images: an image path (str), a list of paths, an image array
                `[H, W, 3]`, or a batch `[N, H, W, 3]`, RGB in 0..255. Paths and
                arrays of another size are resized on their short side and
                centre-cropped, as in evaluation.
            k: int. Number of classes to return (at most the number of
                classes). Defaults to `5`.
            batch_size: int. Defaults to `32`.

        Returns:
            `(scores, names)`: probabilities `[k]` and a list of `k` class
            names for a single image, or `[N, k]` and `N` lists for a batch.
        """
        from tfvision.data.images import load_images_for_model

        if k < 1:
            raise ValueError(f"`k` must be >= 1. Received: k={k}")
        k = min(k, len(self.class_names))
        batch, single = load_images_for_model(images, self.image_size, self.crop_fraction)
        probabilities = self.predict(batch, batch_size=batch_size, verbose=0)
        order = np.argsort(-probabilities, axis=-1, kind="stable")[:, :k]  # [N, k]
        scores = np.take_along_axis(probabilities, order, axis=-1)
        names = [[self.class_names[i] for i in row] for row in order]
        if single:
            return scores[0], names[0]
        return scores, names

    def get_config(self):
        # The weights live in the saved file; rebuilding from the config must
        # not download them again.
        return {
            "name": self.name,
            "trainable": self.trainable,
            "class_names": list(self.class_names),
            "backbone": self.backbone_name
            or keras.saving.serialize_keras_object(self.backbone),
            "image_size": self.image_size,
            "alpha": self.alpha,
            "backbone_weights": None,
            "freeze_backbone": self.freeze_backbone,
            "trainable_backbone_layers": self.trainable_backbone_layers,
            "hidden_units": list(self.hidden_units),
            "dropout": self.dropout,
            "multi_label": self.multi_label,
            "freeze_batch_norm": self.freeze_batch_norm,
            "normalization": self.normalization.mode,
            "crop_fraction": self.crop_fraction,
            "grayscale": self.normalization.grayscale,
            "feature_grid": self.feature_grid,
        }


def _check_backbone(backbone, image_size):
    """Raise `ValueError` unless `backbone` gives pooled features of `image_size` images."""
    pooled_feature_size(backbone)
    size = backbone.input_shape[1:3]
    if any(side not in (None, image_size) for side in size):
        raise ValueError(
            f"`image_size` must match the backbone's input {tuple(size)}. "
            f"Received: image_size={image_size}"
        )
