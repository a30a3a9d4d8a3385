"""The `kerasseg` command.

`kerasseg --help`, `kerasseg --version` and `kerasseg models` (the
registered model configurations). Training, evaluation, prediction and
export commands join as they are built.
"""

import argparse
import sys

from kerasseg._version import __version__


def _parser():
    parser = argparse.ArgumentParser(
        prog="kerasseg",
        description="Keras 3 image segmentation model zoo.",
    )
    parser.add_argument(
        "--version", action="version", version=f"kerasseg {__version__}"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    models = commands.add_parser(
        "models",
        help="list the registered model configurations",
        description="List the model configurations kerasseg.build() knows.",
    )
    models.add_argument(
        "pattern",
        nargs="?",
        default="*",
        help="shell-style filter, e.g. 'unet*' (default: all)",
    )
    return parser


def _list_models(pattern):
    from kerasseg import registry

    names = registry.list_models(pattern)
    if not names:
        print(f"No registered model matches {pattern!r}.", file=sys.stderr)
        return 1
    width = max(len(name) for name in names)
    for name in names:
        spec = registry.get_spec(name)
        print(f"{name:<{width}}  {spec.task:<14}  {spec.description}")
    return 0


def main(argv=None):
    """Runs the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "models":
        return _list_models(args.pattern)
    _parser().print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
