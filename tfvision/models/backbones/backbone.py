"""The backbone interface: a model that gives named feature maps."""

import keras

from tfvision.layers.grid_pooling import GridPooling


class Backbone:
    """A functional `keras.Model` that gives named feature maps; every task stands on one.

    A backbone maps normalised images `[B, S, S, 3]` to its output: pooled
    features `[B, D]` when built with `pooling="avg"` (what `ImageClassifier`
    and `MoCo` take), its last feature map `[B, S / 32, S / 32, C]` with
    `pooling=None`. It also gives, by name, the feature maps a detector
    predicts from. A backbone class lists this class first
    (`class MobileNetV2(Backbone, keras.Model)`), builds its functional graph
    and sets the attributes below; `feature_extractor` comes with the class.
    Register a builder with `register_backbone` to make it available by name.

    The feature-map names are shared, so that a detector preset works on any
    backbone: `"stride_N"` is the last map at output stride N (`"stride_8"`,
    `"stride_16"`, `"stride_32"`); `"stride_N_expanded"` is the 1x1 expansion
    of the first block that leaves stride N, when the architecture has one
    (SSDLite's first level, Sandler et al. §6.2); `"final"` is the last map,
    the one that is pooled.

    Attributes:
        input_shape_: tuple `(S, S, 3)`, the input image shape.
        normalization: str, the `ImageNormalization` mode the weights expect
            (`"tf"`: pixels to `[-1, 1]`). Tasks put that layer first in their
            graph, so the backbone itself never sees plain pixels.
            Defaults to `"tf"`.
        pyramid_outputs: dict `{name: Keras tensor [B, H, W, C]}` of the
            backbone's graph, the named feature maps.

    References:
        - [Sandler et al., 2018. MobileNetV2](https://arxiv.org/abs/1801.04381), §6.2.

    Example:

    ```python
    from tfvision.models.backbones import build_backbone
    backbone = build_backbone("mobilenet_v1", 96, alpha=0.25)
    backbone.output.shape  # (None, 256): pooled features
    maps = backbone.feature_extractor(["stride_16", "final"])
    maps.output["stride_16"].shape  # (None, 6, 6, 128)
    ```
    """

    normalization = "tf"

    def feature_extractor(self, names=None):
        """A model from the input images to a dict of named feature maps.

        Args:
            names: list of keys of `pyramid_outputs`, or `None` for all.
                Defaults to `None`.

        Returns:
            `keras.Model` sharing this backbone's layers and weights, whose
            output is `{name: [B, H / stride, W / stride, C]}`.
        """
        available = tuple(self.pyramid_outputs)
        names = available if names is None else tuple(names)
        unknown = [n for n in names if n not in self.pyramid_outputs]
        if unknown or not names:
            raise ValueError(
                f"`names` must be a non-empty subset of {available}. Received: names={names}"
            )
        outputs = {n: self.pyramid_outputs[n] for n in names}
        return keras.Model(self.input, outputs, name=f"{self.name}_features")


def grid_pooled(backbone, grid):
    """A model of `backbone`'s layers and weights: its last map averaged over `grid` x `grid` cells.

    `grid=1` gives `backbone` itself (its own pooled features). Above 1, the
    output is `GridPooling(grid)` of `pyramid_outputs["final"]`, `[B, grid² · C]`:
    where in the image a feature was seen survives the pooling.

    Raises:
        ValueError: for `grid < 1`, or `grid > 1` on a backbone without named feature maps.
    """
    if int(grid) != grid or grid < 1:
        raise ValueError(f"`feature_grid` must be an integer >= 1. Received: feature_grid={grid!r}")
    if grid == 1:
        return backbone
    if not has_feature_maps(backbone):
        raise ValueError(
            f"feature_grid={grid} pools the backbone's last feature map, and {backbone.name} "
            "gives pooled features only; use feature_grid=1 or a backbone with named feature "
            "maps (mobilenet_v2, mobilenet_v1, small_cnn).")
    features = GridPooling(int(grid), name="grid_pooling")(backbone.pyramid_outputs["final"])
    return keras.Model(backbone.input, features, name=f"{backbone.name}_grid_{int(grid)}")


def pooled_feature_size(backbone):
    """The size `D` of a backbone's pooled features `[B, D]`, what a classifier or MoCo needs.

    Raises:
        ValueError: when `backbone` is not a `keras.Model` with a 2D output.
    """
    if not isinstance(backbone, keras.Model) or len(backbone.output_shape) != 2:
        raise ValueError(
            "`backbone` must be a keras.Model with pooled features [B, D] "
            "(for example pooling='avg'). Received: "
            f"{getattr(backbone, 'output_shape', type(backbone).__name__)}"
        )
    return int(backbone.output_shape[-1])


def has_feature_maps(backbone):
    """Whether `backbone` gives named feature maps (`pyramid_outputs`, `feature_extractor`)."""
    return isinstance(getattr(backbone, "pyramid_outputs", None), dict) and callable(
        getattr(backbone, "feature_extractor", None)
    )
