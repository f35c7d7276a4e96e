"""The shared annotation corpus through the COCO JSON, CSV and VOC XML detection loaders.

Every box problem of `tests.bad_inputs.ANNOTATED_CASES` has one expected
outcome whatever the format: kept (clipped to the image when it is mostly
inside), or dropped and counted in `DetectionData.dropped_boxes` and one
`SkippedAnnotationsWarning` naming the file; an image without boxes stays an
example whose targets are all padding, and it trains (background only).
Corrupt COCO / CSV files are refused with a message naming the file; a
corrupt VOC XML file (one per image) skips its image, counted and named.
"""

import json
import warnings

import numpy as np
import pytest

from tests.bad_inputs import (
    ANNOTATED_CASES,
    ANNOTATION_CLASSES,
    coco_annotations,
    corrupt_annotation_files,
    corrupt_voc_files,
    csv_annotations,
    voc_annotations,
    write_annotated_images,
)
from tfvision.data import SkippedAnnotationsWarning, detection_data

SIZE = 32


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """`{format: spec}` of the corpus in both formats, over one image folder."""
    root = tmp_path_factory.mktemp("annotations")
    write_annotated_images(str(root / "images"))
    (root / "corpus.json").write_text(json.dumps(coco_annotations()))  # NaN written as NaN
    (root / "train.csv").write_text(csv_annotations(write_annotated_images(str(root / "images"))[:1]))
    (root / "valid.csv").write_text(csv_annotations())
    for split, cases in (("train", ANNOTATED_CASES[:1]), ("valid", ANNOTATED_CASES)):
        (root / f"{split}_xml").mkdir()
        for name, text in voc_annotations(cases).items():
            (root / f"{split}_xml" / name).write_text(text)
    return root, {
        "coco": f"coco:{root / 'corpus.json'}:{root / 'images'}",
        # The training CSV (cat and dog) defines the classes, so 'zebra' is unknown.
        "csv": f"csv:{root / '{split}.csv'}:{root / 'images'}",
        "voc": f"voc:{root / '{split}_xml'}:{root / 'images'}",
    }


def load(spec, **options):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = detection_data(spec, "valid", SIZE, batch_size=3, training=False, **options)
    messages = [str(w.message) for w in caught if w.category is SkippedAnnotationsWarning]
    return data, messages


def all_targets(data):
    batches = [(t["boxes"].numpy(), t["labels"].numpy()) for _, t in data.dataset]
    return np.concatenate([b for b, _ in batches]), np.concatenate([lab for _, lab in batches])


@pytest.mark.parametrize("kind", ["coco", "csv", "voc"])
def test_each_case_is_kept_clipped_or_dropped_and_counted(sources, kind):
    root, specs = sources
    cases = write_annotated_images(str(root / "images"))
    data, messages = load(specs[kind])
    annotation_file = {"coco": "corpus.json", "csv": "valid.csv", "voc": "valid_xml"}[kind]
    assert data.class_names == list(ANNOTATION_CLASSES)
    assert data.num_examples == len(cases)  # every image stays, the empty one too
    expected_dropped = sum(case.dropped for case in cases)
    assert data.dropped_boxes == expected_dropped == 5
    assert len(messages) == 1 and annotation_file in messages[0]
    assert f"Dropped {expected_dropped} of" in messages[0]
    assert "4 invalid boxes" in messages[0] and "1 with unknown c" in messages[0]
    boxes, labels = all_targets(data)
    assert boxes.shape == (len(cases), 2, 4)  # M = the most kept boxes of one image
    for case, image_boxes, image_labels in zip(cases, boxes, labels):
        kept = len(case.kept)
        assert image_labels.tolist() == list(case.kept_labels) + [-1] * (2 - kept), case.name
        np.testing.assert_allclose(image_boxes[:kept], np.reshape(case.kept, (-1, 4)), atol=1e-6,
                                   err_msg=case.name)
        np.testing.assert_array_equal(image_boxes[kept:], 0.0)


@pytest.mark.parametrize("kind, expected", [
    ("coco", r"corpus\.json: with unknown category ids: annotation #\d+: category_id 99"),
    ("csv", r"valid\.csv: with unknown classes: line 8: 'zebra'"),
    ("voc", r"valid_xml: with unknown classes: 06_unknown_class\.xml object #1: 'zebra'"),
])
def test_strict_loading_names_the_file_and_the_first_bad_annotation(sources, kind, expected):
    # Class ids are checked while parsing, before the boxes are measured against their images.
    _, specs = sources
    with pytest.raises(ValueError, match=expected):
        detection_data(specs[kind], "valid", SIZE, batch_size=3, strict=True)


def test_corrupt_annotation_files_are_refused_naming_the_file(sources):
    root, _ = sources
    for name, (contents, reason) in corrupt_annotation_files().items():
        path = root / name
        path.write_bytes(contents)
        kind = "coco" if name.endswith(".json") else "csv"
        with pytest.raises(ValueError) as error:
            detection_data(f"{kind}:{path}:{root / 'images'}", "valid", SIZE, batch_size=2)
        assert str(path) in str(error.value) and reason in str(error.value), name


def test_corrupt_voc_files_skip_their_image_counted_and_named(sources):
    root, _ = sources
    folder = root / "corrupt_xml"
    folder.mkdir()
    (folder / "00_good.xml").write_text(voc_annotations(ANNOTATED_CASES[:1])["00_good.xml"])
    corrupt = corrupt_voc_files()
    for name, (contents, _) in corrupt.items():
        (folder / name).write_bytes(contents)
    spec = f"voc:{folder}:{root / 'images'}"
    data, messages = load(spec)
    assert data.num_examples == 1 and data.dropped_boxes == len(corrupt)
    assert f"{len(corrupt)} in unreadable XML files" in messages[0]
    assert all(name in messages[0] and reason in messages[0]
               for name, (_, reason) in list(corrupt.items())[:5])
    with pytest.raises(ValueError, match=r"corrupt_xml: in unreadable XML .*90_truncated\.xml"):
        detection_data(spec, "valid", SIZE, batch_size=2, strict=True)


def test_a_csv_cut_mid_row_drops_and_counts_that_row(sources):
    root, _ = sources
    text = csv_annotations()
    cut = text.index("negative_box.png") + len("negative_box.png,-5 -10 1")
    (root / "cut.csv").write_text(text[:cut])
    data, messages = load(f"csv:{root / 'cut.csv'}:{root / 'images'}")
    assert data.num_examples == 3  # good, nan, inverted: the cut row is gone
    assert "cut.csv" in messages[0] and "malformed rows" in messages[0] and "line 5" in messages[0]


def test_images_without_boxes_train_as_background(sources):
    """A batch whose only boxes were dropped (or never existed) still gives a training step."""
    import keras

    from tfvision.models.ssd import ssdlite_mobilenet_v2

    root, _ = sources
    cases = [c for c in write_annotated_images(str(root / "images")) if c.name == "no_boxes.png"]
    (root / "empty.json").write_text(json.dumps(coco_annotations(cases)))
    data = detection_data(f"coco:{root / 'empty.json'}:{root / 'images'}", "train", 96,
                          batch_size=1, training=True, max_boxes=2, seed=0)
    _, targets = next(iter(data.dataset))
    assert np.all(targets["labels"].numpy() == -1)
    keras.utils.set_random_seed(0)
    model = ssdlite_mobilenet_v2(list(ANNOTATION_CLASSES), alpha=0.35, image_size=96,
                                 backbone_weights=None, extra_channels=(16, 16, 16, 16))
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    before = [w.numpy().copy() for w in model.head.trainable_weights]
    history = model.fit(data.dataset.repeat(), steps_per_epoch=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all() and history.history["loss"][0] > 0
    changed = [not np.array_equal(b, w.numpy()) for b, w in zip(before, model.head.trainable_weights)]
    assert any(changed)  # the classification head learnt "background"
