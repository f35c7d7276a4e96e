"""The shared bad-image corpus through the two-view sources: manifests, folders, MoCo folders.

Sample `i` pairs corpus file `i` with a clean copy `clean/<i>.png` of the same
pixels, so that after the broken files' samples are skipped one can check that
the views and labels of every remaining sample still belong together, and that
every odd file decodes to PIL's pixels.
"""

import json
import os
import shutil
import warnings

import numpy as np
import pytest
import tensorflow as tf

from tests.bad_inputs import reference_pixels, write_image_corpus
from tfvision.data import SkippedImagesWarning
from tfvision.data.pairs.positive_pairs import positive_pairs_dataset
from tfvision.data.views.manifest import read_two_view_manifest
from tfvision.data.views.samples import two_view_folders
from tfvision.recipes.cotraining.recipe import load_two_view_data

CLASSES = ["a", "b"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """`(root, entries)`: the corpus in `root/odd/` and a clean PNG per file in `root/clean/`."""
    root = tmp_path_factory.mktemp("two_view")
    os.makedirs(root / "odd")
    os.makedirs(root / "clean")
    entries = write_image_corpus(str(root / "odd"))
    for i, entry in enumerate(entries):
        reference = np.zeros((8, 8, 3), np.uint8)  # a stand-in partner for broken and huge
        if entry.decodes and entry.name != "huge.jpg":
            reference = reference_pixels(str(root / "odd"), entry)
        tf.io.write_file(str(root / "clean" / f"{i}.png"), tf.io.encode_png(reference))
    return root, entries


def manifest_rows(entries, odd_view):
    rows = []
    for i, entry in enumerate(entries):
        views = [f"odd/{entry.name}", f"clean/{i}.png"]
        if odd_view == 1:
            views.reverse()
        rows.append({"view0_path": views[0], "view1_path": views[1], "label": CLASSES[i % 2]})
    return rows


def read_with_warnings(read, *args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = read(*args, **kwargs)
    return result, " ".join(str(w.message) for w in caught if w.category is SkippedImagesWarning)


def check_samples(root, entries, samples, odd_view):
    """The broken files' samples are gone and counted; the rest decode right and stay aligned."""
    bad = [e.name for e in entries if not e.decodes]
    assert sorted(os.path.basename(p) for p, _ in samples.skipped) == sorted(bad)
    good = [(i, e) for i, e in enumerate(entries) if e.decodes]
    assert len(samples) == len(good)
    for k, (i, entry) in enumerate(good):
        odd, clean = samples.sources[odd_view][k], samples.sources[1 - odd_view][k]
        assert os.path.basename(odd) == entry.name and os.path.basename(clean) == f"{i}.png"
        assert samples.labels[k] == i % 2, entry.name
        decoded = samples.decode_fns[odd_view](tf.constant(odd)).numpy()
        assert decoded.shape == entry.shape, entry.name
        if entry.name != "huge.jpg":
            partner = samples.decode_fns[1 - odd_view](tf.constant(clean)).numpy()
            assert np.abs(decoded - partner).mean() < 2.0, entry.name  # PIL's pixels
    batches = list(samples.view_dataset(odd_view, np.arange(len(samples)), image_size=32,
                                        batch_size=4))
    images = np.concatenate([b.numpy() for b, _ in batches])
    labels = np.concatenate([lab.numpy() for _, lab in batches])
    assert images.shape == (len(good), 32, 32, 3) and np.isfinite(images).all()
    assert labels.tolist() == [i % 2 for i, _ in good]


@pytest.mark.parametrize("kind, odd_view", [("csv", 0), ("json", 1)])
def test_manifests_skip_and_count_broken_samples_and_decode_the_rest(corpus, kind, odd_view):
    root, entries = corpus
    rows = manifest_rows(entries, odd_view)
    path = root / f"manifest.{kind}"
    if kind == "csv":
        lines = ["view0_path,view1_path,label"] + [
            f"{r['view0_path']},{r['view1_path']},{r['label']}" for r in rows]
        path.write_text("\n".join(lines) + "\n")
        samples, message = read_with_warnings(load_two_view_data, str(path))  # `tfvision cotrain`
    else:
        path.write_text(json.dumps({"class_names": CLASSES, "samples": rows}))
        samples, message = read_with_warnings(read_two_view_manifest, str(path))
    bad = [e.name for e in entries if not e.decodes]
    assert str(path) in message
    assert f"skipped {len(bad)} of {len(entries)} samples: {len(bad)} image files" in message
    assert all(name in message for name in bad)
    check_samples(root, entries, samples, odd_view)


def test_strict_manifest_names_the_first_broken_file(corpus):
    root, entries = corpus
    rows = [r for r in manifest_rows(entries, 0) if "huge" not in r["view0_path"]]
    path = root / "strict.json"
    path.write_text(json.dumps(rows))
    with pytest.raises(ValueError, match=r"strict\.json: cannot decode image .*text\.jpg"):
        read_two_view_manifest(str(path), strict=True)


def test_two_view_folders_skip_and_count_broken_pairs(corpus, tmp_path):
    root, entries = corpus
    for i, entry in enumerate(entries):
        for view, source in ((0, root / "odd" / entry.name), (1, root / "clean" / f"{i}.png")):
            folder = tmp_path / f"view{view}" / CLASSES[i % 2]
            folder.mkdir(parents=True, exist_ok=True)
            # The pair shares a relative path: clean copies take the corpus file's name
            # (the decoder reads the format from the bytes, not the extension).
            shutil.copy(source, folder / f"{i:02d}_{entry.name}")
    samples, message = read_with_warnings(two_view_folders, str(tmp_path / "view0"),
                                          str(tmp_path / "view1"))
    bad = [e.name for e in entries if not e.decodes]
    assert all(name in message for name in bad) and f"{len(bad)} image files" in message
    assert len(samples) == len(entries) - len(bad)
    kept = sorted(os.path.basename(p).split("_", 1)[1] for p in samples.sources[0])
    assert kept == sorted(e.name for e in entries if e.decodes)
    for odd, clean in zip(*samples.sources):
        assert os.path.basename(odd) == os.path.basename(clean)  # still pairs


def test_moco_image_folder_skips_and_counts_broken_files(corpus, tmp_path):
    root, entries = corpus
    folder = tmp_path / "train" / "any"
    folder.mkdir(parents=True)
    for entry in entries:
        shutil.copy(root / "odd" / entry.name, folder / entry.name)
    (pairs, count), message = read_with_warnings(positive_pairs_dataset, str(tmp_path), 32, 4, seed=0)
    bad = [e.name for e in entries if not e.decodes]
    assert f"Skipped {len(bad)} of {len(entries)} image files" in message
    assert all(name in message for name in bad)
    assert count == len(entries) - len(bad)
    views = [(a.numpy(), b.numpy()) for a, b in pairs]
    assert len(views) == count // 4  # full batches only
    assert all(a.shape == (4, 32, 32, 3) and np.isfinite(a).all() and np.isfinite(b).all()
               for a, b in views)
