"""TensorFlow Datasets' VOC builder served from a few known examples, offline.

Used by tests/data/detection/test_voc_tfds.py and by the root conftest (the docstring
examples that read `voc2007`).
"""

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

# Known VOC-format examples: image size, objects as (relative yxyx box, label, is_difficult).
EXAMPLES = [
    ((40, 60), [((0.1, 0.2, 0.5, 0.6), 14, False), ((0.3, 0.3, 0.9, 0.8), 11, True)]),
    ((50, 50), []),  # no objects: all padding
    ((30, 70), [((0.0, 0.0, 1.0, 0.5), 0, False), ((0.2, 0.5, 0.4, 0.9), 19, False)]),
]


def voc_as_dataset(self, split, decoders=None, read_config=None, shuffle_files=False):
    """Serves EXAMPLES, encoded and decoded by the real VOC features.

    tfds's random mock draws each field of the `objects` sequence with its own length,
    which VOC's features reject (tensorflow/datasets#4125); these examples replace the
    random ones, through the builder's real feature encoding and decoding.
    """
    features = self.info.features

    def encoded():
        for i, ((height, width), objects) in enumerate(EXAMPLES):
            yield features.encode_example({
                "image": np.full((height, width, 3), 10 * i, np.uint8),
                "image/filename": f"{i:06d}.jpg",
                "objects": [
                    {"bbox": tfds.features.BBox(*box), "label": label, "pose": "frontal",
                     "is_truncated": False, "is_difficult": difficult}
                    for box, label, difficult in objects
                ],
                "labels": [label for _, label, _ in objects],
                "labels_no_difficult": [label for _, label, d in objects if not d],
            })

    signature = tf.nest.map_structure(
        lambda info: tf.TensorSpec(info.shape, info.dtype), features.get_serialized_info())
    records = tf.data.Dataset.from_generator(encoded, output_signature=signature)
    return records.map(lambda record: features.decode_example(record, decoders=decoders))
