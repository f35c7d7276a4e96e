"""Two aligned views of the same samples, and their tf.data pipelines.

Co-training needs each sample in two views (two cameras, two crops, colour and
edges...). `TwoViewSamples` holds, for each view, one *source* per sample (an
image path, or an index into an in-memory image array) and how to turn a
source into an image, plus one label per sample (`-1` when unknown). Sample
`i` is the same sample in both views, so any index set (a split, a pool, a
pseudo-labelled pick) selects the same samples in both.

Sources: `two_view_files` (two path lists), `two_view_folders` (two image
folders matched by relative path), `read_two_view_manifest` (a CSV/JSON file
list, see `two_view_manifest.py`) and `shapes_two_views` (the built-in data).
"""

import dataclasses
import os
import warnings

import numpy as np
import tensorflow as tf

from tfvision.data.classification.augment_presets import VIEW_AUGMENTATION
from tfvision.data.classification.pipeline import classification_batches
from tfvision.data.image_decoding import IMAGE_EXTENSIONS, decode_image, find_unreadable_images
from tfvision.data.classification.image_folder import SkippedImagesWarning

UNLABELLED_FOLDER = "unlabelled"
_SHOWN = 5


def decode_image_path(path):
    """Reads and decodes an image file: float32 `[H, W, 3]` in 0..255."""
    return tf.cast(decode_image(tf.io.read_file(path)), tf.float32)


@dataclasses.dataclass
class TwoViewSamples:
    """Samples seen in two aligned views.

    Attributes:
        sources: pair of arrays `[N]`: per view, what `decode_fns` read (str
            paths, or int64 indices into an in-memory image array).
        labels: int64 `[N]`, class ids, `-1` for samples without a label.
        class_names: list of str; a class id indexes it.
        decode_fns: pair of callables `source -> float32 [H, W, 3]` (0..255),
            traced inside `tf.data` maps.
        skipped: list of `(path, reason)`: the files that did not decode, whose
            samples were left out (see `two_view_files`); empty otherwise.
    """

    sources: tuple
    labels: np.ndarray
    class_names: list
    decode_fns: tuple = (decode_image_path, decode_image_path)
    skipped: list = dataclasses.field(default_factory=list)

    def __post_init__(self):
        self.sources = tuple(np.asarray(s) for s in self.sources)
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        if len(self.sources) != 2 or len(self.decode_fns) != 2:
            raise ValueError("TwoViewSamples needs exactly two views.")
        lengths = {len(self.sources[0]), len(self.sources[1]), len(self.labels)}
        if len(lengths) != 1:
            raise ValueError(
                "Both views and the labels must have one entry per sample. Received: "
                f"{len(self.sources[0])} view-0 sources, {len(self.sources[1])} view-1 "
                f"sources, {len(self.labels)} labels"
            )
        if len(self.labels) and self.labels.max() >= len(self.class_names):
            raise ValueError(
                f"Label {self.labels.max()} is out of range for {len(self.class_names)} "
                f"classes {self.class_names}."
            )

    def __len__(self):
        return len(self.labels)

    def view_dataset(self, view, indices, labels=None, image_size=224, batch_size=32,
                     training=False, seed=None, repeat=False, augmentation=None,
                     crop_fraction=1.0):
        """Batches `(images, labels)` of one view for the samples `indices`.

        Args:
            view: int, `0` or `1`.
            indices: int array `[n]`, samples to use (in this order unless shuffled).
            labels: int array `[n]`. Labels to train on (for example pseudo-labels);
                defaults to the samples' own labels.
            image_size: int. Output side. Defaults to `224`.
            batch_size: int. Defaults to `32`.
            training: bool. Shuffle and augment (see `classification_batches`).
                Defaults to `False`.
            seed: optional int for shuffling and augmentation.
            repeat: bool. Repeat forever with full batches only (fixed shapes,
                as a step compiled under XLA needs). Defaults to `False`.
            augmentation: the training augmentation, an `Augmentation` (see
                `augmentation_preset`). Defaults to `VIEW_AUGMENTATION`.
            crop_fraction: evaluation centre-crop fraction. Defaults to `1.0`
                (the whole view, short side resized to `image_size`).

        Returns:
            A `tf.data.Dataset` of `(float32 [B, S, S, 3], int32 [B])`.
        """
        if view not in (0, 1):
            raise ValueError(f"`view` must be 0 or 1. Received: view={view}")
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        labels = self.labels[indices] if labels is None else np.asarray(labels).reshape(-1)
        if len(labels) != len(indices):
            raise ValueError(
                f"{len(labels)} labels for {len(indices)} samples; give one label per sample."
            )
        examples = tf.data.Dataset.from_tensor_slices(
            (self.sources[view][indices], labels.astype(np.int32))
        )
        if repeat:
            examples = examples.repeat()
        return classification_batches(
            examples, self.decode_fns[view], image_size, batch_size, training=training,
            seed=seed, num_examples=max(len(indices), 1),
            **{**(augmentation or VIEW_AUGMENTATION).keywords(), "crop_fraction": crop_fraction},
            drop_remainder=repeat,
        )


def two_view_files(paths0, paths1, labels, class_names, data_root=None, strict=False,
                   origin="the sample lists"):
    """Two aligned lists of image files as `TwoViewSamples`.

    Each path is resolved under `data_root` (relative paths are joined to it);
    a path that escapes it is refused. Missing files are an error naming them;
    pairs with a file that does not decode are skipped with one warning that
    counts them and names the files (kept in `TwoViewSamples.skipped`), or
    raise with `strict=True`.

    Args:
        paths0: list of str, view-0 image paths.
        paths1: list of str, view-1 image paths, same length and order.
        labels: list of int, class ids, `-1` unknown.
        class_names: list of str.
        data_root: str. The folder every path must stay inside. Defaults to
            the current directory.
        strict: bool. Raise at the first undecodable file. Defaults to `False`.
        origin: str. Where the lists come from, for error messages.

    Returns:
        A `TwoViewSamples`.
    """
    if not len(paths0) == len(paths1) == len(labels):
        raise ValueError(
            f"{origin}: the two views and the labels have different lengths: "
            f"{len(paths0)} view-0 paths, {len(paths1)} view-1 paths, {len(labels)} labels."
        )
    root = os.path.realpath(data_root or os.getcwd())
    resolved = [[resolve_under_root(p, root, origin) for p in paths] for paths in (paths0, paths1)]
    missing = [p for paths in resolved for p in paths if not os.path.isfile(p)]
    if missing:
        more = f" and {len(missing) - _SHOWN} more" if len(missing) > _SHOWN else ""
        raise FileNotFoundError(
            f"{origin}: {len(missing)} image files do not exist: "
            f"{', '.join(missing[:_SHOWN])}{more}."
        )
    labels = np.asarray(labels, dtype=np.int64)
    bad = find_unreadable_images(sorted(set(resolved[0]) | set(resolved[1])))
    if bad and strict:
        raise ValueError(f"{origin}: cannot decode image {bad[0][0]}: {bad[0][1]}")
    if bad:
        unreadable = {p for p, _ in bad}
        keep = [i for i in range(len(labels))
                if resolved[0][i] not in unreadable and resolved[1][i] not in unreadable]
        shown = "; ".join(f"{p} ({r})" for p, r in bad[:_SHOWN])
        more = f"; and {len(bad) - _SHOWN} more" if len(bad) > _SHOWN else ""
        warnings.warn(f"{origin}: skipped {len(labels) - len(keep)} of {len(labels)} samples: "
                      f"{len(bad)} image files could not be decoded: {shown}{more}. Pass "
                      "strict=True to stop at the first one.", SkippedImagesWarning, stacklevel=2)
        resolved = [[paths[i] for i in keep] for paths in resolved]
        labels = labels[keep]
    return TwoViewSamples((np.array(resolved[0], dtype=object).astype(str),
                           np.array(resolved[1], dtype=object).astype(str)),
                          labels, list(class_names), skipped=list(bad))


def resolve_under_root(path, root, origin="the sample list"):
    """The real path of `path` (relative paths are taken from `root`); refuses escapes."""
    root = os.path.realpath(root)
    full = os.path.realpath(os.path.join(root, os.fspath(path)))
    if os.path.commonpath([root, full]) != root:
        raise ValueError(
            f"{origin}: the path {path!r} is outside the data root {root}; refusing it."
        )
    return full


def two_view_folders(view0_dir, view1_dir, class_names=None, strict=False):
    """Two image folders whose files are matched by relative path.

    Each folder holds `<class>/<name>` files (and `unlabelled/<name>` for
    samples without a label); `view0_dir/<class>/<name>` pairs with
    `view1_dir/<class>/<name>`. A file without its partner is an error naming it.

    Args:
        view0_dir: str, the view-0 folder.
        view1_dir: str, the view-1 folder.
        class_names: optional list of str fixing the class ids. Defaults to the
            sorted class folders (other than `unlabelled`).
        strict: bool. See `two_view_files`. Defaults to `False`.

    Returns:
        A `TwoViewSamples`.
    """
    listings = []
    for folder in (view0_dir, view1_dir):
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"Image folder not found: {folder}")
        listings.append(sorted(
            os.path.relpath(os.path.join(top, name), folder)
            for top, _, names in os.walk(folder) for name in names
            if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS
        ))
    only0 = sorted(set(listings[0]) - set(listings[1]))
    only1 = sorted(set(listings[1]) - set(listings[0]))
    if only0 or only1:
        raise ValueError(
            f"The view folders do not match: {len(only0)} files only in {view0_dir} "
            f"({', '.join(only0[:_SHOWN])}) and {len(only1)} only in {view1_dir} "
            f"({', '.join(only1[:_SHOWN])})."
        )
    relative = listings[0]
    folders = [path.split(os.sep)[0] if os.sep in path else "" for path in relative]
    if "" in folders:
        raise ValueError(f"{view0_dir} holds images outside class folders; expected <class>/<image>.")
    if class_names is None:
        class_names = sorted(set(folders) - {UNLABELLED_FOLDER})
    ids = {name: i for i, name in enumerate(class_names)}
    unknown = sorted(set(folders) - set(ids) - {UNLABELLED_FOLDER})
    if unknown:
        raise ValueError(f"Class folders {unknown} are not among class_names={class_names}.")
    labels = [ids.get(folder, -1) for folder in folders]
    return two_view_files(
        [os.path.join(view0_dir, p) for p in relative], [os.path.join(view1_dir, p) for p in relative],
        labels, class_names, data_root=os.path.commonpath(
            [os.path.realpath(view0_dir), os.path.realpath(view1_dir)]),
        strict=strict, origin=f"{view0_dir} and {view1_dir}",
    )
