"""`LabeledImages`: what every classification pipeline returns."""

import dataclasses

import tensorflow as tf


@dataclasses.dataclass
class LabeledImages:
    """A batched classification dataset and what a model needs to know about it.

    Attributes:
        dataset: batched, prefetched `tf.data.Dataset` of `(images, labels)`:
            images float32 `[B, S, S, 3]` with values 0..255 (not normalised; the
            model owns normalisation), labels int32 `[B]` class ids, or float32
            `[B, C]` multi-hot vectors in multi-label mode.
        class_names: list of str, the class (folder or label) names; a class id
            indexes this list.
        display_names: list of str, human-readable names (from a category-names
            JSON), or the class names.
        num_examples: int, examples per epoch.
        skipped: list of `(path, reason)`, files left out because they do not decode.
    """

    dataset: tf.data.Dataset
    class_names: list
    display_names: list
    num_examples: int
    skipped: list = dataclasses.field(default_factory=list)

    @property
    def num_classes(self):
        """Number of classes."""
        return len(self.class_names)
