"""The `kerasseg` command.

`kerasseg train CONFIG`, `kerasseg evaluate RUN`, `kerasseg predict
MODEL IMAGES --out DIR`, `kerasseg export MODEL`, `kerasseg adapt MODEL
--images DIR --out FILE`, `kerasseg models`, `kerasseg zoo ...` (MODEL
may be a zoo entry name). Each command is a thin layer over a documented
Python function: `kerasseg.training.run.train`,
`kerasseg.training.evaluation.evaluate`,
`kerasseg.training.predict.predict_files`, `kerasseg.export.export`,
`kerasseg.training.adapt.adapt_batch_norm`.
Exit status: 0 done, 2 bad input (the message names it), 3 training
diverged, 4 a command that needs TensorFlow run without it.
"""

import argparse
import os
import sys

from kerasseg._version import __version__
from kerasseg.training import xla
from kerasseg.zoo import cli as zoo_cli


def _parser():
    parser = argparse.ArgumentParser(
        prog="kerasseg",
        description="Keras 3 image segmentation model zoo.",
    )
    parser.add_argument(
        "--version", action="version", version=f"kerasseg {__version__}"
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show TensorFlow's C++ log lines (hidden by default; "
        "TF_CPP_MIN_LOG_LEVEL, if set, is left to decide)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    zoo_cli.add_parser(commands)
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
    train = commands.add_parser(
        "train",
        help="train, evaluate and export a model from a config file",
        description="Train from a YAML/TOML config into a run folder: "
        "checkpoints, best weights, TensorBoard logs, history, evaluation "
        "and a SavedModel. The same command resumes an interrupted run.",
    )
    train.add_argument("config", help="a .yaml, .yml or .toml file")
    train.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a config value (repeatable), e.g. train.epochs=3",
    )
    train.add_argument(
        "--run-dir",
        help="the run folder (default: runs/<config file name>)",
    )
    # Shorthands for the compute settings (same as --set train.KEY=VALUE);
    # the config check rejects values it does not know, naming them.
    for flag, key, values in (
        ("--jit-compile", "jit_compile", "|".join(xla.SETTINGS)),
        ("--precision", "precision", "float32|mixed_float16|mixed_bfloat16"),
        ("--strategy", "strategy", "default|mirrored|multi_worker"),
    ):
        train.add_argument(
            flag,
            metavar=values,
            help=f"train.{key} (auto measures XLA and graph steps)"
            if key == "jit_compile"
            else f"train.{key}",
        )
    evaluate = commands.add_parser(
        "evaluate",
        help="per-class IoU/Dice/precision/recall of a model",
        description="Evaluate a run (its best model on its validation "
        "data) or a .keras model on a folder of images and masks.",
    )
    evaluate.add_argument("model", help="a run folder or a .keras file")
    evaluate.add_argument("--images", help="folder of images")
    evaluate.add_argument("--masks", help="folder of masks")
    evaluate.add_argument("--mask-suffix", default="")
    evaluate.add_argument("--ignore-index", type=int)
    evaluate.add_argument(
        "--instances",
        help="with --images: a folder of instance label images (one label "
        "per object, 0 = none; same names as the images, --mask-suffix "
        "applies) for object and boundary scores. A run on a built-in "
        "dataset with instance labels (nuclei) reports them without it",
    )
    evaluate.add_argument(
        "--objects",
        choices=("components", "watershed"),
        default="watershed",
        help="how the predicted mask is cut into objects for the object "
        "scores (default watershed: splits touching objects)",
    )
    _tta_flag(evaluate)
    predict = commands.add_parser(
        "predict",
        help="class-id masks and colour overlays for images",
        description="Segment images (files or folders) of any size, tile "
        "by tile, into OUT/<name>.png (class ids) and "
        "OUT/<name>_overlay.png.",
    )
    predict.add_argument(
        "model", help="a run folder, a .keras file or a zoo entry name"
    )
    predict.add_argument("inputs", nargs="+", help="image files or folders")
    predict.add_argument("--out", required=True, help="output folder")
    predict.add_argument(
        "--tile", type=int, default=512, help="tile size (default 512)"
    )
    predict.add_argument(
        "--overlap",
        type=float,
        default=0.25,
        help="tile overlap fraction (default 0.25)",
    )
    predict.add_argument(
        "--blend",
        choices=("gaussian", "linear"),
        default="gaussian",
        help="how overlapping tiles are weighted: a Gaussian over the tile "
        "(σ = tile/8, default) or a linear ramp over the overlap",
    )
    predict.add_argument(
        "--jit-compile",
        choices=xla.SETTINGS,
        default="auto",
        help="XLA or not; auto (default) times both on the first tiles",
    )
    predict.add_argument(
        "--instances",
        choices=("components", "watershed"),
        help="also write OUT/<name>_instances.png (16-bit object labels) "
        "and OUT/<name>_objects.csv, cutting each class's mask into "
        "objects by connected components or by a distance-transform "
        "watershed that splits touching objects",
    )
    predict.add_argument(
        "--min-size",
        type=int,
        default=0,
        help="with --instances: drop objects of fewer pixels (default 0)",
    )
    _tta_flag(predict)
    export = commands.add_parser(
        "export",
        help="export a model for TF Serving, TFLite or ONNX",
        description="Export a .keras model (or a training run's folder, "
        "which holds model.keras) with kerasseg.export.export().",
    )
    export.add_argument(
        "model", help="a .keras file, a run folder or a zoo entry name"
    )
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
        "--no-fold-batch-norm",
        action="store_true",
        help="serve the model's own graph, BatchNorm not folded into the "
        "convolutions (saved_model; folded is faster and differs only "
        "in float32 rounding)",
    )
    export.add_argument(
        "--quantization",
        choices=("float16", "dynamic_int8"),
        help="tflite weights quantization (default: float32)",
    )
    export.add_argument(
        "--tile",
        type=int,
        help="add a serve_tiled signature: sliding windows of this many "
        "pixels inside the graph, for images larger than the tile "
        "(saved_model)",
    )
    export.add_argument(
        "--tile-overlap",
        type=float,
        help="serve_tiled's tile overlap fraction (default 0.25)",
    )
    export.add_argument(
        "--tile-blend",
        choices=("gaussian", "linear"),
        help="serve_tiled's blend of overlapping tiles (default gaussian)",
    )
    export.add_argument(
        "--tile-batch-size",
        type=int,
        help="serve_tiled's tile positions per model call, each with every "
        "image of the request (default 4)",
    )
    _tta_flag(export)
    adapt = commands.add_parser(
        "adapt",
        help="adapt a model's BatchNorm statistics to unlabelled images "
        "from another microscope (AdaBN)",
        description="Set the model's BatchNorm statistics to those of "
        "new, unlabelled images (kerasseg.training.adapt."
        "adapt_batch_norm) and save the adapted model as a .keras file. "
        "Every other weight stays as trained.",
    )
    adapt.add_argument(
        "model", help="a .keras file, a run folder or a zoo entry name"
    )
    adapt.add_argument(
        "--images", required=True, help="a folder of the new images"
    )
    adapt.add_argument(
        "--out", required=True, help="the adapted model's .keras file"
    )
    adapt.add_argument(
        "--overwrite", action="store_true", help="replace an existing --out"
    )
    adapt.add_argument(
        "--batches",
        type=int,
        default=50,
        help="batches of random crops to average over (default 50)",
    )
    adapt.add_argument(
        "--batch-size", type=int, default=8, help="crops per batch (default 8)"
    )
    adapt.add_argument(
        "--crop",
        type=int,
        default=256,
        help="crop side in pixels (default 256; smaller images: their "
        "smallest side)",
    )
    adapt.add_argument(
        "--seed", type=int, default=0, help="the crops' seed (default 0)"
    )
    return parser


TTA_CHOICES = ("none", "flips", "d4")


def _tta_flag(command):
    command.add_argument(
        "--tta",
        choices=TTA_CHOICES,
        default="none",
        help="test-time augmentation inside the model "
        "(kerasseg.inference.tta): flips (4 predictions) or d4 (8); "
        "default none",
    )
    command.add_argument(
        "--tta-scales",
        type=float,
        nargs="+",
        metavar="SCALE",
        help="image scales of the test-time augmentation, e.g. 0.75 1 "
        "1.25 (each scale × each --tta transform is one prediction; "
        "with --tta none, the scales alone); default 1",
    )


def _tta_of(args):
    """(transforms, scales) of --tta and --tta-scales; transforms None
    when neither asks for augmentation. Bad scales fail here, before any
    model is loaded."""
    from kerasseg import inference

    scales = inference.scales_of(args.tta_scales or (1.0,))
    if args.tta == "none":
        return (None, scales) if scales == (1.0,) else (["identity"], scales)
    return args.tta, scales


def _with_tta(model, args):
    transforms, scales = _tta_of(args)
    if transforms is None:
        return model
    from kerasseg import inference

    return inference.tta(model, transforms, scales=scales)


RUN_MODEL = "model.keras"


def load_model(path):
    """Loads a `.keras` file, `model.keras` in a run folder (safe mode), or
    a zoo entry by name (`unet.nuclei_bbbc007`)."""
    import keras

    path = os.fspath(path)
    if not os.path.exists(path) and not path.endswith(".keras"):
        from kerasseg import zoo

        if path in zoo.list_pretrained():
            return zoo.load(path)
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
            "Expected a .keras file, a run folder or a zoo entry name "
            f"(kerasseg zoo list). Received: {path!r}"
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
            fold_batch_norm=not args.no_fold_batch_norm,
            tile=args.tile,
        )
        # The --tile-* flags given, with export.saved_model's own defaults
        # for the rest; without --tile it refuses them.
        options.update(
            (key, value)
            for key, value in [
                ("tile_overlap", args.tile_overlap),
                ("tile_blend", args.tile_blend),
                ("tile_batch_size", args.tile_batch_size),
            ]
            if value is not None
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
                ("--no-fold-batch-norm", args.no_fold_batch_norm),
                ("--tile", args.tile),
                ("--tile-overlap", args.tile_overlap is not None),
                ("--tile-blend", args.tile_blend is not None),
                ("--tile-batch-size", args.tile_batch_size is not None),
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
    transforms, scales = _tta_of(args)
    model = load_model(args.model)
    if args.format == "saved_model" and transforms is not None:
        # The plain model stays serving_default; serve_tta is added.
        options["tta"] = transforms
        options["tta_scales"] = scales
    else:
        model = _with_tta(model, args)
    path = export.export(model, args.out, format=args.format, **options)
    print(path)
    return 0


def _train(args):
    from kerasseg.training import run

    run_dir = args.run_dir or os.path.join(
        "runs", os.path.splitext(os.path.basename(args.config))[0]
    )
    overrides = list(args.overrides)
    for key in ("jit_compile", "precision", "strategy"):
        value = getattr(args, key)
        if value is not None:
            overrides.append(f"train.{key}={value}")
    result = run.train(args.config, run_dir, overrides=overrides)
    print(f"Run folder: {result['run_dir']}")
    return 0


def _evaluate(args):
    from kerasseg.training import builders
    from kerasseg.training import config as config_module
    from kerasseg.training import evaluation

    if args.images and not args.masks:
        raise ValueError("--images needs --masks.")
    _tta_of(args)  # bad scales fail before the model loads
    model = _with_tta(load_model(args.model), args)
    config_path = os.path.join(args.model, "config.yaml")
    config = None
    if os.path.isdir(args.model) and os.path.isfile(config_path):
        config = config_module.load(config_path)
        data = config["data"]
        if args.ignore_index is not None:
            data["ignore_index"] = args.ignore_index
        classes = config["model"]["num_classes"]
        metric = builders.confusion_metric(config)
        names = builders.class_names(config)
        suffix = args.mask_suffix or data["mask_suffix"]
        batches = None if args.images else builders.dataset(config, "val")
    else:
        if not (args.images and args.masks):
            raise ValueError(
                "A .keras model needs --images and --masks to evaluate on."
            )
        classes = model.output_shape[-1]
        metric = builders.confusion_metric_for(
            classes, ignore_index=args.ignore_index
        )
        names, suffix, batches = None, args.mask_suffix, None
    if batches is None:
        batches = builders.folder_batches(
            args.images,
            args.masks,
            num_classes=classes,
            ignore_index=metric.ignore_index,
            mask_suffix=suffix,
        )
    if args.instances and not args.images:
        raise ValueError("--instances needs --images.")
    if args.instances:
        from kerasseg.data.files import pair_files

        pairs = pair_files(args.images, args.instances, mask_suffix=suffix)
    elif not args.images and config is not None:
        from kerasseg.zoo.evaluate import held_out_instances

        pairs = held_out_instances(config)
    else:
        pairs = None
    if config is not None and not args.images:
        # The run's own validation data, scored as its task is (a
        # multi-task run's targets and outputs are dicts).
        result = builders.evaluate(config, model, batches, class_names=names)
    else:
        result = evaluation.evaluate(model, batches, metric, class_names=names)
    print(evaluation.table(result))
    if pairs:
        objects = evaluation.evaluate_objects(model, pairs, method=args.objects)
        print("\nObjects and boundaries:\n")
        print(evaluation.objects_table(objects))
    return 0


def _run_colours(path):
    """A run folder's overlay settings: its dataset's class colours and
    background class (`builders.overlay_colours`); {} for anything else (a
    zoo model carries its own palette)."""
    config_path = os.path.join(os.fspath(path), "config.yaml")
    if not os.path.isfile(config_path):
        return {}
    from kerasseg.training import builders
    from kerasseg.training import config as config_module

    return builders.overlay_colours(config_module.load(config_path))


def _predict(args):
    from kerasseg.training import predict

    _tta_of(args)  # bad scales fail before the model loads
    model = _with_tta(load_model(args.model), args)
    jit = xla.jit_compile_of(args.jit_compile)
    written = predict.predict_files(
        model,
        args.inputs,
        args.out,
        tile=args.tile,
        overlap=args.overlap,
        blend=args.blend,
        jit_compile=jit,
        instances=args.instances,
        min_size=args.min_size,
        **_run_colours(args.model),
    )
    what = (
        "masks, overlays and instances"
        if args.instances
        else "masks and overlays"
    )
    print(f"Wrote {len(written)} {what} to {args.out}")
    return 0


def _adapt(args):
    from kerasseg.training.adapt import adapt_batch_norm

    for flag, value in (
        ("--batches", args.batches),
        ("--batch-size", args.batch_size),
        ("--crop", args.crop),
    ):
        if value < 1:
            raise ValueError(f"{flag} must be at least 1. Received: {value}")
    out = os.fspath(args.out)
    if not out.endswith(".keras"):
        raise ValueError(f"--out must be a .keras file. Received: {out}")
    if os.path.exists(out) and not args.overwrite:
        raise FileExistsError(
            f"{out} exists; pass --overwrite to replace it, or another --out."
        )
    if not os.path.isdir(args.images):
        raise FileNotFoundError(f"--images: no such folder: {args.images}")
    model = load_model(args.model)
    count = adapt_batch_norm(
        model,
        args.images,
        batches=args.batches,
        batch_size=args.batch_size,
        crop=args.crop,
        seed=args.seed,
    )
    folder = os.path.dirname(out)
    if folder:
        os.makedirs(folder, exist_ok=True)
    model.save(out)
    print(
        f"Adapted {model.name}'s BatchNorm statistics on {count} batches "
        f"of {args.images}; wrote {out}"
    )
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
    # Parsed: now load Keras, TensorFlow and the package (the `kerasseg`
    # command's import of kerasseg left it for here, see kerasseg._load).
    import kerasseg

    kerasseg._quiet_tensorflow(args.verbose or not kerasseg._is_command())
    kerasseg._load()
    if args.command == "models":
        return _list_models(args.pattern)
    commands = {
        "train": _train,
        "evaluate": _evaluate,
        "predict": _predict,
        "export": _export,
        "adapt": _adapt,
        "zoo": zoo_cli.run,  # ZooError is a ValueError: exit 2 below
    }
    if args.command in commands:
        from kerasseg._tensorflow import MissingTensorFlow

        try:
            from kerasseg.training.run import TrainingDiverged
        except ImportError:  # only train and export need it importable
            TrainingDiverged = ()
        try:
            return commands[args.command](args)
        except MissingTensorFlow as error:
            print(f"kerasseg {args.command}: error: {error}", file=sys.stderr)
            return 4
        except TrainingDiverged as error:
            print(f"kerasseg {args.command}: {error}", file=sys.stderr)
            return 3
        except (ValueError, FileNotFoundError, FileExistsError) as error:
            print(f"kerasseg {args.command}: error: {error}", file=sys.stderr)
            return 2
        except Exception as error:
            # A bad file met inside a tf.data pipeline reaches us wrapped
            # in a TensorFlow error; say what the file's problem is.
            from kerasseg.data.files import data_error_in

            message = data_error_in(error)
            if message is None:
                raise
            print(f"kerasseg {args.command}: error: {message}", file=sys.stderr)
            return 2
    _parser().print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
