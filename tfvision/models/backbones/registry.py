"""Backbones by name: the one registry the classifier, MoCo and the detector share."""

import collections

import keras

BackboneSpec = collections.namedtuple(
    "BackboneSpec", ["name", "build", "normalization", "width_multiplier"]
)
BackboneSpec.__doc__ = """A registered backbone: its builder, input normalisation, and
whether `alpha` (a width multiplier) applies to it."""

_BACKBONES = {}


def register_backbone(name, normalization="tf", width_multiplier=False):
    """Registers a backbone builder under `name` (a decorator).

    The builder is called as `build(image_size, weights=None, alpha=1.0,
    pooling="avg", **kwargs)` and returns a `keras.Model`, preferably a
    `Backbone`.

    Args:
        name: str. The name tasks and the command line use.
        normalization: str. The `ImageNormalization` mode the backbone's
            weights expect. Defaults to `"tf"`.
        width_multiplier: bool. Whether the builder takes `alpha`.
            Defaults to `False`.

    Example:
    >>> @register_backbone("tiny", width_multiplier=False)
    ... def tiny(image_size, weights=None, alpha=1.0, pooling="avg"):
    ...     ...
    """

    def register(build):
        if name in _BACKBONES:
            raise ValueError(f"A backbone is already registered as {name!r}.")
        _BACKBONES[name] = BackboneSpec(name, build, normalization, width_multiplier)
        return build

    return register


def backbone_names():
    """The registered backbone names, sorted."""
    return sorted(_BACKBONES)


def backbone_spec(arch):
    """The `BackboneSpec` registered as `arch`; a `ValueError` lists the names otherwise."""
    if arch not in _BACKBONES:
        raise ValueError(
            f"Unknown backbone. Expected one of {backbone_names()}. Received: arch={arch!r}"
        )
    return _BACKBONES[arch]


def build_backbone(arch, image_size, weights=None, alpha=1.0, pooling="avg", **kwargs):
    """Builds the backbone registered as `arch`, without a classifier.

    Args:
        arch: str. A name of `backbone_names()`.
        image_size: int. Side of the square input.
        weights: `None` (random), `"imagenet"`, or a path to a `.weights.h5`
            file of this backbone (some backbones know more, such as
            MobileNetV2's `"shapes"`). Defaults to `None`.
        alpha: float. Width multiplier, for backbones that have one.
            Defaults to `1.0`.
        pooling: `"avg"` for pooled features `[B, D]`, `None` for the last
            feature map. Defaults to `"avg"`.
        **kwargs: more arguments of the backbone's builder (for example
            MobileNetV2's `bn_momentum`, SmallCNN's `bn_splits`).

    Returns:
        A `keras.Model` from normalised images `[B, S, S, 3]` to features, with a
        `normalization` attribute (see `Backbone`).

    Example:
    >>> backbone = build_backbone("mobilenet_v2", 96, alpha=0.35)
    >>> backbone.output_shape
    (None, 1280)
    """
    spec = backbone_spec(arch)
    if alpha != 1.0 and not spec.width_multiplier:
        widths = [n for n in backbone_names() if _BACKBONES[n].width_multiplier]
        raise ValueError(
            f"`alpha` applies to {widths} only. Received: arch={arch!r}, alpha={alpha}"
        )
    model = spec.build(image_size, weights=weights, alpha=alpha, pooling=pooling, **kwargs)
    if not hasattr(model, "normalization"):  # a keras.applications model
        model.normalization = spec.normalization
    return model


def get_backbone(backbone, image_size=None, **kwargs):
    """A task's backbone argument as a model: a name is built, a model is used as it is.

    Args:
        backbone: a name of `backbone_names()`, a `keras.Model`, or the
            serialised config of one (as a task's `get_config` writes it).
        image_size: int. Side of the square input; needed for a name.
        **kwargs: `build_backbone` arguments for a name (`weights`, `alpha`,
            `pooling`, ...).

    Returns:
        A `keras.Model`.
    """
    if isinstance(backbone, dict):
        return keras.saving.deserialize_keras_object(backbone)
    if isinstance(backbone, keras.Model):
        return backbone
    if isinstance(backbone, str):
        if image_size is None:
            raise ValueError(
                f"A backbone given by name needs an image size. Received: backbone={backbone!r}, "
                "image_size=None"
            )
        return build_backbone(backbone, image_size, **kwargs)
    raise ValueError(
        f"`backbone` must be a name of {backbone_names()} or a keras.Model. "
        f"Received: backbone={backbone!r}"
    )


def backbone_normalization(backbone):
    """The `ImageNormalization` mode a backbone (a name or a model) expects.

    A model without a `normalization` attribute is taken to expect `"tf"`
    (`[-1, 1]`), tfvision's default.
    """
    if isinstance(backbone, str):
        return backbone_spec(backbone).normalization
    return getattr(backbone, "normalization", "tf")
