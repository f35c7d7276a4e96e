"""`tfvision classifier train | predict | evaluate`."""

from tfvision.cli.options import add_run_arguments, image_size_argument, run_options


def add_commands(commands):
    parser = commands.add_parser("classifier", help="transfer-learning image classifier")
    sub = parser.add_subparsers(dest="classifier_command", required=True, metavar="COMMAND")
    _add_train(sub)
    _add_predict(sub)
    _add_evaluate(sub)


def _add_train(sub):
    train = sub.add_parser(
        "train",
        help="train on DATA_DIR/{train,valid}/<class>/*",
        description="Trains a classifier on DATA_DIR/train, validating on DATA_DIR/valid "
        "(or tfds:NAME). Checkpoints go to --save-dir; a killed run started again "
        "resumes from its last completed epoch.",
    )
    train.add_argument("data_dir", help="image folder with train/ and valid/, or tfds:NAME")
    train.add_argument("--save-dir", required=True, help="folder for checkpoints, logs and plots")
    train.add_argument("--arch", default="mobilenet_v2", help="backbone (default mobilenet_v2)")
    train.add_argument("--alpha", type=float, default=1.0, help="MobileNetV2 width (default 1.0)")
    train.add_argument(
        "--weights",
        default="imagenet",
        help="backbone weights: imagenet, none, or a .weights.h5 file (default imagenet)",
    )
    train.add_argument(
        "--train-backbone",
        action="store_true",
        help="train the whole backbone too (needed with --weights none)",
    )
    train.add_argument(
        "--image-size", type=image_size_argument, default="auto",
        help="input side in pixels, or auto: the training images' typical side rounded up to "
        "a multiple of 32 within 64..224 (default auto)")
    train.add_argument(
        "--hidden-units",
        type=int,
        nargs="*",
        help="hidden layer sizes of the head; the flag alone: a linear head (default: linear "
        "from --weights none, else 512)",
    )
    train.add_argument("--dropout", type=float, default=0.2, help="head dropout (default 0.2)")
    train.add_argument(
        "--learning-rate",
        type=float,
        nargs="+",
        help="learning rate; several values run a sweep first (default 0.003 from --weights "
        "none with --train-backbone, else 0.001)",
    )
    train.add_argument("--sweep-epochs", type=int, default=1, help="epochs per swept rate (default 1)")
    train.add_argument("--epochs", type=int, default=20, help="epochs (default 20)")
    train.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    train.add_argument(
        "--fine-tune-layers",
        type=int,
        default=0,
        help="after --epochs, unfreeze this many top backbone layers (default 0)",
    )
    train.add_argument("--fine-tune-epochs", type=int, default=0, help="fine-tuning epochs")
    train.add_argument(
        "--patience",
        type=int,
        help="early-stopping patience in epochs (default 5 with --schedule plateau, "
        "none with cosine)",
    )
    train.add_argument(
        "--augment",
        choices=("auto", "standard", "light", "none"),
        default="auto",
        help="augmentation preset: standard (torchvision's ImageNet recipe), light (small "
        "rotations and crops, no evaluation crop) or none; auto: none from random weights, "
        "light at <= 96 px, else standard (default auto)",
    )
    train.add_argument(
        "--crop-scale",
        type=float,
        nargs=2,
        metavar=("MIN", "MAX"),
        help="area fraction range of the random resized crop (default: the preset's)",
    )
    train.add_argument(
        "--no-flip",
        dest="flip",
        action="store_const",
        const=False,
        help="no random horizontal flip (for digits, text, anything a mirror changes)",
    )
    train.add_argument(
        "--grayscale",
        action="store_true",
        help="grey every image inside the model (colour that says nothing about the class; "
             "a backbone from 'moco pretrain --grayscale-probability 1')",
    )
    train.add_argument(
        "--feature-grid",
        type=int,
        default=1,
        metavar="N",
        help="the head reads the backbone's last map pooled to N x N cells (default 1: global "
             "pooling); the grid of a 'moco pretrain --feature-grid N' backbone",
    )
    train.add_argument(
        "--schedule",
        choices=("cosine", "plateau"),
        default="plateau",
        help="plateau (divide the rate by 5 after 2 epochs without progress) or cosine "
        "(warm-up, then to 0 at the last epoch) (default plateau)",
    )
    train.add_argument(
        "--warmup-epochs", type=int, default=1, help="cosine warm-up epochs (default 1)"
    )
    train.add_argument(
        "--weight-decay",
        type=float,
        default=0.0,
        help="AdamW decoupled weight decay (default 0: Adam)",
    )
    train.add_argument(
        "--freeze-batch-norm",
        choices=("auto", "on", "off"),
        default="auto",
        help="run the backbone's batch norm in inference mode; auto: when pretrained weights "
        "are (partly) frozen (default auto)",
    )
    train.add_argument("--strict", action="store_true", help="fail on the first unreadable image")
    add_run_arguments(train)
    train.set_defaults(run=run_train)


def _add_predict(sub):
    predict = sub.add_parser(
        "predict",
        help="top-K classes of an image",
        description="Prints the top-K classes of IMAGE with their probabilities.",
    )
    predict.add_argument("image", help="image file")
    predict.add_argument("checkpoint", help=".keras checkpoint from 'classifier train'")
    predict.add_argument("--top-k", type=int, default=5, help="classes to show (default 5)")
    predict.add_argument("--category-names", help="JSON mapping class ids to display names")
    predict.add_argument("--plot", help="write the image and a bar chart of the top K to this PNG")
    predict.set_defaults(run=run_predict)


def _add_evaluate(sub):
    evaluate = sub.add_parser(
        "evaluate",
        help="loss and accuracy on a split",
        description="Prints the loss and accuracy of CHECKPOINT on DATA_DIR/<split>.",
    )
    evaluate.add_argument("data_dir", help="image folder, or tfds:NAME")
    evaluate.add_argument("checkpoint", help=".keras checkpoint")
    evaluate.add_argument("--split", default="test", help="split to evaluate (default test)")
    evaluate.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    evaluate.set_defaults(run=run_evaluate)


def run_train(args):
    from tfvision.recipes.classifier import train_classifier

    weights = None if args.weights.lower() == "none" else args.weights
    model, history = train_classifier(
        args.data_dir,
        args.save_dir,
        arch=args.arch,
        alpha=args.alpha,
        image_size=args.image_size,
        weights=weights,
        train_backbone=args.train_backbone,
        hidden_units="auto" if args.hidden_units is None else tuple(args.hidden_units),
        dropout=args.dropout,
        learning_rates="auto" if args.learning_rate is None else args.learning_rate,
        sweep_epochs=args.sweep_epochs,
        epochs=args.epochs,
        batch_size=args.batch_size,
        fine_tune_layers=args.fine_tune_layers,
        fine_tune_epochs=args.fine_tune_epochs,
        early_stopping_patience="auto" if args.patience is None else args.patience,
        crop_scale=args.crop_scale,
        augment=args.augment,
        flip=args.flip,
        grayscale=args.grayscale,
        feature_grid=args.feature_grid,
        schedule=args.schedule,
        warmup_epochs=args.warmup_epochs,
        weight_decay=args.weight_decay,
        freeze_batch_norm={"auto": None, "on": True, "off": False}[args.freeze_batch_norm],
        strict=args.strict,
        **run_options(args).keywords(),
    )
    if "val_accuracy" in history:
        best = max(history["val_accuracy"])
        print(f"Best validation accuracy: {best:.4f}")
    print(f"Checkpoints in {args.save_dir} (best.keras, last.keras)")


def run_predict(args):
    from tfvision.recipes.classifier import predict_image

    scores, names = predict_image(
        args.image, args.checkpoint, top_k=args.top_k,
        category_names=args.category_names, plot=args.plot,
    )
    width = max(len("class"), *(len(name) for name in names))
    print(f"{'rank':>4}  {'class':<{width}}  probability")
    for rank, (name, score) in enumerate(zip(names, scores), start=1):
        print(f"{rank:>4}  {name:<{width}}  {score:.4f}")
    if args.plot:
        print(f"Plot written to {args.plot}")


def run_evaluate(args):
    from tfvision.recipes.classifier import evaluate_classifier

    results = evaluate_classifier(
        args.data_dir, args.checkpoint, split=args.split, batch_size=args.batch_size
    )
    print(
        f"{args.split}: loss {results['loss']:.4f}, accuracy {results['accuracy']:.4f} "
        f"({results['num_examples']} images)"
    )
