"""The classifier recipe end to end: train, evaluate, predict from files.

These are the functions behind `tfvision classifier ...`; the command line
only parses arguments. Each takes plain values, so a notebook can call them
too.
"""

import dataclasses
import os
import warnings

import keras
import numpy as np

from tfvision.data.category_names import display_names_for
from tfvision.data.classification.augment_presets import augmentation_preset
from tfvision.data.classification.sources import classification_data, native_side
from tfvision.data.image_sizes import resolve_image_size
from tfvision.models.classifier.image_classifier import ImageClassifier
from tfvision.recipes.classifier_options import (
    SMALL_FROM_SCRATCH_SIDE,
    classifier_optimizer,
    resolve_hidden_units,
    resolve_learning_rates,
)
from tfvision.training.callbacks import training_callbacks
from tfvision.training.checkpoints import load_checkpoint, read_checkpoint_state
from tfvision.training.distribution import prepare_run, shard_by_data
from tfvision.training.lr_sweep import learning_rate_sweep


def load_split(data, split, image_size, batch_size, training=None, seed=None, strict=False,
               augmentation=None):
    """Loads one split of `data`: an image folder, or `tfds:NAME`.

    `augmentation` (an `Augmentation`) sets the training transform and the
    evaluation crop; `None` keeps the source's defaults.

    Returns:
        A `tfvision.data.LabeledImages`.
    """
    return classification_data(data, split, image_size, batch_size, training=training, seed=seed,
                               strict=strict, augmentation=augmentation)


def train_classifier(
    data,
    save_dir,
    arch="mobilenet_v2",
    alpha=1.0,
    image_size="auto",
    weights="imagenet",
    train_backbone=False,
    hidden_units="auto",
    dropout=0.2,
    learning_rates="auto",
    sweep_epochs=1,
    epochs=20,
    batch_size=32,
    fine_tune_layers=0,
    fine_tune_epochs=0,
    fine_tune_learning_rate_factor=0.1,
    early_stopping_patience="auto",
    crop_scale=None,
    augment="auto",
    flip=None,
    schedule="plateau",
    warmup_epochs=1,
    weight_decay=0.0,
    freeze_batch_norm=None,
    grayscale=False,
    feature_grid=1,
    seed=None,
    strict=False,
    mixed_precision="off",
    require_gpu=False,
    deterministic=False,
    strategy="none",
    resume=True,
    verbose=1,
):
    """Trains an `ImageClassifier` on `data/train`, validating on `data/valid`.

    Checkpoints, TensorBoard logs, the CSV history and the training-curve
    plot go to `save_dir` (see `training_callbacks`). A run killed and started
    again with the same arguments resumes from its last completed epoch
    (`resume=False` starts again); with a seed and deterministic ops, it ends
    with the weights an uninterrupted run would have.

    With several `learning_rates`, a sweep first trains the same initial head
    for `sweep_epochs` at each rate and keeps the best by validation accuracy;
    training then goes on from that run at that rate. With
    `fine_tune_layers > 0`, a second phase of `fine_tune_epochs` unfreezes the
    top `fine_tune_layers` backbone layers and trains at the learning rate
    times `fine_tune_learning_rate_factor`.

    The defaults follow the data and what the backbone starts from:
    - `image_size="auto"` (see `tfvision.data.image_sizes`): the training
      images' typical shorter side rounded up to a multiple of 32 within
      `[64, 224]` (64 for 32 px images, 224 for photographs; 224 when the
      source does not say, as for the built-in shapes).
    - `augment="auto"` (see `augmentation_preset`): `none` for a backbone
      trained from random weights, `light` for images of at most 96 px (small
      rotations and crops of half the image or more, and no evaluation crop),
      else torchvision's `standard` ImageNet recipe. `crop_scale` overrides the
      preset's crop area, and `flip=False` its horizontal flip.
    - `schedule="plateau"`: a constant rate divided by 5 after 2 epochs
      without a better validation accuracy; `"cosine"`: a linear warm-up over
      `warmup_epochs`, then a cosine to 0 at the last epoch. From random
      weights on the digits of `make quality` (64 px, 15 epochs, no
      augmentation), plateau with Adam reached test top-1 0.950, cosine with
      AdamW's weight decay 0.05 0.928.
    - `weight_decay=0.0`: Adam; above 0, AdamW with that decoupled decay.
    - `early_stopping_patience="auto"`: 5 epochs with `"plateau"`, none with
      `"cosine"` (a cosine run ends where it was told to; `best.keras` holds
      the best epoch either way).
    - `hidden_units="auto"`: a linear head from random weights, else one
      hidden layer of 512 (see `resolve_hidden_units`).
    - `learning_rates="auto"`: 3e-3 from random weights, else 1e-3 (see
      `resolve_learning_rates`).
    - `freeze_batch_norm=None`, `grayscale=False`, `feature_grid=1`: see
      `ImageClassifier`.

    `strategy="mirrored"` (see `tfvision.training.distribution_strategy`)
    spreads each batch of `batch_size` images over the local devices;
    `strategy="multi-worker"` trains on the cluster of `TF_CONFIG`, each
    worker taking `batch_size` images of every global batch, and only the
    chief writing to `save_dir` (see `worker_save_dir`). `seed`,
    `mixed_precision`, `require_gpu`, `deterministic`, `strategy`, `resume` and
    `verbose` are the run options (see `tfvision.training.RunOptions`).

    Returns:
        `(model, history)`: the trained model (best epoch's weights are in
        `save_dir/best.keras`) and `{metric: [values]}` of this call.
    """
    distribution, save_dir, batch_size = prepare_run(
        strategy, save_dir, batch_size, seed=seed, mixed_precision=mixed_precision,
        require_gpu=require_gpu, deterministic=deterministic,
    )
    image_size = resolve_image_size(image_size, lambda: native_side(data, "train"),
                                    announce=verbose and "the training images")
    # Model, optimizer and metrics are created inside the scope: mirrored variables.
    with distribution.scope():
        from_scratch = weights is None and train_backbone
        augmentation = augmentation_preset(augment, image_size, from_scratch, crop_scale, flip)
        if from_scratch and image_size < SMALL_FROM_SCRATCH_SIDE:
            warnings.warn(
                f"From random weights at image_size={image_size}, the backbone's last "
                f"feature map is {max(1, image_size // 32)} px wide and the model learns "
                f"little; train at image_size={SMALL_FROM_SCRATCH_SIDE} (smaller images are "
                "upsampled).", stacklevel=2)
        if schedule not in ("cosine", "plateau"):
            raise ValueError(f"`schedule` must be 'cosine' or 'plateau'. "
                             f"Received: schedule={schedule!r}")
        if early_stopping_patience == "auto":
            early_stopping_patience = 5 if schedule == "plateau" else None
        train = load_split(data, "train", image_size, batch_size, training=True, seed=seed,
                           strict=strict, augmentation=augmentation)
        valid = load_split(data, "valid", image_size, batch_size, training=False, strict=strict,
                           augmentation=augmentation)
        train.dataset, valid.dataset = shard_by_data(train.dataset), shard_by_data(valid.dataset)
        if valid.class_names != train.class_names:
            raise ValueError(
                f"The train and valid splits of {data} have different classes: "
                f"{train.class_names} vs {valid.class_names}."
            )
        total_epochs = epochs + (fine_tune_epochs if fine_tune_layers else 0)
        last = os.path.join(save_dir, "last.keras")
        done = read_checkpoint_state(last)["epoch"] if resume and os.path.isfile(last) else 0
        if done and done >= epochs:
            # The first phase finished in an earlier run: go on from its checkpoint.
            model, _ = load_checkpoint(last)
            learning_rate = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
        else:
            model = ImageClassifier(
                train.class_names,
                backbone=arch,
                image_size=image_size,
                alpha=alpha,
                backbone_weights=weights,
                freeze_backbone=not train_backbone,
                hidden_units=resolve_hidden_units(hidden_units, from_scratch),
                dropout=dropout,
                freeze_batch_norm=freeze_batch_norm,
                crop_fraction=augmentation.crop_fraction,
                grayscale=grayscale,
                feature_grid=feature_grid,
            )
            learning_rates = resolve_learning_rates(learning_rates, from_scratch)
            learning_rate = learning_rates[0]
            if len(learning_rates) > 1 and not done:
                sweep = learning_rate_sweep(
                    model, train.dataset, valid.dataset, learning_rates, epochs=sweep_epochs
                )
                learning_rate = sweep.best_learning_rate
                if verbose:
                    scores = ", ".join(f"{k:g}: {v:.4f}" for k, v in sweep.scores.items())
                    print(f"Learning-rate sweep (val accuracy) {scores}; best {learning_rate:g}")
            steps_per_epoch = -(-train.num_examples // batch_size)
            model.compile(optimizer=classifier_optimizer(
                learning_rate, steps_per_epoch * epochs,
                "cosine" if schedule == "cosine" else "constant",
                warmup_steps=steps_per_epoch * warmup_epochs, weight_decay=weight_decay))
        callback_options = dict(
            early_stopping_patience=early_stopping_patience, resume=resume,
            reduce_lr_patience=2 if schedule == "plateau" else None, datasets=[train.dataset],
            precise_batch_norm=train.dataset)
        history = {}
        if not done or done < epochs:
            fit = model.fit(
                train.dataset,
                validation_data=valid.dataset,
                epochs=epochs,
                callbacks=training_callbacks(save_dir, **callback_options),
                verbose=verbose,
            )
            history.update(fit.history)
        if fine_tune_layers and fine_tune_epochs and done < total_epochs:
            # Same save_dir: checkpoints, history and the backup (deleted when the
            # first fit ends) carry on across both phases.
            if done <= epochs and schedule == "plateau":
                # The rate the first phase ended at (after any plateau cuts), as a
                # run resumed between the phases reads it from `last.keras`.
                learning_rate = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
            model.set_backbone_trainable(True, fine_tune_layers)
            model.compile(learning_rate=learning_rate * fine_tune_learning_rate_factor)
            callback_options["reduce_lr_patience"] = 2
            fit = model.fit(
                train.dataset,
                validation_data=valid.dataset,
                initial_epoch=epochs,
                epochs=total_epochs,
                callbacks=training_callbacks(save_dir, **callback_options),
                verbose=verbose,
            )
            for key, values in fit.history.items():
                history.setdefault(key, []).extend(values)
        return model, history


def evaluate_classifier(data, checkpoint, split="test", batch_size=32, strict=False):
    """Loss and accuracy of a checkpoint on one split of `data`.

    Returns:
        `{"loss": float, "accuracy": float, "num_examples": int}`.
    """
    model, _ = load_checkpoint(checkpoint)
    augmentation = dataclasses.replace(augmentation_preset("none"),
                                       crop_fraction=model.crop_fraction)
    images = load_split(data, split, model.image_size, batch_size, training=False, strict=strict,
                        augmentation=augmentation)
    if images.class_names != model.class_names:
        raise ValueError(
            f"The classes of {data}/{split} {images.class_names} are not those the "
            f"checkpoint was trained on {model.class_names}."
        )
    results = model.evaluate(images.dataset, verbose=0, return_dict=True)
    return {
        "loss": float(results["loss"]),
        "accuracy": float(results["accuracy"]),
        "num_examples": images.num_examples,
    }


def predict_image(image_path, checkpoint, top_k=5, category_names=None, plot=None):
    """Top-K classes of one image file, with display names and an optional plot.

    Returns:
        `(scores [K], names [K])`, highest probability first.
    """
    from tfvision.data.images import load_images_for_model

    model, _ = load_checkpoint(checkpoint, compile=False)
    scores, names = model.predict_top_k(image_path, k=top_k)
    if category_names:
        names = display_names_for(names, category_names)
    if plot:
        from tfvision.visualization.prediction import plot_top_k

        batch, _ = load_images_for_model(image_path, model.image_size, model.crop_fraction)
        plot_top_k(np.asarray(batch[0]), scores, names, plot, title=os.path.basename(image_path))
    return scores, names
