"""`tfvision data ...`: the built-in dataset."""


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


def run_synthetic(args):
    from tfvision.data import write_image_folder

    counts = {"train": args.train, "valid": args.valid, "test": args.test}
    write_image_folder(args.out, counts=counts, image_size=args.image_size, seed=args.seed,
                       overwrite=args.overwrite)
    print(f"Wrote {sum(counts.values())} images ({counts}) to {args.out}")
