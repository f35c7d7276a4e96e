"""`tfvision cotrain MANIFEST ...` and `tfvision cotrain-data OUT`."""

import argparse
import math

from tfvision.cli.options import add_run_arguments, image_size_argument, run_options


def add_commands(commands):
    _add_cotrain(commands)
    _add_data(commands)
    _add_export(commands)


def _add_cotrain(commands):
    cotrain = commands.add_parser(
        "cotrain",
        help="co-train two classifiers on two views with confident pseudo-labels",
        description="Co-trains one classifier per view of MANIFEST (a CSV/JSON file list "
        "view0_path,view1_path,label; or 'shapes' for the built-in two-view data). Each "
        "round both train, then each gives its most confident picks of the unlabelled pool, "
        "with its labels, to the other. History, plots and checkpoints go to --save-dir; "
        "a killed run started again goes on after its last completed epoch.",
    )
    cotrain.add_argument("manifest", help="two-view manifest (.csv or .json), or 'shapes'")
    cotrain.add_argument("--save-dir", required=True, help="folder for history, plots, models")
    cotrain.add_argument("--labelled-fraction", type=float, default=0.25,
                         help="share of the labelled samples whose labels are used (default 0.25)")
    cotrain.add_argument("--test-fraction", type=float, default=0.2,
                         help="share of those held out for testing (default 0.2)")
    cotrain.add_argument("--valid-fraction", type=float, default=0.125,
                         help="share of the rest held out for validation (default 0.125)")
    picks = cotrain.add_mutually_exclusive_group()
    picks.add_argument("--k-fraction", type=float, default=0.01,
                       help="picks per model per round, as a fraction of the pool (default 0.01)")
    picks.add_argument("--k", type=int, help="picks per model per round, as a count")
    cotrain.add_argument("--class-balance", action=argparse.BooleanOptionalAction, default=False,
                         help="at most k/C picks per class, Blum & Mitchell's quota (default: "
                         "plain top-k)")
    cotrain.add_argument("--oversample", action=argparse.BooleanOptionalAction, default=True,
                         help="train on every class repeated up to the largest one (default on)")
    cotrain.add_argument("--rounds", type=int, default=10, help="co-training rounds (default 10)")
    cotrain.add_argument("--epochs-per-round", type=int, default=3, help="epochs per round (default 3)")
    cotrain.add_argument("--steps-per-epoch", type=int,
                         help="training steps per epoch (default: larger training set / batch)")
    cotrain.add_argument("--arch", default="mobilenet_v2", help="backbone (default mobilenet_v2)")
    cotrain.add_argument("--alpha", type=float, default=1.0, help="MobileNetV2 width (default 1.0)")
    cotrain.add_argument("--weights", default="imagenet",
                         help="backbone weights: imagenet, shapes (MobileNetV2 0.35), none, or a "
                         ".weights.h5 file (default imagenet)")
    cotrain.add_argument("--train-backbone", action="store_true", help="train the backbones too")
    cotrain.add_argument(
        "--image-size", type=image_size_argument, default="auto",
        help="input side in pixels, or auto: the views' typical side rounded up to a multiple "
        "of 32 within 64..224 (default auto)")
    cotrain.add_argument("--hidden-units", type=int, nargs="*",
                         help="hidden layer sizes of each head; the flag alone: linear heads "
                         "(default: linear from --weights none with --train-backbone, else 512)")
    cotrain.add_argument("--augment", choices=("auto", "standard", "light", "none"),
                         default="auto",
                         help="augmentation preset of the views (see classifier train); auto: "
                         "none from random weights, else 30 degree rotations, crops of 35-100 %% "
                         "of the area and flips (default auto)")
    cotrain.add_argument("--no-flip", dest="flip", action="store_const", const=False,
                         help="no random horizontal flip (digits, text, anything a mirror "
                         "changes)")
    cotrain.add_argument("--dropout", type=float, default=0.2, help="head dropout (default 0.2)")
    cotrain.add_argument("--learning-rate", type=float, default=0.001, help="(default 0.001)")
    cotrain.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    cotrain.add_argument("--patience", type=int, default=3,
                         help="per-model early-stopping patience in epochs (default 3)")
    cotrain.add_argument("--num-shapes", type=int, default=1000,
                         help="samples of the built-in data with MANIFEST=shapes (default 1000)")
    cotrain.add_argument("--strict", action="store_true", help="fail on the first unreadable image")
    add_run_arguments(cotrain)
    cotrain.set_defaults(run=run_cotrain)


def _add_data(commands):
    data = commands.add_parser(
        "cotrain-data",
        help="write the built-in two-view shapes as image files and a manifest",
        description="Writes OUT/view0/<i>.png, OUT/view1/<i>.png (two corner crops of each "
        "built-in shapes image) and OUT/manifest.csv, ready for 'tfvision cotrain'.",
    )
    data.add_argument("out", help="output folder")
    data.add_argument("--num-images", type=int, default=1000, help="samples (default 1000)")
    data.add_argument("--image-size", type=int, default=96, help="generated side (default 96)")
    data.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    data.add_argument("--manifest", default="manifest.csv", help="manifest name, .csv or .json")
    data.add_argument("--overwrite", action="store_true", help="replace existing view folders")
    data.set_defaults(run=run_data)


def _add_export(commands):
    export = commands.add_parser(
        "cotrain-export",
        help="export a co-trained pair as one TF Serving SavedModel (the two-view ensemble)",
        description="Writes OUT/NAME/VERSION/, a SavedModel whose serving_default takes the "
        "encoded images of both views (view0_bytes, view1_bytes) and returns the averaged "
        "probabilities, top-K classes and scores.",
    )
    export.add_argument("checkpoint", help="cotraining.keras from 'tfvision cotrain'")
    export.add_argument("--name", required=True, help="model name (folder under --out)")
    export.add_argument("--version", type=int, default=1, help="model version (default 1)")
    export.add_argument("--out", default="saved_models", help="root folder (default saved_models)")
    export.add_argument("--top-k", type=int, default=5, help="classes returned (default 5)")
    export.set_defaults(run=run_export)


_TABLE = (("round", "round", "d"), ("train0", "train_size0", "d"), ("train1", "train_size1", "d"),
          ("pool", "pool_size", "d"), ("to0", "moved_to_view0", "d"), ("to1", "moved_to_view1", "d"),
          ("confl", "conflicts", "d"), ("pseudo0", "pseudo_accuracy0", ".3f"),
          ("pseudo1", "pseudo_accuracy1", ".3f"), ("val_ens", "val_ensemble_accuracy", ".3f"),
          ("test0", "test_accuracy0", ".3f"), ("test1", "test_accuracy1", ".3f"),
          ("test_ens", "test_ensemble_accuracy", ".3f"))


def format_table(history):
    """The rounds as a text table, one row per round."""
    lines = ["  ".join(f"{title:>8}" for title, _, _ in _TABLE)]
    for record in history:
        cells = []
        for _, key, spec in _TABLE:
            value = record[key]
            cells.append(f"{'-':>8}" if isinstance(value, float) and math.isnan(value)
                         else f"{value:>8{spec}}")
        lines.append("  ".join(cells))
    return "\n".join(lines)


def run_cotrain(args):
    import keras

    from tfvision.recipes.cotraining.recipe import resume_point, train_cotraining

    point = resume_point(args.save_dir) if args.resume else None
    if point is not None:
        print(f"Resuming the run in {args.save_dir} at round {point[0]} after epoch {point[1]} "
              "(--no-resume starts again)", flush=True)
    weights = None if args.weights.lower() == "none" else args.weights
    progress = keras.utils.Progbar(args.rounds, unit_name="round",
                                   stateful_metrics=["val_ensemble_accuracy", "pool"])

    def on_round_end(record):
        progress.update(record["round"], [
            ("val_ensemble_accuracy", record["val_ensemble_accuracy"]),
            ("pool", record["pool_after"]),
        ], finalize=record["round"] == args.rounds or record["pool_after"] == 0)

    _, result = train_cotraining(
        args.manifest, args.save_dir, labelled_fraction=args.labelled_fraction,
        test_fraction=args.test_fraction, valid_fraction=args.valid_fraction,
        k=args.k if args.k is not None else args.k_fraction, rounds=args.rounds,
        epochs_per_round=args.epochs_per_round, arch=args.arch, image_size=args.image_size,
        alpha=args.alpha, weights=weights, train_backbone=args.train_backbone,
        hidden_units="auto" if args.hidden_units is None else tuple(args.hidden_units),
        dropout=args.dropout,
        learning_rate=args.learning_rate, batch_size=args.batch_size,
        steps_per_epoch=args.steps_per_epoch, augment=args.augment, flip=args.flip,
        class_balanced=args.class_balance, oversample=args.oversample,
        early_stopping_patience=args.patience, num_shapes=args.num_shapes,
        strict=args.strict, on_round_end=on_round_end, **run_options(args).keywords(),
    )
    print()
    print(format_table(result.history))
    print(f"History, plot and models (view0.keras, view1.keras, cotraining.keras) in "
          f"{args.save_dir}")


def run_data(args):
    from tfvision.data.synthetic.shapes_views import write_two_view_shapes

    path = write_two_view_shapes(args.out, args.num_images, args.image_size, args.seed,
                                 manifest=args.manifest, overwrite=args.overwrite)
    print(f"Wrote {args.num_images} two-view samples and {path}")


def run_export(args):
    from tfvision.export.cotraining import export_cotraining_checkpoint

    path = export_cotraining_checkpoint(args.checkpoint, args.out, args.name, args.version,
                                        top_k=args.top_k)
    print(f"SavedModel written to {path}")
