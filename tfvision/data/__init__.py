"""tf.data input pipelines and the built-in synthetic shapes dataset.

`classification_data(spec, split, ...)` reads `shapes`, `tfds:NAME` or an image
folder. Classification sources return `LabeledImages` (batched float32 images in 0..255;
the model normalises):

- `image_folder(data_dir, split, ...)`: `data_dir/<split>/<class>/*.jpg`.
- `tfds_images(name, split, ...)`: a TensorFlow Datasets classification dataset.
- `synthetic_images(num_images, split, ...)`: the built-in shapes, in memory.

Detection sources return `DetectionData` (padded `{"boxes", "labels"}` targets):
`detection_data(spec, split, ...)` with spec `shapes`, `shapes-imbalanced`, `voc2007`, `voc2012`,
`coco:ANNOTATIONS.json:IMAGE_DIR`, `csv:FILE.csv:IMAGE_DIR`, `voc:XML_DIR:IMAGE_DIR` or
`yolo:DATA_YAML`; `convert_detection(spec, to, out_dir)` rewrites a file source in
another of those formats.

Positive pairs (MoCo): `positive_pairs_dataset(data, ...)` gives two augmentations
(`PairAugmentation`) of each image of `shapes`, a folder or `tfds:NAME`.

Two-view (co-training) samples: `TwoViewSamples` from a CSV/JSON manifest
(`read_two_view_manifest`), two folders (`two_view_folders`), path lists
(`two_view_files`) or the built-in shapes (`shapes_two_views`), split with
`aligned_splits` (the same indices in both views).

The shapes themselves: `generate_shapes` (arrays with boxes, labels, class label,
multi-hot) and `write_image_folder` (an image-folder copy on disk).
"""

from tfvision.data.views.aligned_splits import AlignedSplits, aligned_splits
from tfvision.data.detection.annotated_images import SkippedAnnotationsWarning
from tfvision.data.category_names import display_names_for, load_category_names
from tfvision.data.classification.pipeline import classification_batches
from tfvision.data.classification.sources import classification_data
from tfvision.data.detection.pipeline import DetectionData, synthetic_detection
from tfvision.data.detection.sources import detection_data
from tfvision.data.detection.writers import (
    write_coco_detection,
    write_csv_detection,
    write_yolo_detection,
)
from tfvision.data.detection.conversion import convert_detection, read_detection_split
from tfvision.data.detection.yolo import yolo_detection
from tfvision.data.image_decoding import (
    IMAGE_EXTENSIONS,
    decode_image,
    find_unreadable_images,
    image_file_error,
    scan_images,
)
from tfvision.data.classification.image_folder import SkippedImagesWarning, image_folder, list_image_folder
from tfvision.data.classification.labeled_images import LabeledImages
from tfvision.data.synthetic.shape_drawing import SHAPE_CLASSES
from tfvision.data.synthetic.scenes import (
    generate_shapes,
    iterate_scenes,
    render_scene,
    split_seed,
    write_image_folder,
)
from tfvision.data.synthetic.images import SHAPES_CROP_SCALE, synthetic_images
from tfvision.data.classification.tfds_images import tfds_images
from tfvision.data.transforms import (
    random_crop_window,
    random_resized_crop,
    random_rotation,
    resize_short_side_and_center_crop,
    rotate,
    training_transform,
)
from tfvision.data.pairs.augmentation import (
    SHAPES_AUGMENTATION,
    PairAugmentation,
    augment_view,
    view_augmentation,
)
from tfvision.data.pairs.positive_pairs import positive_pairs, positive_pairs_dataset
from tfvision.data.views.manifest import read_two_view_manifest, write_two_view_manifest
from tfvision.data.views.samples import TwoViewSamples, two_view_files, two_view_folders
from tfvision.data.synthetic.shapes_views import shapes_two_views, write_two_view_shapes
