"""The `kerasseg` command.

`kerasseg --help`, `kerasseg --version`, `kerasseg models` (the
registered model configurations) and `kerasseg export` (SavedModel, TFLite,
ONNX). Each command is a thin layer over a documented Python function.
"""

import argparse
import os
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
    export = commands.add_parser(
        "export",
        help="export a model for TF Serving, TFLite or ONNX",
        description="Export a .keras model (or a training run's folder, "
        "which holds model.keras) with kerasseg.export.export().",
    )
    export.add_argument("model", help="a .keras file or a run folder")
    export.add_argument(
        "--format",
        default="saved_model",
        choices=("saved_model", "tflite", "onnx"),
        help="default: saved_model",
    )
    export.add_argument(
        "--out",
        required=True,
        help="saved_model: base folder (writes OUT/NAME/VERSION); "
        "tflite/onnx: a folder or a file path",
    )
    export.add_argument("--name", help="serving name (default: model name)")
    export.add_argument(
        "--version", type=int, help="version (default: next free)"
    )
    export.add_argument(
        "--overwrite", action="store_true", help="replace an existing version"
    )
    export.add_argument(
        "--image-size",
        type=int,
        nargs=2,
        metavar=("HEIGHT", "WIDTH"),
        help="resize inputs to this size and outputs back (saved_model)",
    )
    export.add_argument(
        "--no-warmup",
        action="store_true",
        help="no assets.extra/tf_serving_warmup_requests (saved_model)",
    )
    export.add_argument(
        "--quantization",
        choices=("float16", "dynamic_int8"),
        help="tflite weights quantization (default: float32)",
    )
    return parser


RUN_MODEL = "model.keras"


def load_model(path):
    """Loads a `.keras` file, or `model.keras` in a run folder (safe mode)."""
    import keras

    path = os.fspath(path)
    if os.path.isdir(path):
        candidate = os.path.join(path, RUN_MODEL)
        if not os.path.isfile(candidate):
            raise FileNotFoundError(
                f"{path} is a folder without {RUN_MODEL}; pass a .keras "
                "file or a training run's folder."
            )
        path = candidate
    elif not path.endswith(".keras"):
        raise ValueError(
            f"Expected a .keras file or a run folder. Received: {path!r}"
        )
    elif not os.path.isfile(path):
        raise FileNotFoundError(f"No such model file: {path}")
    import kerasseg  # noqa: F401  (registers the custom layers)

    return keras.saving.load_model(path, safe_mode=True)


def _export(args):
    from kerasseg import export

    options = {}
    if args.format == "saved_model":
        options.update(
            name=args.name,
            version=args.version,
            overwrite=args.overwrite,
            image_size=args.image_size,
            warmup_requests=not args.no_warmup,
        )
    else:
        given = [
            flag
            for flag, value in [
                ("--name", args.name),
                ("--version", args.version),
                ("--overwrite", args.overwrite),
                ("--image-size", args.image_size),
                ("--no-warmup", args.no_warmup),
            ]
            if value
        ]
        if given:
            raise ValueError(
                f"{', '.join(given)} only apply to --format saved_model."
            )
    if args.quantization:
        if args.format != "tflite":
            raise ValueError("--quantization only applies to --format tflite.")
        options["quantization"] = args.quantization
    model = load_model(args.model)
    path = export.export(model, args.out, format=args.format, **options)
    print(path)
    return 0


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
    if args.command == "export":
        try:
            return _export(args)
        except (ValueError, FileNotFoundError, FileExistsError) as error:
            print(f"kerasseg export: error: {error}", file=sys.stderr)
            return 2
    _parser().print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
