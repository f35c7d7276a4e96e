"""The MoCo recipe end to end: pretrain, kNN evaluation, linear probe.

These are the functions behind `tfvision moco ...`; the command line only
parses arguments, and a notebook can call them too.
"""

import os
import warnings

import keras

from tfvision.data.classification.sources import classification_data
from tfvision.data.epoch_seeds import epoch_seeds_callbacks
from tfvision.models.backbones import backbone_spec, build_backbone
from tfvision.models.moco.moco_model import MoCo
from tfvision.recipes.moco.knn_monitor import KNNMonitor, knn_accuracy
from tfvision.recipes.moco.linear_probe import probe_encoder
from tfvision.training.callbacks import HistoryCSVLogger, TrainingCurvesCallback
from tfvision.training.checkpoints import CheckpointCallback, load_checkpoint, read_checkpoint_state
from tfvision.training.distribution import prepare_run, shard_by_data
from tfvision.training.precise_batch_norm import PreciseBatchNorm

BACKBONE_FILE = "backbone.weights.h5"


def build_encoder_backbone(arch="mobilenet_v2", image_size=64, alpha=0.35, bn_splits=1):
    """A randomly initialised backbone from the registry for pretraining, with pooled features.

    Args:
        arch: a name of `tfvision.models.backbones.backbone_names()`, such as
            `"mobilenet_v2"` (tfvision's) or `"small_cnn"` (the demo's CNN).
        image_size: int. Defaults to `64`.
        alpha: float, width of backbones that have one (others ignore it).
            Defaults to `0.35`.
        bn_splits: int, split batch norm (small_cnn only). Defaults to `1`.

    Returns:
        A `keras.Model` from normalised images to pooled features `[B, D]`.
    """
    if bn_splits != 1 and arch != "small_cnn":
        raise ValueError(
            "Split batch norm is built into the small_cnn encoder; other backbones rely on "
            f"shuffle-BN across devices. Received: arch={arch!r}, bn_splits={bn_splits}"
        )
    options = {"bn_splits": bn_splits} if arch == "small_cnn" else {}
    alpha = alpha if backbone_spec(arch).width_multiplier else 1.0
    return build_backbone(arch, image_size, alpha=alpha, **options)


def learning_rate_schedule(learning_rate, total_steps, milestones=None, steps_per_epoch=1):
    """Cosine decay over `total_steps`, or ×0.1 at each epoch of `milestones`.

    Returns:
        A `keras.optimizers.schedules.LearningRateSchedule`.
    """
    if milestones:
        boundaries = [int(m) * steps_per_epoch for m in milestones]
        values = [learning_rate * 0.1**i for i in range(len(boundaries) + 1)]
        return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
    return keras.optimizers.schedules.CosineDecay(learning_rate, max(int(total_steps), 1))


def labeled_split(data, split, image_size, batch_size=256, num_images=1000, seed=0):
    """Labelled images (evaluation transform) for the kNN monitor and the probe.

    `data` is `"shapes"` (generated; `num_images` of `split`), an image folder
    or `"tfds:NAME"`. For folders a missing `test` split falls back to `valid`.

    Returns:
        A `tfvision.data.LabeledImages`.
    """
    return classification_data(data, split, image_size, batch_size, training=False, seed=seed,
                               num_images=num_images, missing_test_uses_valid=True)


def pretrain_moco(
    data,
    save_dir,
    arch="mobilenet_v2",
    alpha=0.35,
    image_size=64,
    epochs=20,
    batch_size=64,
    queue_size=4096,
    momentum=0.99,
    temperature=0.2,
    symmetric=False,
    bn_splits=1,
    projection_dim=128,
    hidden_dims=(2048,),
    feature_grid=1,
    learning_rate=0.06,
    weight_decay=5e-4,
    milestones=None,
    num_images=2000,
    knn_every=1,
    knn_images=600,
    knn_k=200,
    knn_temperature=0.1,
    augmentation=None,
    seed=0,
    mixed_precision="off",
    require_gpu=False,
    deterministic=False,
    strategy="none",
    resume=True,
    callbacks=(),
    verbose=1,
):
    """Pretrains a MoCo encoder on `data` with `model.fit`, resumable.

    Writes to `save_dir`: `last.keras` every epoch and `best.keras` (lowest
    loss), both atomic and carrying the queue, its pointer and the optimizer
    state; `history.csv` (appended across resumed runs); `logs/` (TensorBoard,
    scalars per batch and per epoch); `training_curves.png`; and at the end
    `backbone.weights.h5`, the query backbone alone (the transfer contract).
    Started again with the same arguments (after a crash or `kill -9`), a run
    resumes from `last.keras`: an epoch's CSV row is written before the
    checkpoint that marks the epoch done, and rows of epochs the resumed run
    repeats are replaced, so `history.csv` holds every epoch once.
    `resume=False` starts again at epoch 0 (the history is rewritten and the
    checkpoints overwritten).

    `strategy="mirrored"` (see `tfvision.training.distribution_strategy`)
    builds and compiles MoCo inside the strategy's scope and splits each batch
    of `batch_size` pairs over the local devices; the key batch is shuffled
    across them (shuffle-BN) and the keys of all of them are enqueued.

    SGD with momentum 0.9 and weight decay; the learning rate follows a
    cosine decay, or drops ×0.1 at each epoch of `milestones`. A kNN monitor
    (`KNNMonitor`, k, T as the demo) runs every `knn_every` epochs (0: never)
    on the training and test splits of `data`. A resumed run keeps the
    schedule it was compiled with (its total epochs), whatever `epochs` says.
    `callbacks` are added after tfvision's own. `strategy` is a name of
    `tfvision.training.distribution_strategy`; under `"multi-worker"` each
    worker takes `batch_size` pairs of every global batch and only the chief
    writes to `save_dir` (see `worker_save_dir`).

    Args:
        data: str. `"shapes"`, an image folder or `"tfds:NAME"` (see
            `positive_pairs_dataset`).
        save_dir: str. Output folder.
        arch, alpha, image_size, bn_splits: the encoder (see
            `build_encoder_backbone`). Default to `"mobilenet_v2"`, `0.35`,
            `64`, `1`. With a strategy, `bn_splits` splits each replica's part.
        epochs, batch_size: int. Default to `20`, `64` (the global batch).
        queue_size, momentum, temperature, symmetric, projection_dim, hidden_dims: the
            `MoCo` arguments. Default to `4096`, `0.99`,
            `0.2`, `False`, `128`, `(2048,)`.
        feature_grid: int, the `MoCo` features' grid (1: the backbone's global
            pooling). Defaults to `1`.
        learning_rate, weight_decay, milestones: SGD settings. Default to
            `0.06`, `5e-4`, `None` (cosine decay).
        num_images: int, images generated for `"shapes"`. Defaults to `2000`.
        knn_every, knn_images, knn_k, knn_temperature: the kNN monitor.
            Default to `1`, `600`, `200`, `0.1`.
        augmentation: `PairAugmentation` or `None` (the data's default).
            With `grayscale_probability=1` every view is grey, and so is every
            image the model sees afterwards (`MoCo(grayscale=True)`).
        seed, mixed_precision, require_gpu, deterministic, strategy, resume, verbose: the
            run options (see `tfvision.training.RunOptions`;
            `resume` continues from `save_dir/last.keras`). Default to `0`,
            `"off"`, `False`, `False`, `"none"`, `True`, `1`.
        callbacks: extra `keras.callbacks.Callback`s. Defaults to `()`.

    Returns:
        `(model, history)`: the `MoCo` model and `{metric: [values]}` of this call.

    Example (trains for about half a minute, so `make test-slow` runs it):
    >>> model, history = pretrain_moco("shapes", "runs/moco", arch="small_cnn", image_size=32,
    ...                                epochs=2, batch_size=32, queue_size=64, num_images=128,
    ...                                verbose=0)
    >>> len(history["loss"]), sorted(os.listdir("runs/moco"))[:3]
    (2, ['backbone.weights.h5', 'best.keras', 'history.csv'])
    """
    from tfvision.data.pairs.positive_pairs import positive_pairs_dataset

    distribution, save_dir, batch_size = prepare_run(
        strategy, save_dir, batch_size, seed=seed, mixed_precision=mixed_precision,
        require_gpu=require_gpu, deterministic=deterministic,
    )
    replicas = distribution.num_replicas_in_sync
    if batch_size % (replicas * bn_splits):
        raise ValueError(
            f"The batch size must split evenly over {replicas} replica(s) and bn_splits="
            f"{bn_splits} sub-batches on each. Received: batch_size={batch_size}"
        )
    pairs, count = positive_pairs_dataset(data, image_size, batch_size, augmentation=augmentation,
                                    seed=seed, num_images=num_images)
    pairs = shard_by_data(pairs)
    steps_per_epoch = count // batch_size
    if steps_per_epoch < 1:
        raise ValueError(
            f"{data} has {count} images, fewer than one batch. Received: batch_size={batch_size}"
        )
    if queue_size >= count:
        warnings.warn(
            f"queue_size={queue_size} is not below the {count} images of {data}: the queue "
            "then holds older keys of each query's own image as negatives. Pass a smaller "
            "queue size (the CIFAR-10 demo: 4096 for 50000 images).", stacklevel=2,
        )
    last = os.path.join(save_dir, "last.keras")
    resumable = resume and os.path.isfile(last)
    done = (read_checkpoint_state(last)["epoch"] or 0) if resumable else 0
    # Model, optimizer and metrics are created inside the scope: mirrored variables.
    with distribution.scope():
        if done:
            model, _ = load_checkpoint(last)
        else:
            model = MoCo(
                build_encoder_backbone(arch, image_size, alpha, bn_splits),
                projection_dim=projection_dim, hidden_dims=hidden_dims, queue_size=queue_size,
                momentum=momentum, temperature=temperature, symmetric=symmetric, seed=seed,
                feature_grid=feature_grid,
                grayscale=augmentation is not None and augmentation.grayscale_probability >= 1,
            )
            schedule = learning_rate_schedule(learning_rate, epochs * steps_per_epoch,
                                              milestones, steps_per_epoch)
            model.compile(optimizer=keras.optimizers.SGD(schedule, momentum=0.9,
                                                         weight_decay=weight_decay))
        history = {}
        if done < epochs:
            # The pairs' shuffle and augmentation follow the epoch number, so a
            # resumed run sees the batches of an uninterrupted one.
            # Precise batch norm before the kNN monitor and the checkpoints.
            callbacks = epoch_seeds_callbacks([pairs]) + [PreciseBatchNorm(pairs)] + _callbacks(
                save_dir, data, image_size, knn_every, knn_images, knn_k, knn_temperature, seed,
                verbose, resume,
            ) + list(callbacks)
            fit = model.fit(pairs, epochs=epochs, initial_epoch=done, callbacks=callbacks,
                            verbose=verbose)
            history = fit.history
    model.save_backbone_weights(os.path.join(save_dir, BACKBONE_FILE))
    return model, history


def _callbacks(save_dir, data, image_size, knn_every, knn_images, knn_k, knn_temperature, seed,
               verbose, resume=True):
    os.makedirs(save_dir, exist_ok=True)
    callbacks = []
    if knn_every:
        memory = labeled_split(data, "train", image_size, num_images=knn_images, seed=seed)
        test = labeled_split(data, "test", image_size, num_images=max(knn_images // 2, 1),
                             seed=seed)
        # First, so that the loggers below see `knn_accuracy`.
        callbacks.append(KNNMonitor(memory.dataset, test.dataset, memory.num_classes,
                                    every_n_epochs=knn_every, k=knn_k,
                                    temperature=knn_temperature, verbose=bool(verbose)))
    csv_path = os.path.join(save_dir, "history.csv")
    checkpoints = CheckpointCallback(save_dir, monitor="loss", mode="min")
    if not resume:
        checkpoints.best = None  # A fresh run's first epoch is its best so far.
    callbacks += [
        # The epoch's row is written before `last.keras` marks the epoch done; a
        # kill between the two repeats the epoch, whose row is then replaced.
        HistoryCSVLogger(csv_path),
        checkpoints,
        TrainingCurvesCallback(csv_path, os.path.join(save_dir, "training_curves.png")),
        keras.callbacks.TensorBoard(os.path.join(save_dir, "logs"), update_freq="batch"),
    ]
    return callbacks


def knn_evaluate(checkpoint, data, k=200, temperature=0.1, num_images=1000, batch_size=256,
                 seed=0):
    """Weighted kNN accuracy of a pretrained checkpoint's features on `data`.

    Returns:
        `{"knn_accuracy": float, "num_memory": int, "num_test": int}`.
    """
    model, _ = load_checkpoint(checkpoint, compile=False)
    size = model.backbone.input_shape[1]
    memory = labeled_split(data, "train", size, batch_size, num_images, seed)
    test = labeled_split(data, "test", size, batch_size, max(num_images // 2, 1), seed)
    accuracy = knn_accuracy(model, memory.dataset, test.dataset, memory.num_classes, k,
                            temperature)
    return {"knn_accuracy": accuracy, "num_memory": memory.num_examples,
            "num_test": test.num_examples}


def linear_probe_checkpoint(checkpoint, data, label_fraction=0.1, classes=None, epochs=100,
                            num_images=1000, batch_size=256, seed=0):
    """Linear probe of a pretrained checkpoint's frozen features (see `linear_probe`).

    Returns:
        The dict of `linear_probe` without the classifier, plus `class_names`.
    """
    model, _ = load_checkpoint(checkpoint, compile=False)
    size = model.backbone.input_shape[1]
    train = labeled_split(data, "train", size, batch_size, num_images, seed)
    test = labeled_split(data, "test", size, batch_size, max(num_images // 2, 1), seed)
    if classes is not None:
        bad = [c for c in classes if not 0 <= int(c) < train.num_classes]
        if bad:
            raise ValueError(
                f"Classes must be ids in [0, {train.num_classes}) of {train.class_names}. "
                f"Received: classes={list(classes)}"
            )
    result = probe_encoder(model, train.dataset, test.dataset, label_fraction=label_fraction,
                           classes=classes, epochs=epochs, seed=seed)
    result.pop("classifier")
    names = train.class_names if classes is None else [train.class_names[int(c)] for c in classes]
    result["class_names"] = names
    return result
