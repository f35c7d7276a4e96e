"""`tfvision moco pretrain | knn | linear-probe`."""

from tfvision.cli.options import add_run_arguments, run_options


def add_commands(commands):
    parser = commands.add_parser("moco", help="MoCo v2 self-supervised pretraining")
    sub = parser.add_subparsers(dest="moco_command", required=True, metavar="COMMAND")
    _add_pretrain(sub)
    _add_knn(sub)
    _add_linear_probe(sub)


def _add_pretrain(sub):
    pretrain = sub.add_parser(
        "pretrain",
        help="pretrain an encoder on unlabelled images",
        description="Pretrains a MoCo encoder on DATA (shapes, an image folder, or tfds:NAME). "
        "Checkpoints, logs and SAVE_DIR/backbone.weights.h5 (the backbone alone, for "
        "'classifier train --weights' and the detector's --backbone-weights) go to "
        "--save-dir; a killed run started again resumes from its last completed epoch "
        "(--no-resume starts again at epoch 0).",
    )
    pretrain.add_argument("data", help="shapes, an image folder, or tfds:NAME (e.g. tfds:cifar10)")
    pretrain.add_argument("--save-dir", required=True, help="folder for checkpoints and logs")
    pretrain.add_argument("--arch", default="mobilenet_v2",
                          help="encoder backbone: a registered name such as mobilenet_v2, "
                          "mobilenet_v1 or small_cnn (default mobilenet_v2)")
    pretrain.add_argument("--alpha", type=float, default=0.35,
                          help="width of MobileNet backbones (default 0.35)")
    pretrain.add_argument("--image-size", type=int, default=64, help="view side (default 64)")
    pretrain.add_argument("--epochs", type=int, default=20, help="epochs (default 20)")
    pretrain.add_argument("--batch-size", type=int, default=64, help="batch size (default 64)")
    pretrain.add_argument("--queue-size", type=int, default=4096,
                          help="negative keys K (default 4096)")
    pretrain.add_argument("--momentum", type=float, default=0.99,
                          help="key encoder momentum m (default 0.99)")
    pretrain.add_argument("--temperature", type=float, default=0.2,
                          help="InfoNCE temperature T (default 0.2; MoCo v1 0.07)")
    loss = pretrain.add_mutually_exclusive_group()
    loss.add_argument("--symmetric", dest="symmetric", action="store_true",
                      help="symmetric loss: both views as queries")
    loss.add_argument("--asymmetric", dest="symmetric", action="store_false",
                      help="one query view (default)")
    pretrain.set_defaults(symmetric=False)
    pretrain.add_argument("--bn-splits", type=int, default=1,
                          help="split batch norm sub-batches (small_cnn; default 1)")
    pretrain.add_argument("--head", choices=("mlp", "linear"), default="mlp",
                          help="projection head: v2 MLP or v1 linear (default mlp)")
    pretrain.add_argument("--hidden-dim", type=int, default=2048,
                          help="MLP head hidden size (default 2048)")
    pretrain.add_argument("--feature-grid", type=int, default=1, metavar="N",
                          help="pool the backbone's last map to N x N cells before the head, "
                               "keeping where features are (default 1: global pooling)")
    pretrain.add_argument("--projection-dim", type=int, default=128,
                          help="embedding size (default 128)")
    pretrain.add_argument("--learning-rate", type=float, default=0.06,
                          help="SGD learning rate (default 0.06)")
    pretrain.add_argument("--weight-decay", type=float, default=5e-4,
                          help="SGD weight decay (default 5e-4)")
    pretrain.add_argument("--milestones", type=int, nargs="*",
                          help="step schedule: epochs where the rate drops x0.1 (default cosine)")
    pretrain.add_argument("--num-images", type=int, default=2000,
                          help="images generated for 'shapes' (default 2000)")
    pretrain.add_argument("--knn-every", type=int, default=1,
                          help="kNN monitor every N epochs, 0 to skip (default 1)")
    pretrain.add_argument("--knn-k", type=int, default=200, help="kNN neighbours (default 200)")
    views = pretrain.add_argument_group("view augmentation (default: MoCo v2's; the shapes' own)")
    views.add_argument("--crop-scale", type=float, nargs=2, metavar=("MIN", "MAX"),
                       help="area fraction range of the random resized crop (default 0.2 1.0)")
    views.add_argument("--grayscale-probability", type=float,
                       help="share of grey views (default 0.2); 1 where colour says nothing "
                            "about the class")
    views.add_argument("--rotation", type=float, metavar="DEGREES",
                       help="largest rotation either way, 0 for none (default 30)")
    views.add_argument("--no-flip", dest="flip", action="store_const", const=False,
                       help="no horizontal flip (digits, text, anything a mirror changes)")
    add_run_arguments(pretrain)
    pretrain.set_defaults(run=run_pretrain)


def _add_evaluation_options(parser):
    parser.add_argument("checkpoint", help=".keras checkpoint from 'moco pretrain'")
    parser.add_argument("data", help="shapes, an image folder with train/ and test/ "
                        "(or valid/), or tfds:NAME")
    parser.add_argument("--num-images", type=int, default=1000,
                        help="'shapes' training images (half as many test images; default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")


def _add_knn(sub):
    knn = sub.add_parser("knn", help="weighted kNN accuracy of a pretrained encoder",
                         description="Prints the weighted kNN accuracy of the encoder's "
                         "features: test split against the training split.")
    _add_evaluation_options(knn)
    knn.add_argument("--k", type=int, default=200, help="neighbours (default 200)")
    knn.add_argument("--temperature", type=float, default=0.1, help="vote temperature (0.1)")
    knn.set_defaults(run=run_knn)


def _add_linear_probe(sub):
    probe = sub.add_parser("linear-probe", help="linear classifier on frozen features",
                           description="Trains a linear classifier on the frozen encoder's "
                           "features with a fraction of the labels and prints its test accuracy.")
    _add_evaluation_options(probe)
    probe.add_argument("--label-fraction", type=float, default=0.1,
                       help="fraction of training labels used (default 0.1)")
    probe.add_argument("--classes", help="comma-separated class ids, e.g. 0,1 (default all)")
    probe.add_argument("--epochs", type=int, default=100, help="epochs (default 100)")
    probe.set_defaults(run=run_linear_probe)


def run_pretrain(args):
    from tfvision.data.pairs.augmentation import view_augmentation
    from tfvision.recipes.moco.recipe import BACKBONE_FILE, pretrain_moco

    augmentation = view_augmentation(args.data, args.crop_scale, args.grayscale_probability,
                                     args.rotation, args.flip)
    _, history = pretrain_moco(
        args.data, args.save_dir, arch=args.arch, alpha=args.alpha, image_size=args.image_size,
        epochs=args.epochs, batch_size=args.batch_size, queue_size=args.queue_size,
        momentum=args.momentum, temperature=args.temperature, symmetric=args.symmetric,
        bn_splits=args.bn_splits, projection_dim=args.projection_dim,
        hidden_dims=(args.hidden_dim,) if args.head == "mlp" else (),
        feature_grid=args.feature_grid, learning_rate=args.learning_rate,
        weight_decay=args.weight_decay,
        milestones=args.milestones, num_images=args.num_images, knn_every=args.knn_every,
        knn_k=args.knn_k, augmentation=augmentation,
        **run_options(args).keywords(),  # no --seed: MoCo's default, 0
    )
    measured = [value for value in history.get("knn_accuracy", []) if value == value]  # not NaN
    if measured:
        print(f"Last kNN accuracy: {measured[-1]:.4f}")
    print(f"Checkpoints in {args.save_dir} (last.keras, best.keras); "
          f"backbone weights {args.save_dir}/{BACKBONE_FILE}")


def run_knn(args):
    from tfvision.recipes.moco.recipe import knn_evaluate

    result = knn_evaluate(args.checkpoint, args.data, k=args.k, temperature=args.temperature,
                          num_images=args.num_images, seed=args.seed)
    print(f"kNN accuracy {result['knn_accuracy']:.4f} (k={args.k}, "
          f"{result['num_test']} test images, {result['num_memory']} in memory)")


def _parse_classes(text):
    if not text:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--classes takes comma-separated integers. Received: {text!r}") from None


def run_linear_probe(args):
    from tfvision.recipes.moco.recipe import linear_probe_checkpoint

    result = linear_probe_checkpoint(
        args.checkpoint, args.data, label_fraction=args.label_fraction,
        classes=_parse_classes(args.classes), epochs=args.epochs, num_images=args.num_images,
        seed=args.seed,
    )
    print(f"Linear probe on {', '.join(result['class_names'])}: test accuracy "
          f"{result['accuracy']:.4f} ({result['num_train']} training labels, "
          f"{result['num_test']} test images)")
