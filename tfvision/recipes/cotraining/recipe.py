"""The co-training recipe end to end: data, two classifiers, rounds, outputs.

These are the functions behind `tfvision cotrain`; the command line only
parses arguments. A notebook can call them too.
"""

import csv
import json
import math
import os

import numpy as np

from tfvision.data.classification.augment_presets import VIEW_AUGMENTATION, augmentation_preset
from tfvision.data.image_sizes import resolve_image_size, typical_side
from tfvision.data.views.aligned_splits import aligned_splits
from tfvision.data.views.manifest import read_two_view_manifest
from tfvision.data.synthetic.shapes_views import shapes_two_views
from tfvision.models.classifier.image_classifier import ImageClassifier
from tfvision.models.cotraining.cotraining_model import CoTraining
from tfvision.recipes.classifier_options import resolve_hidden_units
from tfvision.recipes.cotraining.round_backup import RoundBackup
from tfvision.recipes.cotraining.rounds import fit_rounds
from tfvision.recipes.cotraining.view_callbacks import PerViewPlateau
from tfvision.training.checkpoints import save_checkpoint
from tfvision.training.distribution import prepare_run

SHAPES = "shapes"
# Record fields that hold lists: in the JSON history only.
_LIST_FIELDS = ("conflict_samples", "moved_labels_to_view0", "moved_labels_to_view1")


def load_two_view_data(manifest, num_shapes=1000, seed=0, strict=False):
    """`TwoViewSamples` from a CSV/JSON manifest, or `"shapes"` for the built-in two views."""
    if manifest == SHAPES:
        return shapes_two_views(num_shapes, image_size=96, seed=0 if seed is None else seed)
    return read_two_view_manifest(manifest, strict=strict)


def views_native_side(samples):
    """The typical shorter side of both views' images (files: their headers; arrays: one image)."""
    sources = np.concatenate(samples.sources)
    if sources.dtype.kind in "US":
        return typical_side([str(path) for path in sources])
    return int(min(samples.decode_fns[0](sources[0]).shape[:2]))


def build_cotraining(class_names, arch="mobilenet_v2", image_size=224, alpha=1.0,
                     weights="imagenet", train_backbone=False, hidden_units="auto",
                     dropout=0.2, learning_rate=1e-3):
    """Two `ImageClassifier`s (one per view) in a compiled `CoTraining`.

    `hidden_units="auto"`: linear heads from random weights, else one hidden
    layer of 512 (see `tfvision.recipes.classifier_options.resolve_hidden_units`).
    """
    hidden_units = resolve_hidden_units(hidden_units, weights is None and train_backbone)
    models = [
        ImageClassifier(class_names, backbone=arch, image_size=image_size, alpha=alpha,
                        backbone_weights=weights, freeze_backbone=not train_backbone,
                        hidden_units=hidden_units, dropout=dropout, name=f"view{i}_classifier")
        for i in (0, 1)
    ]
    cotraining = CoTraining(*models)
    cotraining.compile(learning_rate=learning_rate)
    return cotraining


def cotraining_augmentation(augment="auto", image_size=224, weights="imagenet", train_backbone=False,
                      flip=None):
    """The views' training `Augmentation` for `train_cotraining`'s `augment` and `flip`.

    From random weights (`weights=None` with `train_backbone`), `"auto"` is
    `"none"`: on the two-view digits of `make quality` (small CNN, 288 labelled
    samples, 5 rounds of 5 epochs without exchange) the test ensemble scored
    0.237 without augmentation and 0.162 with `VIEW_AUGMENTATION`. From
    pretrained weights it is `VIEW_AUGMENTATION`.

    Example:
    >>> cotraining_augmentation("auto", 32, weights=None, train_backbone=True).name
    'none'
    >>> cotraining_augmentation("auto", 32, flip=False).flip
    False
    """
    from_scratch = weights is None and train_backbone
    if augment == "auto" and not from_scratch:
        augment = VIEW_AUGMENTATION
    return augmentation_preset(augment, image_size, from_scratch, flip=flip)


def write_history(history, save_dir):
    """Writes `history.json` (every field) and `history.csv` (the scalar fields)."""
    with open(os.path.join(save_dir, "history.json"), "w") as handle:
        json.dump([{k: _json_value(v) for k, v in r.items()} for r in history], handle, indent=1)
    fields = [key for key in history[0] if key not in _LIST_FIELDS]
    with open(os.path.join(save_dir, "history.csv"), "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(history)


def _json_value(value):
    return None if isinstance(value, float) and math.isnan(value) else value


def train_cotraining(manifest, save_dir, labelled_fraction=0.25, test_fraction=0.2,
                     valid_fraction=0.125, k=0.01, rounds=10, epochs_per_round=3,
                     arch="mobilenet_v2", image_size="auto", alpha=1.0, weights="imagenet",
                     train_backbone=False, hidden_units="auto", dropout=0.2,
                     learning_rate=1e-3, batch_size=32, steps_per_epoch=None, augment="auto",
                     flip=None, class_balanced=False, oversample=True,
                     early_stopping_patience=3, reduce_lr_patience=2,
                     num_shapes=1000, seed=None, mixed_precision="off", require_gpu=False,
                     deterministic=False, strategy="none", resume=True, strict=False,
                     callbacks=None, on_round_end=None, verbose=0):
    """Co-trains two classifiers on a two-view dataset and writes every output.

    `save_dir` receives, updated after each round: `history.json` and
    `history.csv` (one row per round), `cotraining_rounds.png` (accuracy per
    round for both views and the ensemble), `view0.keras` and `view1.keras`
    (each model, loadable as an `ImageClassifier`), `cotraining.keras` (both
    models, exportable with `tfvision.export.cotraining`), and at the end
    `samples.json`: the splits and each model's final training set (sources
    and labels, pseudo-labels included). After every epoch: `backup/` (see
    `RoundBackup`) and `epochs.csv` (one row per epoch: round, epoch, the run
    that trained it, losses and accuracies).

    A run killed and started again with the same arguments goes on after its
    last completed epoch (`resume=True`); `resume=False` deletes the backup and
    starts again from round 1. A finished run's backup is not resumed.

    Args:
        manifest: str. A CSV/JSON two-view manifest, or `"shapes"`.
        save_dir: str. Output folder.
        augment: str, the views' training augmentation: a preset of
            `augmentation_preset`, or `"auto"`: `"none"` when the backbones
            train from random weights, else `VIEW_AUGMENTATION`. Defaults to
            `"auto"`.
        flip: optional bool, overrides the preset's horizontal flip.
        image_size: int, or `"auto"`: the views' typical shorter side rounded
            up to a multiple of 32 within `[64, 224]` (see
            `tfvision.data.image_sizes`). Defaults to `"auto"`.
        seed, mixed_precision, require_gpu, deterministic, strategy, resume, verbose: the
            run options, see `tfvision.training.RunOptions`. The other arguments: see
            `aligned_splits`, `fit_rounds`, `ImageClassifier`.
        num_shapes: int. Samples of the built-in data. Defaults to `1000`.
        strategy: str. `tf.distribute` strategy name (see
            `tfvision.training.distribution_strategy`); each global batch of
            `batch_size` is split over the replicas. Under `"multi-worker"`
            (every worker runs the same call with the same `seed`) each worker
            takes `batch_size` samples of every global batch, all workers
            predict the pool alike and pick the same pseudo-labels, and only
            the chief writes to `save_dir` (see `worker_save_dir`).
            Defaults to `"none"`.
        resume: bool. Go on from `save_dir/backup`. Defaults to `True`.
        callbacks: list of extra Keras callbacks for each round's `fit`.

    Returns:
        `(cotraining, result)`: the trained `CoTraining` and `fit_rounds`'s
        `CoTrainingResult`.
    """
    # This worker's save_dir holds its backup too (the chief's is save_dir).
    distribution, save_dir, batch_size = prepare_run(
        strategy, save_dir, batch_size, seed=seed, mixed_precision=mixed_precision,
        require_gpu=require_gpu, deterministic=deterministic,
    )
    os.makedirs(save_dir, exist_ok=True)
    samples = load_two_view_data(manifest, num_shapes, seed, strict)
    image_size = resolve_image_size(image_size, lambda: views_native_side(samples),
                                    announce=verbose and "the views")
    splits = aligned_splits(samples.labels, labelled_fraction, test_fraction, valid_fraction,
                            seed=0 if seed is None else seed)
    backup = RoundBackup(os.path.join(save_dir, "backup"), os.path.join(save_dir, "epochs.csv"))
    if not resume:
        backup.clear()
    resumed = backup.read()
    history = list(resumed["history"]) if resumed else []

    def after_round(record):
        from tfvision.visualization.cotraining_rounds import plot_cotraining_rounds

        history.append(record)
        write_history(history, save_dir)
        plot_cotraining_rounds(history, os.path.join(save_dir, "cotraining_rounds.png"))
        for i, model in enumerate(cotraining.models):
            save_checkpoint(model, os.path.join(save_dir, f"view{i}.keras"), record["round"],
                            {"test_accuracy": record[f"test_accuracy{i}"]})
        save_checkpoint(cotraining, os.path.join(save_dir, "cotraining.keras"), record["round"],
                        {"test_ensemble_accuracy": record["test_ensemble_accuracy"]})
        if on_round_end is not None:
            on_round_end(record)

    # Models, optimizers and metrics are created inside the scope: mirrored variables.
    with distribution.scope():
        cotraining = build_cotraining(samples.class_names, arch, image_size, alpha, weights,
                                      train_backbone, hidden_units, dropout, learning_rate)
        plateau = PerViewPlateau(early_stopping_patience, reduce_lr_patience)
        result = fit_rounds(cotraining, samples, splits, rounds, epochs_per_round, k,
                            batch_size, image_size, steps_per_epoch, seed, class_balanced,
                            oversample, plateau, callbacks=callbacks, on_round_end=after_round,
                            augmentation=cotraining_augmentation(augment, image_size, weights,
                                                           train_backbone, flip),
                            backup=backup, verbose=verbose)
    with open(os.path.join(save_dir, "samples.json"), "w") as handle:
        json.dump(_sample_lists(samples, splits, result), handle)
    return cotraining, result


def resume_point(save_dir):
    """`(round, completed epochs)` a run in `save_dir` would resume from, or `None`."""
    state = RoundBackup(os.path.join(save_dir, "backup")).read()
    return None if state is None else (state["round"], state["epoch"])


def _sample_lists(samples, splits, result):
    def rows(indices, labels=None):
        labels = samples.labels[indices] if labels is None else labels
        return [[str(samples.sources[0][i]), str(samples.sources[1][i]), int(label)]
                for i, label in zip(indices, labels)]

    return {
        "columns": ["view0", "view1", "label"],
        "class_names": samples.class_names,
        "valid": rows(splits.valid),
        "test": rows(splits.test),
        "pool": rows(result.pool, [-1] * len(result.pool)),
        "train_view0": rows(*result.train_sets[0]),
        "train_view1": rows(*result.train_sets[1]),
    }
