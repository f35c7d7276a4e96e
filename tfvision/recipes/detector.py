"""The detector recipe end to end: train, evaluate, predict from files.

These are the functions behind `tfvision detector ...`; the command line only
parses arguments, and a notebook can call them too.
"""

import os

import keras
import numpy as np

from tfvision.data.detection.mixing import check_mixing
from tfvision.data.detection.sources import detection_data
from tfvision.losses.class_balance import class_balance_weights
from tfvision.metrics import evaluate_detections, write_detection_report
from tfvision.models.ssd.ssd_presets import PRESETS
from tfvision.training.callbacks import training_callbacks
from tfvision.training.checkpoints import load_checkpoint, read_checkpoint_state
from tfvision.training.detection_evaluation import DetectionEvaluation
from tfvision.training.distribution import prepare_run, shard_by_data
from tfvision.training.grouped_optimizer import GroupedOptimizer
from tfvision.training.one_cycle import OneCycleSchedule


def one_cycle_adam(learning_rate, steps, ratio=20.0, warmup_fraction=0.125):
    """Adam on a `OneCycleSchedule` peaking at `learning_rate`."""
    return keras.optimizers.Adam(OneCycleSchedule(learning_rate, steps, ratio, warmup_fraction))


def _build_optimizer(model):
    """Makes the optimizer's slots now, before `fit` traces its step.

    Slots made while the step is traced make `tf.function` trace it twice,
    and the step's graph (assigning targets, the loss, Adam) takes longer to
    trace than a small epoch to run.
    """
    model.optimizer.build(model.trainable_variables)


def train_detector(
    data,
    save_dir,
    model="ssdlite_mobilenet_v2",
    image_size=320,
    alpha=1.0,
    backbone_weights="imagenet",
    epochs=10,
    batch_size=32,
    learning_rate=1e-2,
    lr_ratio=20.0,
    warmup_fraction=0.125,
    freeze_backbone=True,
    fine_tune_epochs=0,
    backbone_learning_rate_factor=0.3,
    fine_tune_learning_rate_factor=0.3,
    classification=None,
    localization=None,
    iou_threshold=0.5,
    num_train_images=None,
    num_valid_images=None,
    augment=True,
    flip=True,
    mosaic=0.0,
    mixup=0.0,
    close_mosaic=0,
    balance_classes=False,
    early_stopping_patience=None,
    monitor="map",
    eval_every=1,
    seed=None,
    mixed_precision="off",
    require_gpu=False,
    deterministic=False,
    strategy="none",
    resume=True,
    verbose=1,
):
    """Trains a detector on the train split of `data`, validating on its valid split.

    Phase 1 trains `epochs` epochs with the backbone frozen (the head first)
    unless `freeze_backbone=False`; phase 2 (`fine_tune_epochs > 0`) unfreezes
    it and trains the backbone at `backbone_learning_rate_factor` times the
    head's rate, through a `GroupedOptimizer` (the lecture's discriminative
    rates). Each phase runs one `OneCycleSchedule` cycle with Adam.

    Every `eval_every` epochs, and at the end of each phase, the validation
    split's mAP is computed (`tfvision.training.DetectionEvaluation`): COCO AP
    as `val_map`, with `val_map50`, `val_map75` and `val_voc07_map`, in the
    progress line, `history.csv` and TensorBoard, and each evaluation's
    `metrics.json` content in `save_dir/evaluation/epochs/`. The best epoch
    by `monitor` (validation COCO AP by default) is kept in
    `save_dir/best.keras`, the last in `save_dir/last.keras`; after training,
    the report of `best.keras` on the validation split (`metrics.json`,
    `pr_curves.png`, `confusion_matrix.png`, `f1_curve.png`) goes to
    `save_dir/evaluation/valid`, where `tfvision detector evaluate
    best.keras --split valid` writes the same.

    A run killed and started again with the same arguments resumes from its
    last completed epoch (`training_callbacks`' backup): killed in phase 2,
    it loads `last.keras` and goes on with phase 2, phase 1 is not trained
    again. `resume=False` starts again at epoch 0.

    With `strategy="mirrored"` (see `tfvision.training.distribution_strategy`)
    each global batch of `batch_size` images is split over the local
    devices; the model and its optimizer are made inside the strategy's
    scope, and the multibox loss is normalised by the positives of the
    global batch (`SSDDetector.compute_loss`). `strategy="multi-worker"`
    trains on the cluster of `TF_CONFIG` (every worker runs the same call,
    with the same `seed`): each worker takes `batch_size` images of every
    global batch, and only the chief writes to `save_dir` (the others to
    `save_dir/workertemp_<index>`, see `worker_save_dir`).

    Args:
        data: str, a `detection_data` spec (`"shapes"`, ...).
        save_dir: str, folder for checkpoints, logs and plots.
        model: str, a preset name (`"ssdlite_mobilenet_v2"`, `"ssd_multihead"`).
            Defaults to `"ssdlite_mobilenet_v2"`.
        image_size: int. Defaults to `320`.
        alpha: float, MobileNetV2 width. Defaults to `1.0`.
        backbone_weights: `None`, `"imagenet"`, `"shapes"` or a `.weights.h5`
            path. Defaults to `"imagenet"`.
        epochs: int, phase-1 epochs. Defaults to `10`.
        batch_size: int, the global batch (one worker's share under
            `"multi-worker"`). Defaults to `32`.
        learning_rate: float, the peak rate of the head. Defaults to `1e-2` (on the
            digit canvases of `make quality`, test mAP@0.5 0.138 against 0.065 at `1e-3`).
        lr_ratio: float, max / min rate of the cycle. Defaults to `20`.
        warmup_fraction: float. Defaults to `0.125`.
        freeze_backbone: bool, freeze the backbone in phase 1. Defaults to `True`.
        fine_tune_epochs: int, phase-2 epochs. Defaults to `0`.
        backbone_learning_rate_factor: float, backbone rate relative to the
            head's in phase 2. Defaults to `0.3`.
        fine_tune_learning_rate_factor: float, head rate of phase 2 relative to
            `learning_rate`. Defaults to `0.3` (the lecture lowers its rates
            to `lrs / 2` and `lrs / 4` when it unfreezes).
        classification, localization: loss choices, or `None` for the
            preset's. Defaults to `None`.
        iou_threshold: float, anchor matching threshold. Defaults to `0.5`.
        num_train_images, num_valid_images: int or None, split sizes of the
            built-in data. Defaults to `None`.
        augment: bool, training augmentation. Defaults to `True`.
        flip: bool, random horizontal flips among the augmentations; `False`
            for classes that mirroring changes (digits, text, arrows). Defaults
            to `True`.
        mosaic: float in [0, 1], the chance that a training image becomes a
            mosaic of 4 (`tfvision.data.detection.mixing.mosaic_batch`).
            Defaults to `0.0`.
        mixup: float in [0, 1], the chance that a training image is blended
            with another (`mixup_batch`), after mosaic. Defaults to `0.0`.
        close_mosaic: int, train the last `close_mosaic` epochs (of both
            phases together) without mosaic and mixup, on images as they are.
            Defaults to `0`.
        balance_classes: bool, weight each class's positive anchors in the
            classification loss by `tfvision.losses.class_balance_weights` of
            the training split's box counts (rarer classes heavier, the mean
            weight per box 1). Defaults to `False`.
        early_stopping_patience: int or None, evaluations of `monitor`
            without improvement before training stops. Defaults to `None`.
        monitor: `"map"` (validation COCO AP, higher is better) or `"loss"`
            (validation loss) chooses `best.keras` and drives early stopping.
            Defaults to `"map"`.
        eval_every: int, epochs between validation mAP evaluations; `0`
            computes none (and needs `monitor="loss"`). Defaults to `1`.
        seed, mixed_precision, require_gpu, deterministic, strategy, resume, verbose: the
            run options (see `tfvision.training.RunOptions`);
            `seed` is required under `"multi-worker"`. Default to `None`,
            `"off"`, `False`, `False`, `"none"`, `True`, `1`.

    Returns:
        `(model, history)`: the trained `SSDDetector` and `{metric: [values]}`.
    """
    if model not in PRESETS:
        raise ValueError(f"`model` must be one of {sorted(PRESETS)}. Received: model={model!r}")
    total_epochs = epochs + fine_tune_epochs
    if not 0 <= int(close_mosaic) <= total_epochs:
        raise ValueError(f"`close_mosaic` must be in [0, {total_epochs}] (the epochs). "
                         f"Received: close_mosaic={close_mosaic}")
    check_mixing(mosaic, mixup)  # before the data is read or generated
    if (mosaic or mixup) and not augment:
        raise ValueError("Mosaic and mixup are training augmentations: they need "
                         f"augment=True (no --no-augment). Received: mosaic={mosaic}, "
                         f"mixup={mixup}, augment={augment}")
    if monitor not in ("map", "loss"):
        raise ValueError(f"`monitor` must be 'map' or 'loss'. Received: monitor={monitor!r}")
    if int(eval_every) < 0 or (monitor == "map" and int(eval_every) == 0):
        raise ValueError(
            "`eval_every` must be >= 1 with monitor='map' (>= 0 with 'loss'). "
            f"Received: eval_every={eval_every}, monitor={monitor!r}"
        )
    distribution, save_dir, batch_size = prepare_run(
        strategy, save_dir, batch_size, seed=seed, mixed_precision=mixed_precision,
        require_gpu=require_gpu, deterministic=deterministic,
    )
    # Model, optimizers and metrics are made inside the scope: mirrored variables.
    with distribution.scope():
        train = detection_data(
            data, "train", image_size, batch_size, training=augment, seed=seed,
            num_images=num_train_images, flip=flip, mosaic=mosaic, mixup=mixup,
            mixing_epochs=total_epochs - int(close_mosaic) if close_mosaic else None)
        valid = detection_data(data, "valid", image_size, batch_size, training=False,
                               num_images=num_valid_images)
        # mAP on the whole split on every worker: they all take the same decisions.
        every_valid_batch = valid.dataset
        # Every worker builds the same batches and keeps its share of each.
        train.dataset, valid.dataset = shard_by_data(train.dataset), shard_by_data(valid.dataset)
        steps = max(1, train.num_examples // batch_size)
        last = os.path.join(save_dir, "last.keras")
        done = 0
        if resume and os.path.isfile(last):
            done = read_checkpoint_state(last)["epoch"] or 0

        def callbacks():
            # The one-cycle schedule sets the rate: no reduce-on-plateau. Both
            # phases share save_dir: checkpoints, history and the backup carry on.
            evaluation = None
            if eval_every:
                evaluation = DetectionEvaluation(
                    every_valid_batch, train.class_names, every=eval_every,
                    metrics_dir=os.path.join(save_dir, "evaluation", "epochs"))
            return training_callbacks(
                save_dir, monitor="val_map" if monitor == "map" else "val_loss",
                mode="max" if monitor == "map" else "min",
                early_stopping_patience=early_stopping_patience, reduce_lr_patience=None,
                resume=resume, datasets=[train.dataset], precise_batch_norm=train.dataset,
                evaluation=evaluation,
            )

        if done and done >= epochs:
            # Phase 1 finished in an earlier run: go on from its checkpoint.
            detector, _ = load_checkpoint(last)
        else:
            options = {"iou_threshold": iou_threshold}
            if classification:
                options["classification"] = classification
            if localization:
                options["localization"] = localization
            if balance_classes:
                if train.class_counts is None:
                    raise ValueError(
                        f"balance_classes needs the box count of each class, which the "
                        f"{data!r} loader does not give (VOC through tfds).")
                options["class_weights"] = class_balance_weights(train.class_counts)
            detector = PRESETS[model](
                train.class_names, alpha=alpha, image_size=image_size,
                backbone_weights=backbone_weights, freeze_backbone=freeze_backbone, **options,
            )
            detector.compile(
                optimizer=one_cycle_adam(learning_rate, epochs * steps, lr_ratio, warmup_fraction)
            )
            _build_optimizer(detector)
        history = {}
        if done < epochs:
            fit = detector.fit(train.dataset, validation_data=valid.dataset, epochs=epochs,
                               callbacks=callbacks(), verbose=verbose)
            history.update(fit.history)
        if fine_tune_epochs and done < total_epochs:
            detector.set_backbone_trainable(True)
            cycle = fine_tune_epochs * steps
            head_rate = learning_rate * fine_tune_learning_rate_factor
            detector.compile(
                optimizer=GroupedOptimizer(
                    [
                        one_cycle_adam(head_rate * backbone_learning_rate_factor, cycle,
                                       lr_ratio, warmup_fraction),
                        one_cycle_adam(head_rate, cycle, lr_ratio, warmup_fraction),
                    ],
                    [detector.backbone_variable_pattern()],
                )
            )
            _build_optimizer(detector)
            fit = detector.fit(train.dataset, validation_data=valid.dataset,
                               initial_epoch=epochs, epochs=total_epochs, callbacks=callbacks(),
                               verbose=verbose)
            for key, values in fit.history.items():
                history.setdefault(key, []).extend(values)
    best = os.path.join(save_dir, "best.keras")
    if eval_every and os.path.isfile(best):
        evaluate_detector(data, best, split="valid", batch_size=batch_size,
                          num_images=num_valid_images,
                          report_dir=os.path.join(save_dir, "evaluation", "valid"))
    return detector, history


def evaluate_detector(data, checkpoint, split="test", batch_size=32, num_images=None,
                      model=None, report_dir=None):
    """COCO and VOC07 mAP of a checkpoint on one split of `data`.

    Args:
        data: str, a `detection_data` spec.
        checkpoint: str, a `.keras` file from `train_detector`.
        split: str. Defaults to `"test"`.
        batch_size: int. Defaults to `32`.
        num_images: int or None, split size of the built-in data. Defaults to `None`.
        model: an `SSDDetector` to use instead of loading `checkpoint`.
            Defaults to `None`.
        report_dir: str or None, write `metrics.json`, `pr_curves.png`,
            `confusion_matrix.png` and `f1_curve.png` there (see
            `tfvision.metrics.write_detection_report`). Defaults to `None`.

    Returns:
        The `DetectionEvaluator.result()` dict (`AP`, `AP50`, `AP75`,
        `voc07_map`, per-class tables) plus `num_images`.
    """
    if model is None:
        model, _ = load_checkpoint(checkpoint, compile=False)
    images = detection_data(data, split, model.image_size, batch_size, training=False,
                            num_images=num_images)
    if images.class_names != model.class_names:
        raise ValueError(
            f"The classes of {data}/{split} {images.class_names} are not those the "
            f"checkpoint {checkpoint} was trained on {model.class_names}."
        )
    evaluator, count = evaluate_detections(model, images.dataset)
    if report_dir:
        result, _ = write_detection_report(evaluator, report_dir)
    else:
        result = evaluator.result()
    result["num_images"] = count
    return result


def predict_detections(image_path, checkpoint, score_threshold=0.3, plot=None):
    """Detections in one image file, boxes in the file's pixels.

    The image is resized (not cropped) to the model's input, so relative
    boxes map back to the whole file. For many files at once, in batches, see
    `tfvision.recipes.detection_prediction`.

    Args:
        image_path: str, an image file.
        checkpoint: str, a `.keras` checkpoint.
        score_threshold: float, keep detections scoring above it. Defaults to `0.3`.
        plot: str or None, write the image with its boxes to this PNG.
            Defaults to `None`.

    Returns:
        list of dicts `{"class_name", "class_id", "score", "box"}` (best first),
        `box` being `[x_min, y_min, x_max, y_max]` in pixels of the file.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a readable image.
    """
    from tfvision.data.images import decode_image_file
    from tfvision.recipes.detection_prediction import plot_image_detections, predict_detection_files

    decode_image_file(image_path)  # a clear error for a missing or unreadable file
    model, _ = load_checkpoint(checkpoint, compile=False)
    (found,), _ = predict_detection_files(model, [image_path], score_threshold, batch_size=1)
    if plot:
        plot_image_detections(found, plot, model.class_names)
    return [
        {"class_name": model.class_names[int(class_id)], "class_id": int(class_id),
         "score": float(score), "box": [float(v) for v in box]}
        for box, score, class_id in zip(found.boxes, found.scores, found.class_ids)
    ]
