"""`tfvision export CHECKPOINT --name NAME [--format ...]` and `tfvision predict ARTIFACT IMAGE...`."""


def add_commands(commands):
    export = commands.add_parser(
        "export",
        help="export a checkpoint as a TF Serving SavedModel, LiteRT and / or ONNX",
        description="Writes OUT/NAME/VERSION/, a SavedModel whose serving_default takes "
        "encoded image bytes and returns a classifier's probabilities, top-K classes and "
        "scores, or a detector's boxes, scores, classes and number of detections. With "
        "--format litert / onnx, also EXPORTS_OUT/NAME/VERSION/model.tflite / model.onnx "
        "(float pixels in, post-processing and NMS inside, builtin operators only) with "
        "labels.txt and metadata.json.",
    )
    export.add_argument("checkpoint", help=".keras checkpoint of a tfvision model")
    export.add_argument("--name", required=True, help="model name (folder under --out)")
    export.add_argument("--version", type=int, default=1, help="model version (default 1)")
    export.add_argument("--out", default="saved_models",
                        help="SavedModel root folder (default saved_models)")
    export.add_argument("--format", nargs="+", default=["saved_model"], metavar="FORMAT",
                        help="one or more of saved_model, litert, onnx (default saved_model)")
    export.add_argument("--exports-out", default="exports",
                        help="root folder of the LiteRT and ONNX files (default exports)")
    export.add_argument("--quantize", default="none",
                        help="LiteRT / ONNX weights and activations: none, float16, dynamic "
                        "(int8 weights) or int8 (needs --calibration); default none")
    export.add_argument("--calibration", metavar="DATA",
                        help="images int8 calibrates on: a folder of images or a data spec "
                        "the task's training command reads")
    export.add_argument("--calibration-images", type=int, default=100,
                        help="calibration images read from DATA (default 100)")
    export.add_argument(
        "--top-k", type=int, default=5, help="classes returned by a classifier (default 5)"
    )
    export.add_argument("--category-names", help="JSON mapping class ids to display names")
    export.set_defaults(run=run_export)

    predict = commands.add_parser(
        "predict",
        help="run an exported artifact (SavedModel, .tflite, .onnx) on images",
        description="Runs the file you ship: a SavedModel version folder, or a .tflite / "
        ".onnx with the metadata.json `tfvision export` wrote beside it. Prints each "
        "image's classes, detections or embedding. A co-training artifact takes the "
        "images in pairs: VIEW0 VIEW1 VIEW0 VIEW1 ...",
    )
    predict.add_argument("artifact", help="SavedModel folder, model.tflite or model.onnx")
    predict.add_argument("images", nargs="+", help="image files")
    predict.add_argument("--task", choices=("classifier", "detector", "embedding", "cotraining"),
                         help="refuse an artifact of another task")
    predict.add_argument("--top-k", type=int, default=5, help="classes printed (default 5)")
    predict.add_argument("--score-threshold", type=float, default=0.3,
                         help="detections printed and drawn (default 0.3)")
    predict.add_argument("--plot", help="PNG of the first image with its result")
    predict.set_defaults(run=run_predict)


def run_export(args):
    from tfvision.export.deployment import check_export_options, export_formats

    check_export_options(args.format, args.quantize, args.calibration)  # before loading TF models
    written = export_formats(
        args.checkpoint, args.name, args.version, args.format,
        saved_models_root=args.out, exports_root=args.exports_out, quantize=args.quantize,
        calibration=args.calibration, calibration_images=args.calibration_images,
        top_k=args.top_k, category_names=args.category_names,
    )
    labels = {"saved_model": "SavedModel", "litert": "LiteRT model", "onnx": "ONNX model"}
    for kind, path in written.items():
        print(f"{labels[kind]} written to {path}")


def run_predict(args):
    from tfvision.export.predictor import Predictor
    from tfvision.export.prediction_report import describe, plot_prediction

    predictor = Predictor.open(args.artifact)
    if args.task and predictor.task != args.task:
        raise ValueError(f"{args.artifact} is a {predictor.task} artifact, not a {args.task}; "
                         f"pass --task {predictor.task} or the {args.task}'s artifact.")
    images = list(args.images)
    groups = len(predictor.inputs)
    if len(images) % groups:
        raise ValueError(f"{args.artifact} takes images in groups of {groups} "
                         f"({', '.join(predictor.inputs)}); received {len(images)}.")
    per_input = [images[i::groups] for i in range(groups)]
    outputs = predictor.predict(*per_input)
    for line in describe(predictor, outputs, per_input, args.top_k, args.score_threshold):
        print(line)
    if args.plot:
        plot_prediction(predictor, outputs, per_input[0][0], args.plot, args.top_k,
                        args.score_threshold)
        print(f"Plot written to {args.plot}")
