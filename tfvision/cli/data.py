"""`tfvision data ...`: the built-in dataset as an image folder or detection files, and
detection files converted between formats."""


def add_commands(commands):
    parser = commands.add_parser("data", help="built-in data")
    sub = parser.add_subparsers(dest="data_command", required=True, metavar="COMMAND")
    synthetic = sub.add_parser(
        "synthetic",
        help="write the built-in shapes dataset as an image folder",
        description="Writes OUT/{train,valid,test}/<class>/*.jpg from the built-in "
        "synthetic shapes generator (deterministic for a seed).",
    )
    synthetic.add_argument("out", help="output folder")
    synthetic.add_argument("--train", type=int, default=1000, help="training images (default 1000)")
    synthetic.add_argument("--valid", type=int, default=200, help="validation images (default 200)")
    synthetic.add_argument("--test", type=int, default=200, help="test images (default 200)")
    synthetic.add_argument("--image-size", type=int, default=96, help="side in pixels (default 96)")
    synthetic.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    synthetic.add_argument(
        "--overwrite", action="store_true", help="replace split folders that already hold files"
    )
    synthetic.set_defaults(run=run_synthetic)
    detection = sub.add_parser(
        "synthetic-detection",
        help="write the built-in shapes as detection files (COCO JSON, CSV or YOLO + images)",
        description="Writes OUT/<split>/*.jpg and OUT/<split>.json (COCO) or OUT/<split>.csv "
        "(file,bbox,label), or OUT/images/<split>, OUT/labels/<split>/*.txt and OUT/data.yaml "
        "(YOLO), from the built-in shapes generator, and prints the --data spec that reads "
        "them back.",
    )
    detection.add_argument("out", help="output folder")
    detection.add_argument("--format", choices=("coco", "csv", "yolo"), default="coco",
                           help="annotation format (default coco)")
    detection.add_argument("--train", type=int, default=1000, help="training images (default 1000)")
    detection.add_argument("--valid", type=int, default=200, help="validation images (default 200)")
    detection.add_argument("--test", type=int, default=200, help="test images (default 200)")
    detection.add_argument("--image-size", type=int, default=96, help="side in pixels (default 96)")
    detection.add_argument("--image-format", choices=("jpg", "png"), default="jpg",
                           help="image file format (default jpg)")
    detection.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    detection.add_argument(
        "--overwrite", action="store_true", help="replace split folders that already hold files"
    )
    detection.set_defaults(run=run_synthetic_detection)
    convert = sub.add_parser(
        "convert",
        help="convert detection files to another format (COCO, YOLO, VOC XML, CSV)",
        description="Reads every split of SPEC as training reads it (bad boxes and "
        "unreadable images dropped and counted), copies the images to OUT and writes "
        "their annotations in the --to format; prints the --data spec that reads OUT.",
    )
    convert.add_argument("spec", help="coco:ANN.json:IMAGES, csv:FILE.csv:IMAGES, "
                         "voc:XML_DIR:IMAGES or yolo:DATA_YAML (paths may hold {split})")
    convert.add_argument("--to", required=True, choices=("coco", "yolo", "voc", "csv"),
                         help="output format")
    convert.add_argument("out", help="output folder")
    convert.add_argument("--splits", nargs="+", choices=("train", "valid", "test"),
                         help="splits to convert (default: every split SPEC has)")
    convert.add_argument("--strict", action="store_true",
                         help="stop at the first bad annotation or image instead of counting it")
    convert.add_argument("--overwrite", action="store_true",
                         help="replace output files and folders that exist")
    convert.set_defaults(run=run_convert)


def run_synthetic(args):
    from tfvision.data import write_image_folder

    counts = {"train": args.train, "valid": args.valid, "test": args.test}
    write_image_folder(args.out, counts=counts, image_size=args.image_size, seed=args.seed,
                       overwrite=args.overwrite)
    print(f"Wrote {sum(counts.values())} images ({counts}) to {args.out}")


def run_synthetic_detection(args):
    from tfvision.data import write_coco_detection, write_csv_detection, write_yolo_detection

    writer = {"coco": write_coco_detection, "csv": write_csv_detection,
              "yolo": write_yolo_detection}[args.format]
    counts = {"train": args.train, "valid": args.valid, "test": args.test}
    summary = None
    for split, num_images in counts.items():
        if num_images > 0:
            summary = writer(args.out, num_images, split, image_size=args.image_size,
                             seed=args.seed, image_format=args.image_format,
                             overwrite=args.overwrite)
            print(f"{split}: {summary['num_images']} images, {summary['num_boxes']} boxes -> "
                  f"{summary['annotation_file']}")
    if summary is None:
        raise ValueError("Nothing to write: --train, --valid and --test are all 0.")
    print(f"Read it back with --data {summary['spec']}")


def run_convert(args):
    from tfvision.data import convert_detection

    spec, summary = convert_detection(args.spec, args.to, args.out, splits=args.splits,
                                      strict=args.strict, overwrite=args.overwrite)
    for split, counts in summary.items():
        print(f"{split}: {counts['images']} images, {counts['boxes']} boxes"
              + (f" ({counts['dropped']} annotations dropped)" if counts["dropped"] else ""))
    print(f"Read it back with --data {spec}")
