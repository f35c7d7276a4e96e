"""The files the `Example:` blocks of tfvision's docstrings read, for `--doctest-modules`.

An example names its files as a user would (`data/shapes`, `ann/train.json`,
`saved_models/shapes_classifier/1`). The examples of the modules in `NEEDS` run in one
temporary folder per session that holds those files, written by tfvision itself the
first time an example needs them: the built-in shapes in each file format, and a small
classifier exported as a SavedModel. The two that read TensorFlow Datasets run
on `tfds.testing.mock_data`: nothing can be downloaded here.
"""

import contextlib
import os
import shutil

import pytest
from _pytest.doctest import DoctestItem

# Examples that take longer than the default suite allows: `make test-slow` runs them.
SLOW_EXAMPLES = {"tfvision.recipes.moco.recipe.pretrain_moco"}


def _image_folder():
    from tfvision.data import write_image_folder

    write_image_folder("data/shapes", counts={"train": 6, "valid": 6, "test": 0}, image_size=96)


def _coco():
    from tfvision.data import write_coco_detection

    written = write_coco_detection("coco_files", 4, "train", image_size=64)
    os.makedirs("ann", exist_ok=True)
    os.replace(written["annotation_file"], "ann/train.json")
    os.makedirs("images", exist_ok=True)
    os.replace(written["image_dir"], "images/train")
    shutil.rmtree("coco_files")


def _csv():
    from tfvision.data import write_csv_detection

    written = write_csv_detection("csv_files", 4, "train", image_size=64)
    os.replace(written["annotation_file"], "boxes.csv")
    # The CSV names files relative to its image folder, which COCO's `images/train` shares.
    shutil.copytree(written["image_dir"], "images", dirs_exist_ok=True)
    shutil.rmtree("csv_files")


def _yolo():
    from tfvision.data import write_yolo_detection

    write_yolo_detection("datasets/coco8", 4, "valid", image_size=64)


def _voc():
    from tfvision.data import convert_detection

    convert_detection("coco:ann/{split}.json:images/{split}", "voc", "voc_files")
    os.makedirs("VOC2007", exist_ok=True)
    for folder in ("Annotations", "JPEGImages"):
        os.replace(os.path.join("voc_files", "train", folder), os.path.join("VOC2007", folder))
    shutil.rmtree("voc_files")


def _two_views():
    from tfvision.data.synthetic.shapes_views import write_two_view_shapes

    write_two_view_shapes("data/two_view", num_images=8, image_size=32)


def _exported_classifier():
    """`saved_models/shapes_classifier/{1,2}` (the same model twice) and `circle.png`."""
    import keras
    import numpy as np
    from PIL import Image

    from tfvision.export.deployment import export_formats
    from tfvision.models.classifier import ImageClassifier
    from tfvision.training import save_checkpoint

    keras.utils.set_random_seed(0)
    names = ["circle", "square", "triangle", "star", "cross", "ring"]
    model = ImageClassifier(names, image_size=32, alpha=0.35, backbone_weights=None,
                            freeze_backbone=False, hidden_units=())
    save_checkpoint(model, "shapes.keras", epoch=1)
    export_formats("shapes.keras", "shapes_classifier", 1)
    shutil.copytree("saved_models/shapes_classifier/1", "saved_models/shapes_classifier/2")
    pixels = np.zeros((48, 48, 3), np.uint8)
    pixels[12:36, 12:36] = 255
    Image.fromarray(pixels).save("circle.png")


# Module -> the writers its examples need, in order.
NEEDS = {
    "tfvision.data.classification.image_folder": [_image_folder],
    "tfvision.data.detection.coco": [_coco],
    "tfvision.data.detection.csv_files": [_csv],
    "tfvision.data.detection.yolo": [_yolo],
    "tfvision.data.detection.voc_xml": [_coco, _voc],
    "tfvision.data.detection.conversion": [_coco],
    "tfvision.data.views.manifest": [_two_views],
    "tfvision.recipes.moco.recipe": [],
    "tfvision.export.layout": [_exported_classifier],
    "tfvision.export.model_config": [_exported_classifier],
    "tfvision.export.signature_defs": [_exported_classifier],
    "tfvision.export.warmup_requests": [_exported_classifier],
    "tfvision.export.predictor": [_exported_classifier],
    "tfvision.serving.repository": [_exported_classifier],
}


def _tfds_mock(module):
    """A context that serves the module's TensorFlow Datasets from `mock_data`."""
    if module == "tfvision.data.classification.tfds_images":
        import tensorflow_datasets as tfds

        return tfds.testing.mock_data(num_examples=8)
    if module == "tfvision.data.detection.voc_tfds":
        import tensorflow_datasets as tfds

        from tests.data.detection.voc_mock import voc_as_dataset

        return tfds.testing.mock_data(as_dataset_fn=voc_as_dataset)
    return contextlib.nullcontext()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    for item in items:
        if isinstance(item, DoctestItem) and item.name in SLOW_EXAMPLES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def _example_files(tmp_path_factory):
    """The session's folder for the examples' files, and the writers that have run."""
    return tmp_path_factory.mktemp("docstring_examples"), set()


@pytest.fixture(autouse=True)
def _docstring_example_files(request, monkeypatch):
    if not isinstance(request.node, DoctestItem):
        yield
        return
    module = request.node.dtest.globs["__name__"]
    if module in NEEDS:
        folder, written = request.getfixturevalue("_example_files")
        monkeypatch.chdir(folder)
        for writer in NEEDS[module]:
            if writer not in written:
                writer()
                written.add(writer)
    with _tfds_mock(module):
        yield
