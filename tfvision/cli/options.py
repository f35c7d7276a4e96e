"""Options every training command shares: the flags of `tfvision.training.RunOptions`, and `--image-size`."""

import argparse

# `tfvision.training.distribution.STRATEGIES`, spelled out: the CLI must not
# import TensorFlow or Keras before a command runs (`tfvision serve` runs without).
STRATEGIES = ("none", "mirrored", "multi-worker")


def add_run_arguments(parser):
    """Adds --seed, --mixed-precision, --deterministic, --gpu, --strategy and --resume."""
    parser.add_argument("--seed", type=int, help="seed Python, NumPy, TensorFlow and tf.data")
    parser.add_argument(
        "--mixed-precision",
        choices=("off", "float16", "bfloat16"),
        default="off",
        help="Keras mixed-precision policy (default off)",
    )
    parser.add_argument(
        "--deterministic",
        action="store_true",
        help="deterministic TensorFlow ops (needs --seed): two runs give the same weights",
    )
    parser.add_argument("--gpu", action="store_true", help="train on the GPU (fail if none)")
    parser.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="none",
        help="tf.distribute strategy: mirrored = every local GPU; multi-worker = the "
        "machines of the TF_CONFIG environment variable, same command on each (default none)",
    )
    parser.add_argument(
        "--resume",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="continue from the backup in --save-dir when there is one (default); "
        "--no-resume discards it and starts again",
    )


def run_options(args):
    """The `tfvision.training.RunOptions` of the flags `add_run_arguments` added."""
    from tfvision.training.run_options import RunOptions

    return RunOptions(seed=args.seed, mixed_precision=args.mixed_precision, require_gpu=args.gpu,
                      deterministic=args.deterministic, strategy=args.strategy,
                      resume=args.resume)


def image_size_argument(text):
    """`--image-size`: `auto` or a positive number of pixels."""
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 'auto' or a positive int, not {text!r}")
    return value
