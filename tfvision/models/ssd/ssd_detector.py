"""The generic SSD detector: backbone features, extra layers, heads, anchors, loss, NMS."""

import re

import keras
from keras import ops

from tfvision.layers.box_decoder import BoxDecoder
from tfvision.layers.image_normalization import ImageNormalization
from tfvision.layers.non_max_suppression import NonMaxSuppression
from tfvision.models.ssd.ssd_loss import replica_loss
from tfvision.models.ssd.ssd_parts import (
    SHORTCUTS,
    assemble_parts,
    check_head_outputs,
    parts_config,
    stack_anchors,
)
from tfvision.ops.targets import assign_targets
from tfvision.models.multi_worker import MultiWorkerTrainerMixin

# Config entries that are attributes of the same name; the parts' shortcuts among them.
_CONFIG_ATTRIBUTES = ("name", "trainable", "extras_from", "class_prior", "iou_threshold",
                      "freeze_backbone", "freeze_batch_norm", *sum(SHORTCUTS.values(), ()))


@keras.saving.register_keras_serializable(package="tfvision")
class SSDDetector(MultiWorkerTrainerMixin, keras.Model):
    """Single-shot multibox detector assembled from small parts.

    Images (float RGB 0..255, `[B, S, S, 3]`) are normalised in the graph and
    run through the backbone's feature extractor; the features named in
    `feature_names` are prediction levels, and each of `extra_layers`, applied
    in turn from the feature `extras_from`, adds one more level. Four parts do
    the rest, each handed in as an object or built from its shortcuts (never
    both; see `tfvision.models.ssd.ssd_parts`): the anchor generator(s) place
    anchors on the levels' grids, the head predicts box codes and class logits
    for every anchor, the box coder encodes the matched ground truth and
    decodes the predictions, and the loss compares them.

    `call` returns the raw head outputs; `compute_loss` matches anchors to
    the padded targets (`assign_targets`, batched) and returns the loss;
    `postprocess` decodes boxes and runs per-class NMS, and `predict_step`
    returns its padded detections.

    Args:
        class_names: list of str, one per class `C`.
        backbone: a `MobileNetV2` (`include_top=False`) or any `keras.Model`
            with `pyramid_outputs` and `feature_extractor(names)`; its
            `input_shape_` gives the image size.
        feature_names: list of backbone features used as levels.
            Defaults to `("final",)`.
        extra_layers: list of layers, each making one more level from the
            previous one. Defaults to `()`.
        extras_from: backbone feature the extra layers start from; defaults
            to the last of `feature_names`.
        head: a layer mapping the list of level features to `{"boxes":
            [B, N, 4], "classes": [B, N, K]}`, rows in anchor order (an
            `SSDHead`, or one head shared over the levels), or `None` for an
            `SSDHead` of `head_type`. Defaults to `None`.
        box_coder: a `tfvision.layers.BoxCoder`, or `None` for the one
            `coding` names. Defaults to `None`.
        anchor_generator: an `AnchorGenerator`, or a list of them, whose grids
            in order are the levels' feature-map sizes, or `None` for one per
            level from `anchor_scales` and `aspect_ratios`. Defaults to `None`.
        loss: a `tfvision.losses.MultiboxLoss` or an object with its interface,
            or `None` for a `MultiboxLoss` of `classification`, `localization`,
            `focal_alpha`, `focal_gamma`, `negative_ratio`, `class_weights`.
            Defaults to `None`.
        anchor_scales, aspect_ratios, head_type, coding: shortcuts building
            the parts not handed in (none may go with its part), `None`
            meaning the default listed in `tfvision.models.ssd.ssd_parts`.
            Default to `None`.
        classification, localization, focal_alpha, focal_gamma, negative_ratio:
            loss shortcuts, likewise (none may go with `loss`). Default to
            `None`.
        class_weights: `None` or `C` floats, a loss shortcut: the
            classification loss weight of each class's positive anchors (see
            `tfvision.losses.class_balance_weights`). Defaults to `None`.
        class_prior: float, initial class probability of the `head_type`
            head (RetinaNet bias), or `None`. Defaults to `0.01`.
        iou_threshold: float, matching threshold. Defaults to `0.5`.
        score_threshold: float, NMS score threshold. Defaults to `0.01`.
        nms_iou_threshold: float. Defaults to `0.45`.
        pre_nms_top_k: int. Defaults to `200`.
        max_detections: int `K`. Defaults to `100`.
        freeze_backbone: bool, train only the layers after the backbone.
            Defaults to `False`.
        freeze_batch_norm: bool or None, run the backbone's batch norm in
            inference mode; `None` means `freeze_backbone`. Defaults to `None`.
        **kwargs: `keras.Model` arguments (`name`, `trainable`).

    References:
        - [Liu et al., 2016. SSD: Single Shot MultiBox
          Detector](https://arxiv.org/abs/1512.02325)
        - [Sandler et al., 2018. MobileNetV2](https://arxiv.org/abs/1801.04381), §6.2.

    Example:

    ```python
    import numpy as np
    from tfvision.losses import MultiboxLoss
    from tfvision.models.ssd import ssdlite_mobilenet_v2
    model = ssdlite_mobilenet_v2(["cat", "dog"], alpha=0.35, image_size=96,
                                 backbone_weights=None, loss=MultiboxLoss("softmax"))
    raw = model(np.zeros((1, 96, 96, 3)))          # {"boxes", "classes"}
    detections = model.postprocess(raw)            # padded, with a count
    ```
    """

    def __init__(
        self,
        class_names,
        backbone,
        feature_names=("final",),
        extra_layers=(),
        extras_from=None,
        anchor_scales=None,
        aspect_ratios=None,
        head_type=None,
        class_prior=0.01,
        coding=None,
        localization=None,
        classification=None,
        focal_alpha=None,
        focal_gamma=None,
        negative_ratio=None,
        class_weights=None,
        iou_threshold=0.5,
        score_threshold=0.01,
        nms_iou_threshold=0.45,
        pre_nms_top_k=200,
        max_detections=100,
        freeze_backbone=False,
        freeze_batch_norm=None,
        head=None,
        box_coder=None,
        anchor_generator=None,
        loss=None,
        **kwargs,
    ):
        class_names = [str(name) for name in class_names]
        _validate(class_names, feature_names, extra_layers)
        feature_names = list(feature_names)
        extra_layers = list(extra_layers)
        extras_from = extras_from or (feature_names[-1] if feature_names else "final")
        if freeze_batch_norm is None:
            freeze_batch_norm = bool(freeze_backbone)

        # === Layers ===
        self.normalization = ImageNormalization("tf", name="normalization")
        self.backbone = backbone
        names = list(dict.fromkeys(feature_names + [extras_from]))
        self.feature_extractor = backbone.feature_extractor(names)
        self.extra_layers = extra_layers

        # === Functional Model ===
        image_shape = tuple(backbone.input_shape_)
        inputs = keras.Input(image_shape, name="images")
        x = self.normalization(inputs)
        features = self.feature_extractor(x)
        levels = [features[name] for name in feature_names]
        x = features[extras_from]
        for layer in extra_layers:
            x = layer(x)
            levels.append(x)
        grid_sizes = [(int(f.shape[1]), int(f.shape[2])) for f in levels]
        parts = assemble_parts(
            grid_sizes, len(class_names), class_prior, head=head, head_type=head_type,
            box_coder=box_coder, coding=coding, anchor_generator=anchor_generator,
            anchor_scales=anchor_scales, aspect_ratios=aspect_ratios, loss=loss,
            classification=classification, localization=localization,
            focal_alpha=focal_alpha, focal_gamma=focal_gamma, negative_ratio=negative_ratio,
            class_weights=class_weights,
        )
        _check_loss_classes(parts.loss, class_names)
        self.head = parts.head
        outputs = self.head(levels)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Parts ===
        self.grid_sizes = grid_sizes
        self.anchor_generators = parts.anchor_generators
        self.anchors, self.anchor_grid_sizes = stack_anchors(parts.anchor_generators)
        check_head_outputs(outputs, self.num_anchors, parts.loss.num_outputs(len(class_names)))
        self.box_coder = parts.box_coder
        self.box_decoder = BoxDecoder(self.box_coder, name="box_decoder")
        self.box_decoder.built = True  # no weights; used by `postprocess` only
        self.non_max_suppression = NonMaxSuppression(
            None, score_threshold, nms_iou_threshold, pre_nms_top_k, max_detections,
            name="non_max_suppression",
        )
        self.detection_loss = parts.loss
        self.localization_tracker = keras.metrics.Mean(name="localization_loss")
        self.classification_tracker = keras.metrics.Mean(name="classification_loss")

        # === Config ===
        self.class_names = class_names
        self.image_size = int(image_shape[0])
        self.feature_names = feature_names
        self.extras_from = extras_from
        for name, value in parts.shortcuts.items():  # `None` for the parts handed in
            setattr(self, name, value)
        self.class_prior = class_prior
        self.iou_threshold = float(iou_threshold)
        self.freeze_batch_norm = bool(freeze_batch_norm)
        self._given_parts = parts.given
        self.set_backbone_trainable(not freeze_backbone)

    @property
    def num_anchors(self):
        """Number of anchors `N`, rows of the head outputs."""
        return int(self.anchors.shape[0])

    def set_backbone_trainable(self, trainable):
        """Freezes (`False`) or unfreezes (`True`) the backbone; recompile afterwards.

        With `freeze_batch_norm`, the backbone's batch-norm layers stay frozen
        (a frozen Keras batch norm runs in inference mode, with its moving
        statistics) even when the rest of the backbone trains.
        """
        self.freeze_backbone = not trainable
        self.backbone.trainable = bool(trainable)
        # Every layer too: a backbone rebuilt from a config saying `trainable: false`
        # (a loaded checkpoint) has its layers trainable and ignores the setter above.
        for layer in self.backbone._flatten_layers(include_self=False):
            layer.trainable = bool(trainable)
            if self.freeze_batch_norm and isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False

    def backbone_variable_pattern(self):
        """A regular expression matching the paths of the backbone's variables.

        For `GroupedOptimizer`: the backbone's variables take one learning
        rate, the extra layers and heads another.
        """
        names = sorted({v.path.split("/")[0] for v in self.backbone.weights})
        return "^(" + "|".join(re.escape(name) for name in names) + ")/"

    def encode(self, boxes, anchors):
        """Box codes of `boxes [B, N, 4]` against `anchors [N, 4]` by this model's box coder."""
        return self.box_coder.encode(anchors, boxes, self.anchor_grid_sizes)

    def assign_targets(self, gt_boxes, gt_labels):
        """Dense anchor targets of padded ground truth; see `tfvision.ops.assign_targets`."""
        anchors = ops.convert_to_tensor(self.anchors)
        return assign_targets(anchors, gt_boxes, gt_labels, self.iou_threshold, self.encode)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The loss of `y_pred` against `y = {"boxes", "labels"}`; see `replica_loss`."""
        targets = self.assign_targets(y["boxes"], y["labels"])
        losses = replica_loss(self.detection_loss, targets, y_pred, self.losses)
        self.localization_tracker.update_state(losses["localization"])
        self.classification_tracker.update_state(losses["classification"])
        return losses["loss"]

    def class_scores(self, logits):
        """Per-class probabilities `[B, N, C]` from the head's logits, as the loss reads them."""
        return self.detection_loss.class_scores(logits)

    def postprocess(self, raw_outputs):
        """Decodes the head outputs and runs per-class NMS, in float32.

        Args:
            raw_outputs: `{"boxes": [B, N, 4] codes, "classes": [B, N, K] logits}`.

        Returns:
            `{"boxes": [B, K, 4] relative yxyx, "scores": [B, K],
            "classes": [B, K] int32 (-1 at padding), "num_detections": [B] int32}`.
        """
        anchors = ops.convert_to_tensor(self.anchors)
        grid = ops.convert_to_tensor(self.anchor_grid_sizes)
        boxes = self.box_decoder(raw_outputs["boxes"], anchors, grid)
        return self.non_max_suppression(boxes, self.class_scores(raw_outputs["classes"]))

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self.postprocess(self(x, training=False))

    def get_config(self):
        nms = self.non_max_suppression
        config = {name: getattr(self, name) for name in _CONFIG_ATTRIBUTES}
        config.update(
            class_names=list(self.class_names),
            backbone=keras.saving.serialize_keras_object(self.backbone),
            feature_names=list(self.feature_names),
            extra_layers=[keras.saving.serialize_keras_object(l) for l in self.extra_layers],
            score_threshold=nms.score_threshold,
            nms_iou_threshold=nms.iou_threshold,
            pre_nms_top_k=nms.pre_nms_top_k,
            max_detections=nms.max_detections,
        )
        parts = {"head": self.head, "box_coder": self.box_coder,
                 "anchor_generator": list(self.anchor_generators), "loss": self.detection_loss}
        config.update(parts_config(parts, self._given_parts))
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        config["extra_layers"] = [
            keras.saving.deserialize_keras_object(l) for l in config["extra_layers"]
        ]
        return cls(**config)  # the parts are deserialized by `ssd_parts`


def _check_loss_classes(loss, class_names):
    weights = getattr(loss, "class_weights", None)
    if weights is not None and len(weights) != len(class_names):
        raise ValueError(
            f"`class_weights` must give one weight per class ({len(class_names)}: "
            f"{class_names}). Received: class_weights={list(weights)}"
        )


def _validate(class_names, feature_names, extra_layers):
    if not class_names:
        raise ValueError(f"`class_names` must not be empty. Received: class_names={class_names}")
    if not list(feature_names) and not list(extra_layers):
        raise ValueError(
            "An SSDDetector needs at least one level: pass `feature_names` or "
            f"`extra_layers`. Received: feature_names={feature_names}, extra_layers={extra_layers}"
        )
