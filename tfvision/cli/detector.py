"""`tfvision detector train | evaluate | predict`."""

import os

from tfvision.cli.options import add_run_arguments, run_options


def add_commands(commands):
    parser = commands.add_parser("detector", help="SSD / SSDLite object detector")
    sub = parser.add_subparsers(dest="detector_command", required=True, metavar="COMMAND")
    _add_train(sub)
    _add_evaluate(sub)
    _add_predict(sub)


def _add_train(sub):
    train = sub.add_parser(
        "train",
        help="train a detector",
        description="Trains a detector on the train split of --data, validating on its valid "
        "split. The backbone is frozen for --epochs, then trained for --fine-tune-epochs at "
        "a lower rate. Validation mAP is computed every --eval-every epochs and chooses "
        "best.keras (--monitor). Checkpoints go to --save-dir, with the validation report "
        "of best.keras in SAVE_DIR/evaluation/valid; a killed run started again resumes "
        "from its last completed epoch (--no-resume starts again).",
    )
    train.add_argument(
        "--data", default="shapes",
        help="shapes | shapes-imbalanced | voc2007 | voc2012 | coco:ANNOTATIONS.json:IMAGE_DIR "
        "| csv:FILE:IMAGE_DIR | voc:XML_DIR:IMAGE_DIR | yolo:DATA_YAML (default shapes, the "
        "built-in dataset; shapes-imbalanced: the shapes with rings at 5 %% of the boxes, the "
        "other classes 19 %% each)",
    )
    train.add_argument("--save-dir", required=True, help="folder for checkpoints, logs and plots")
    train.add_argument(
        "--model", default="ssdlite_mobilenet_v2",
        choices=("ssdlite_mobilenet_v2", "ssd_multihead"),
        help="detector preset (default ssdlite_mobilenet_v2)",
    )
    train.add_argument("--image-size", type=int, default=320, help="input side (default 320)")
    train.add_argument("--alpha", type=float, default=1.0, help="MobileNetV2 width (default 1.0)")
    train.add_argument(
        "--weights", default="imagenet",
        help="backbone weights: imagenet, shapes (built-in, alpha 0.35), none, or a "
        "MobileNetV2 .weights.h5 file such as a MoCo encoder (default imagenet)",
    )
    train.add_argument("--epochs", type=int, default=10, help="epochs with a frozen backbone")
    train.add_argument(
        "--fine-tune-epochs", type=int, default=0,
        help="epochs after --epochs with the backbone trained too (default 0)",
    )
    train.add_argument(
        "--train-backbone", action="store_true",
        help="train the backbone from the first epoch (needed with --weights none)",
    )
    train.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    train.add_argument(
        "--learning-rate", type=float, default=1e-2,
        help="peak one-cycle learning rate of the head (default 0.01)",
    )
    train.add_argument(
        "--backbone-lr-factor", type=float, default=0.3,
        help="backbone rate relative to the head's when fine-tuning (default 0.3)",
    )
    train.add_argument(
        "--classification", choices=("bce", "focal", "softmax"),
        help="classification loss (default: the preset's)",
    )
    train.add_argument(
        "--localization", choices=("smooth_l1", "l1"), help="box loss (default: the preset's)"
    )
    train.add_argument(
        "--eval-every", type=int, default=1, metavar="N",
        help="compute validation mAP (COCO AP, AP50, AP75, VOC07) every N epochs and at the "
        "end of each phase; 0 for none, with --monitor loss (default 1)")
    train.add_argument(
        "--monitor", choices=("map", "loss"), default="map",
        help="what chooses best.keras and drives early stopping: validation COCO AP or "
        "validation loss (default map)")
    train.add_argument(
        "--early-stopping-patience", type=int, metavar="N",
        help="stop after N evaluations of --monitor without improvement (default: never)")
    train.add_argument("--train-images", type=int, help="images of the built-in train split")
    train.add_argument("--valid-images", type=int, help="images of the built-in valid split")
    train.add_argument("--no-augment", action="store_true", help="train without augmentation")
    train.add_argument(
        "--no-flip", action="store_true",
        help="no horizontal flips among the augmentations: for classes that mirroring "
             "changes, such as digits or text",
    )
    train.add_argument(
        "--mosaic", type=float, default=0.0, metavar="P",
        help="chance that a training image becomes a mosaic of 4 images (default 0)")
    train.add_argument(
        "--mixup", type=float, default=0.0, metavar="P",
        help="chance that a training image is blended with another, after mosaic (default 0)")
    train.add_argument(
        "--close-mosaic", type=int, default=0, metavar="N",
        help="train the last N epochs without mosaic and mixup (default 0)")
    train.add_argument(
        "--balance-classes", action="store_true",
        help="weight rare classes more in the classification loss, from the box count of "
        "each class in the training split (square root of the inverse frequency)")
    add_run_arguments(train)
    train.set_defaults(run=run_train)


def _add_evaluate(sub):
    evaluate = sub.add_parser(
        "evaluate", help="COCO and VOC07 mAP on a split",
        description="Prints COCO AP, AP50, AP75, VOC07 mAP and a per-class AP table.",
    )
    evaluate.add_argument("checkpoint", help=".keras checkpoint from 'detector train'")
    evaluate.add_argument("--data", default="shapes", help="data spec, as for train")
    evaluate.add_argument("--split", default="test", help="split to evaluate (default test)")
    evaluate.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    evaluate.add_argument("--images", type=int, help="images of the built-in split")
    evaluate.add_argument(
        "--report-dir",
        help="where metrics.json, pr_curves.png, confusion_matrix.png and f1_curve.png go "
        "(default: evaluation/SPLIT beside the checkpoint; 'none' for no files)")
    evaluate.set_defaults(run=run_evaluate)


def _add_predict(sub):
    predict = sub.add_parser(
        "predict", help="detect objects in images",
        description="Runs the detector on image files, folders (recursive), glob patterns "
        "('photos/**/*.jpg', quoted) or .txt lists of paths, in batches. For one image it "
        "prints the boxes (pixels x_min y_min x_max y_max), names and scores; for several, one "
        "line per image. --save-json, --save-txt and --save-images write the results.",
    )
    predict.add_argument("images", nargs="+", metavar="IMAGE",
                         help="image file, folder, glob pattern or .txt list")
    predict.add_argument("checkpoint", help=".keras checkpoint")
    predict.add_argument(
        "--score-threshold", type=float, default=0.3, help="minimum score (default 0.3)"
    )
    predict.add_argument("--batch-size", type=int, default=16,
                         help="images per model call (default 16)")
    predict.add_argument("--plot", help="one image: write it with its boxes to this PNG")
    predict.add_argument("--save-json", metavar="FILE",
                         help="write a COCO results JSON (category_id = class index + 1)")
    predict.add_argument("--save-txt", metavar="DIR",
                         help="write one YOLO 'class cx cy w h' file per image")
    predict.add_argument("--save-conf", action="store_true",
                         help="with --save-txt: the score as a sixth column")
    predict.add_argument("--save-images", metavar="DIR",
                         help="write each image with its boxes as a PNG")
    predict.set_defaults(run=run_predict)


def run_train(args):
    from tfvision.recipes.detector import train_detector
    from tfvision.training.checkpoints import read_checkpoint_state

    weights = None if args.weights.lower() == "none" else args.weights
    _, history = train_detector(
        args.data,
        args.save_dir,
        model=args.model,
        image_size=args.image_size,
        alpha=args.alpha,
        backbone_weights=weights,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        freeze_backbone=not args.train_backbone,
        fine_tune_epochs=args.fine_tune_epochs,
        backbone_learning_rate_factor=args.backbone_lr_factor,
        classification=args.classification,
        localization=args.localization,
        num_train_images=args.train_images,
        num_valid_images=args.valid_images,
        augment=not args.no_augment,
        flip=not args.no_flip,
        mosaic=args.mosaic,
        mixup=args.mixup,
        close_mosaic=args.close_mosaic,
        balance_classes=args.balance_classes,
        early_stopping_patience=args.early_stopping_patience,
        monitor=args.monitor,
        eval_every=args.eval_every,
        **run_options(args).keywords(),
    )
    if args.monitor == "loss" and history.get("val_loss"):
        print(f"Best validation loss: {min(history['val_loss']):.4f}")
    best = os.path.join(args.save_dir, "best.keras")
    if os.path.isfile(best):
        state = read_checkpoint_state(best)
        logs = state["logs"]
        if "val_map" in logs:
            print(f"best.keras (epoch {state['epoch']}): validation COCO AP {logs['val_map']:.4f}, "
                  f"AP50 {logs['val_map50']:.4f}, AP75 {logs['val_map75']:.4f}, "
                  f"VOC07 mAP@0.5 {logs['val_voc07_map']:.4f}")
    report = os.path.join(args.save_dir, "evaluation", "valid")
    if os.path.isfile(os.path.join(report, "metrics.json")):
        print(f"Validation report of best.keras (metrics.json and plots) in {report}")
    print(f"Checkpoints in {args.save_dir} (best.keras, last.keras)")


def run_evaluate(args):
    from tfvision.metrics import format_ap_table
    from tfvision.recipes.detector import evaluate_detector

    report_dir = args.report_dir or os.path.join(
        os.path.dirname(os.path.abspath(args.checkpoint)), "evaluation", args.split)
    report_dir = None if report_dir.lower() == "none" else report_dir
    result = evaluate_detector(
        args.data, args.checkpoint, split=args.split, batch_size=args.batch_size,
        num_images=args.images, report_dir=report_dir,
    )
    print(format_ap_table(result))
    print(
        f"{args.split}: COCO AP {result['AP']:.4f}, AP50 {result['AP50']:.4f}, "
        f"AP75 {result['AP75']:.4f}, VOC07 mAP@0.5 {result['voc07_map']:.4f} "
        f"({result['num_images']} images)"
    )
    if report_dir:
        print(f"metrics.json, pr_curves.png, confusion_matrix.png and f1_curve.png in {report_dir}")


def run_predict(args):
    if len(args.images) == 1 and not any(c in args.images[0] for c in "*?[") and \
            os.path.isfile(args.images[0]) and not args.images[0].lower().endswith(".txt") and \
            not (args.save_json or args.save_txt or args.save_images):
        return _predict_one(args)
    if args.plot:
        raise ValueError("--plot draws one image; for several, use --save-images DIR.")
    return _predict_many(args)


def _predict_one(args):
    from tfvision.recipes.detector import predict_detections

    detections = predict_detections(
        args.images[0], args.checkpoint, score_threshold=args.score_threshold, plot=args.plot
    )
    width = max([len("class")] + [len(d["class_name"]) for d in detections])
    print(f"{'class':<{width}}  score   x_min   y_min   x_max   y_max")
    for d in detections:
        box = "".join(f"{v:8.1f}" for v in d["box"])
        print(f"{d['class_name']:<{width}}  {d['score']:.3f}{box}")
    print(f"{len(detections)} detections above {args.score_threshold}")
    if args.plot:
        print(f"Plot written to {args.plot}")


def _predict_many(args):
    import sys

    import keras

    from tfvision.recipes import detection_prediction as prediction
    from tfvision.training.checkpoints import load_checkpoint

    paths = prediction.image_inputs(args.images)
    model, _ = load_checkpoint(args.checkpoint, compile=False)
    bar = keras.utils.Progbar(len(paths), unit_name="image", verbose=1) \
        if len(paths) > args.batch_size and sys.stderr.isatty() else None
    found, skipped = prediction.predict_detection_files(
        model, paths, args.score_threshold, args.batch_size,
        progress=(lambda done, total: bar.update(done)) if bar else None)
    for image in found:
        best = ", ".join(f"{model.class_names[c]} {s:.2f}"
                         for c, s in zip(image.class_ids.tolist()[:5], image.scores.tolist()))
        more = ", ..." if len(image.scores) > 5 else ""
        print(f"{image.path}: {len(image.scores)} detections" + (f" ({best}{more})" if best else ""))
    total = sum(len(image.scores) for image in found)
    print(f"{len(found)} images, {total} detections above {args.score_threshold}"
          + (f"; {len(skipped)} files skipped (not readable images)" if skipped else ""))
    if args.save_json:
        count = prediction.write_coco_results(found, args.save_json)
        print(f"COCO results ({count} detections) written to {args.save_json}")
    if args.save_txt:
        prediction.write_yolo_txt(found, args.save_txt, with_scores=args.save_conf)
        print(f"YOLO label files written to {args.save_txt}")
    if args.save_images:
        prediction.save_detection_images(found, args.save_images, model.class_names)
        print(f"Images with boxes written to {args.save_images}")
