"""`tfvision` command: parses arguments and hands them to the library."""

import argparse
import importlib
import os
import sys

# The modules of `tfvision.cli` whose `add_commands(commands)` adds their
# sub-commands, in the order `tfvision --help` lists them. A new task's
# command group is one more name here.
COMMAND_GROUPS = ("data", "classifier", "detector", "moco", "cotrain", "export", "serving")

# What a user can get wrong (a path, a file, an argument value): one line, no
# traceback. Anything else is a bug and keeps its traceback.
USER_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError, RuntimeError, OSError,
               ImportError)  # ImportError: an optional extra not installed


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tfvision",
        description="Train, evaluate, export and query tfvision models.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        importlib.import_module(f"tfvision.cli.{group}").add_commands(commands)
    return parser


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if getattr(args, "deterministic", False):
            from tfvision.training.setup import configure_run

            # Before any op runs; the command's own set-up repeats the rest.
            configure_run(seed=args.seed, mixed_precision=args.mixed_precision, deterministic=True)
        result = args.run(args)
    except USER_ERRORS as error:
        print(f"tfvision: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tfvision: interrupted", file=sys.stderr)
        return 130
    return result or 0


if __name__ == "__main__":
    sys.exit(main())
