"""The generic SSD detector: backbone features, extra layers, heads, anchors, loss, NMS."""

import re

import keras
import numpy as np
from keras import ops

from tfvision.layers.anchor_generator import AnchorGenerator
from tfvision.layers.box_decoder import CODINGS, BoxDecoder
from tfvision.layers.image_normalization import ImageNormalization
from tfvision.layers.non_max_suppression import NonMaxSuppression
from tfvision.losses.cross_replica import num_replicas, replica_sum
from tfvision.losses.multibox import CLASSIFICATION_LOSSES, LOCALIZATION_LOSSES, multibox_loss
from tfvision.models.ssd.ssd_head import SSDHead
from tfvision.ops.box_coding import encode_bounded, encode_ssd
from tfvision.ops.targets import assign_targets
from tfvision.models.multi_worker import MultiWorkerTrainerMixin


@keras.saving.register_keras_serializable(package="tfvision")
class SSDDetector(MultiWorkerTrainerMixin, keras.Model):
    """Single-shot multibox detector assembled from small parts.

    Images (float RGB 0..255, `[B, S, S, 3]`) are normalised in the graph and
    run through the backbone's feature extractor; the features named in
    `feature_names` are prediction levels, and each of `extra_layers`, applied
    in turn from the feature `extras_from`, adds one more level. An `SSDHead`
    predicts box codes and class logits for every anchor of every level.
    Anchors are made per level by an `AnchorGenerator` whose grid is the
    level's feature map, with absolute sizes `anchor_scales[l]` (fractions of
    the image side) and `aspect_ratios[l]` (`(h, w)` multipliers).

    `call` returns the raw head outputs; `compute_loss` matches anchors to
    the padded targets (`assign_targets`, batched) and returns
    `multibox_loss`; `postprocess` decodes boxes and runs per-class NMS, and
    `predict_step` returns its padded detections.

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
        anchor_scales: per level, a list of anchor sizes (fraction of the
            image side); one entry is used for every level.
            Defaults to `((0.2,),)`.
        aspect_ratios: per level, a list of `(h, w)` ratios; one entry is
            used for every level. Defaults to `(((1.0, 1.0),),)`.
        head_type: `"separable"` (SSDLite) or `"conv"`. Defaults to `"separable"`.
        class_prior: float, initial class probability of the head (RetinaNet
            bias), or `None`. Defaults to `0.01`.
        coding: `"ssd"` (variances 0.1 / 0.2) or `"bounded"` (the lecture's
            tanh coding). Defaults to `"ssd"`.
        localization: `"smooth_l1"` or `"l1"`. Defaults to `"smooth_l1"`.
        classification: `"bce"`, `"focal"` or `"softmax"` (with a background
            column and 3:1 hard-negative mining). Defaults to `"focal"`.
        focal_alpha, focal_gamma: floats. Defaults to `0.25`, `2.0`.
        negative_ratio: int, for `"softmax"`. Defaults to `3`.
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
    from tfvision.models.ssd import ssdlite_mobilenet_v2
    model = ssdlite_mobilenet_v2(["cat", "dog"], alpha=0.35, image_size=96,
                                 backbone_weights=None)
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
        anchor_scales=((0.2,),),
        aspect_ratios=(((1.0, 1.0),),),
        head_type="separable",
        class_prior=0.01,
        coding="ssd",
        localization="smooth_l1",
        classification="focal",
        focal_alpha=0.25,
        focal_gamma=2.0,
        negative_ratio=3,
        iou_threshold=0.5,
        score_threshold=0.01,
        nms_iou_threshold=0.45,
        pre_nms_top_k=200,
        max_detections=100,
        freeze_backbone=False,
        freeze_batch_norm=None,
        **kwargs,
    ):
        class_names = [str(name) for name in class_names]
        _validate(class_names, coding, localization, classification, feature_names, extra_layers)
        feature_names = list(feature_names)
        extra_layers = list(extra_layers)
        extras_from = extras_from or (feature_names[-1] if feature_names else "final")
        num_levels = len(feature_names) + len(extra_layers)
        anchor_scales = _per_level(anchor_scales, num_levels, "anchor_scales")
        aspect_ratios = _per_level(aspect_ratios, num_levels, "aspect_ratios")
        if freeze_batch_norm is None:
            freeze_batch_norm = bool(freeze_backbone)
        num_outputs = len(class_names) + (1 if classification == "softmax" else 0)

        # === Layers ===
        self.normalization = ImageNormalization("tf", name="normalization")
        self.backbone = backbone
        names = list(dict.fromkeys(feature_names + [extras_from]))
        self.feature_extractor = backbone.feature_extractor(names)
        self.extra_layers = extra_layers
        self.head = SSDHead(
            [len(s) * len(r) for s, r in zip(anchor_scales, aspect_ratios)],
            num_outputs,
            head_type=head_type,
            class_prior=class_prior,
            name="head",
        )
        self.box_decoder = BoxDecoder(coding, name="box_decoder")
        self.box_decoder.built = True  # no weights; used by `postprocess` only
        self.non_max_suppression = NonMaxSuppression(
            score_threshold=score_threshold,
            iou_threshold=nms_iou_threshold,
            pre_nms_top_k=pre_nms_top_k,
            max_detections=max_detections,
            name="non_max_suppression",
        )

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
        outputs = self.head(levels)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Anchors ===
        self.grid_sizes = [(int(f.shape[1]), int(f.shape[2])) for f in levels]
        anchors, grids = [], []
        for (gh, gw), scales, ratios in zip(self.grid_sizes, anchor_scales, aspect_ratios):
            # Cell-relative zooms giving absolute sizes `scale` (square image, gh == gw).
            generator = AnchorGenerator([(gh, gw)], [s * gh for s in scales], ratios)
            anchors.append(generator.numpy())
            grids.append(np.full((generator.num_anchors, 2), (gh, gw), "float32"))
        self.anchors = np.concatenate(anchors)  # [N, 4]
        self.anchor_grid_sizes = np.concatenate(grids)  # [N, 2]
        self.localization_tracker = keras.metrics.Mean(name="localization_loss")
        self.classification_tracker = keras.metrics.Mean(name="classification_loss")

        # === Config ===
        self.class_names = class_names
        self.image_size = int(image_shape[0])
        self.feature_names = feature_names
        self.extras_from = extras_from
        self.anchor_scales = [[float(s) for s in level] for level in anchor_scales]
        self.aspect_ratios = [[[float(h), float(w)] for h, w in level] for level in aspect_ratios]
        self.head_type = head_type
        self.class_prior = class_prior
        self.coding = coding
        self.localization = localization
        self.classification = classification
        self.focal_alpha = float(focal_alpha)
        self.focal_gamma = float(focal_gamma)
        self.negative_ratio = int(negative_ratio)
        self.iou_threshold = float(iou_threshold)
        self.freeze_batch_norm = bool(freeze_batch_norm)
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
        """Box codes of `boxes [B, N, 4]` against `anchors [N, 4]` in this model's coding."""
        if self.coding == "bounded":
            return encode_bounded(boxes, anchors, self.anchor_grid_sizes)
        return encode_ssd(boxes, anchors)

    def assign_targets(self, gt_boxes, gt_labels):
        """Dense anchor targets of padded ground truth; see `tfvision.ops.assign_targets`."""
        anchors = ops.convert_to_tensor(self.anchors)
        return assign_targets(anchors, gt_boxes, gt_labels, self.iou_threshold, self.encode)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Multibox loss of the head outputs against `y = {"boxes", "labels"}`.

        Under a distribution strategy (`model.fit` in `strategy.scope()`),
        each replica divides its slice's sum by the positive anchors of the
        whole global batch, and its share of the layers' own losses by the
        number of replicas: the optimizer sums the replicas' gradients, so
        they equal one device's gradient of the global batch. Keras reports
        the loss multiplied by the number of replicas, and the two parts are
        tracked the same way, so the logged figures are the global batch's.

        Returns:
            Scalar float32: localisation + classification, divided by the
            number of positive anchors of the (global) batch (finite with none).
        """
        targets = self.assign_targets(y["boxes"], y["labels"])
        replicas = num_replicas()
        total_positives = replica_sum(ops.sum(ops.cast(targets["positive"], "float32")))
        losses = multibox_loss(
            y_pred["boxes"],
            y_pred["classes"],
            targets["deltas"],
            targets["labels"],
            targets["positive"],
            localization=self.localization,
            classification=self.classification,
            total_positives=total_positives,
            alpha=self.focal_alpha,
            gamma=self.focal_gamma,
            negative_ratio=self.negative_ratio,
        )
        # A replica's parts sum to the global batch's: the mean over replicas, times R.
        self.localization_tracker.update_state(losses["localization"] * replicas)
        self.classification_tracker.update_state(losses["classification"] * replicas)
        loss = losses["loss"]
        if self.losses:
            loss = loss + ops.cast(ops.sum(self.losses), "float32") / replicas
        return loss

    def class_scores(self, logits):
        """Per-class probabilities `[B, N, C]` from the head's logits (float32)."""
        logits = ops.cast(logits, "float32")
        if self.classification == "softmax":
            return ops.softmax(logits, axis=-1)[..., 1:]  # drop the background column
        return ops.sigmoid(logits)

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
        return {
            "name": self.name,
            "trainable": self.trainable,
            "class_names": list(self.class_names),
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "feature_names": list(self.feature_names),
            "extra_layers": [keras.saving.serialize_keras_object(l) for l in self.extra_layers],
            "extras_from": self.extras_from,
            "anchor_scales": self.anchor_scales,
            "aspect_ratios": self.aspect_ratios,
            "head_type": self.head_type,
            "class_prior": self.class_prior,
            "coding": self.coding,
            "localization": self.localization,
            "classification": self.classification,
            "focal_alpha": self.focal_alpha,
            "focal_gamma": self.focal_gamma,
            "negative_ratio": self.negative_ratio,
            "iou_threshold": self.iou_threshold,
            "score_threshold": self.non_max_suppression.score_threshold,
            "nms_iou_threshold": self.non_max_suppression.iou_threshold,
            "pre_nms_top_k": self.non_max_suppression.pre_nms_top_k,
            "max_detections": self.non_max_suppression.max_detections,
            "freeze_backbone": self.freeze_backbone,
            "freeze_batch_norm": self.freeze_batch_norm,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        config["extra_layers"] = [
            keras.saving.deserialize_keras_object(l) for l in config["extra_layers"]
        ]
        return cls(**config)


def _per_level(values, num_levels, name):
    values = list(values)
    if len(values) == 1:
        values = values * num_levels
    if len(values) != num_levels or any(len(v) == 0 for v in values):
        raise ValueError(
            f"`{name}` must give one non-empty list per level ({num_levels} levels) or one "
            f"for all. Received: {name}={values}"
        )
    return values


def _validate(class_names, coding, localization, classification, feature_names, extra_layers):
    if not class_names:
        raise ValueError(f"`class_names` must not be empty. Received: class_names={class_names}")
    if coding not in CODINGS:
        raise ValueError(f"`coding` must be one of {CODINGS}. Received: coding={coding!r}")
    if localization not in LOCALIZATION_LOSSES:
        raise ValueError(
            f"`localization` must be one of {LOCALIZATION_LOSSES}. "
            f"Received: localization={localization!r}"
        )
    if classification not in CLASSIFICATION_LOSSES:
        raise ValueError(
            f"`classification` must be one of {CLASSIFICATION_LOSSES}. "
            f"Received: classification={classification!r}"
        )
    if not list(feature_names) and not list(extra_layers):
        raise ValueError(
            "An SSDDetector needs at least one level: pass `feature_names` or "
            f"`extra_layers`. Received: feature_names={feature_names}, extra_layers={extra_layers}"
        )
