"""Turns a finished `kerasseg train` run into a zoo entry (maintainers).

    python -m kerasseg.zoo.publish RUN_DIR NAME --summary "one line" \
        --training-seconds S [--extra figures.json]

saves the run's best weights as `zoo/NAME/NAME-<sha256[:8]>.weights.h5`
(removing the entry's older weights file), scores the model on the
held-out split of its config (the whole split, and the fast subset the
tests use), writes `zoo/NAME/record.json` and renders the cards and
`docs/zoo.md`. The committed `zoo/NAME/config.yaml` must resolve to the
run's own config, so the record's config is the one that trained it.
`--extra` merges further metric sections with their commands, e.g. the
output of `python benchmarks/robustness.py RUN_DIR --json FILE` (run on
the run folder, before publishing).
"""

import argparse
import datetime
import os
import pathlib
import platform
import shlex
import sys

from kerasseg import _files
from kerasseg.zoo import cards
from kerasseg.zoo import evaluate as zoo_evaluate
from kerasseg.zoo import records

# The vector extensions that decide CPU speed, by /proc/cpuinfo flag: the
# AVX-512 subsets are named after it (VNNI and BF16 speed int8 and
# bfloat16 products); AMX is Intel's matrix unit.
VECTOR_EXTENSIONS = (
    ("avx2", "AVX2"),
    ("fma", "FMA"),
    ("avx512f", "AVX-512"),
    ("avx512_vnni", "VNNI"),
    ("avx512_bf16", "BF16"),
    ("amx_tile", "AMX"),
)


def vector_extensions(flags):
    """The names in VECTOR_EXTENSIONS whose flag is among `flags` (the
    words of /proc/cpuinfo's flags line), with "no AVX-512" and "no AMX"
    said outright, since the speed of this project's machines turns on
    them."""
    flags = set(flags)
    found = [name for flag, name in VECTOR_EXTENSIONS if flag in flags]
    if "avx512f" not in flags:
        found.append("no AVX-512")
    if "amx_tile" not in flags:
        found.append("no AMX")
    return found


def machine():
    """The CPU this runs on: its model name, vector extensions and cores,
    e.g. "AMD EPYC 7B13, AVX2 FMA no AVX-512 no AMX, 2 cores"."""
    name = platform.processor() or platform.machine()
    flags = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and name in ("", "x86_64"):
                    name = line.split(":", 1)[1].strip()
                if line.startswith("flags"):
                    flags = line.split(":", 1)[1].split()
                    break
    except OSError:
        pass
    parts = [name]
    if flags is not None:  # no flags line: not x86, or no /proc
        parts.append(" ".join(vector_extensions(flags)))
    parts.append(f"{os.cpu_count()} cores")
    return ", ".join(p for p in parts if p)


def preprocessing(config):
    norm = config["model"]["options"].get("input_normalization")
    if norm:
        args = norm if isinstance(norm, dict) else {}
        low, high = args.get("low", 1.0), args.get("high", 99.8)
        floor = args.get("min_range", 0.0)
        return (
            "raw grey levels (8- or 16-bit); inside the graph each image "
            f"is normalized by its own {low:g} and {high:g} percentiles "
            f"(divisor at least {floor:g} grey levels)"
        )
    return "raw 0–255 pixel values, no normalization"


def write_entry(folder, name, model, config, *, summary, training):
    """Saves `model`'s weights as `folder/<name>-<sha8>.weights.h5` (the
    entry's older weights file removed) and writes `folder/record.json`
    with what the model, the config and its dataset say of it, the one-line
    `summary` and the `training` facts (time, machine, commands); its
    metrics start empty. Returns the record dict."""
    import keras
    import tensorflow as tf

    import kerasseg
    from kerasseg.data import specs as dataset_specs
    from kerasseg.training import builders

    folder = pathlib.Path(folder)
    new = folder / "new.weights.h5"
    with _files.atomic_path(new) as tmp:
        model.save_weights(tmp)
    sha = records.sha256_of(new)
    target = folder / records.weights_file_name(name, sha)
    for old in folder.glob("*.weights.h5"):
        if old != new:
            old.unlink()
    os.replace(new, target)
    spec = dataset_specs.get(config["data"]["dataset"])
    task = kerasseg.registry.get_spec(config["model"]["name"]).task
    class_names = builders.class_names(config) or []
    if task == "reconstruction":  # outputs images: no classes
        class_names = []
    record = {
        "name": name,
        "task": task,
        "config": config,
        "weights_file": target.name,
        "sha256": sha,
        "size": target.stat().st_size,
        "storage": "float32",
        "params": model.count_params(),
        "layout_sha256": records.layout_sha256(model),
        "input_channels": builders.channels(config),
        "preprocessing": preprocessing(config),
        "class_names": class_names,
        "palette": builders.palette(config, len(class_names)).tolist(),
        "versions": {
            "kerasseg": kerasseg.__version__,
            "keras": keras.__version__,
            "tensorflow": tf.__version__,
        },
        "date": datetime.date.today().isoformat(),
        "summary": summary,
        "dataset": {
            "name": spec.name,
            "train": f"{spec.description}; {spec.splits[0]} split"
            + ("; images only, labels unused" if not class_names else ""),
            "held_out": spec.held_out,
        },
        "licence": f"Weights: Apache-2.0 (kerasseg). Data: {spec.licence}",
        "training": training,
        "metrics": {},
    }
    _files.write_json(folder / records.RECORD, record)
    return record


def main(argv=None):
    from kerasseg.data import specs as dataset_specs
    from kerasseg.training import builders
    from kerasseg.training import config as config_module

    parser = argparse.ArgumentParser(prog="python -m kerasseg.zoo.publish")
    parser.add_argument("run_dir")
    parser.add_argument("name")
    parser.add_argument("--summary", required=True, help="one line")
    parser.add_argument("--training-seconds", type=float, required=True)
    parser.add_argument("--extra", help="JSON of further metrics sections")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)

    run_dir = pathlib.Path(args.run_dir)
    config = config_module.load(run_dir / "config.yaml")
    folder = records.entries_dir() / args.name
    entry_config = config_module.load(folder / "config.yaml")
    if entry_config != config:
        raise SystemExit(
            f"{folder / 'config.yaml'} does not resolve to the config of "
            f"{run_dir}: publish the run that this config trained."
        )
    model = builders.model(config)
    model.load_weights(run_dir / "best.weights.h5")
    spec = dataset_specs.get(config["data"]["dataset"])
    record = write_entry(
        folder,
        args.name,
        model,
        config,
        summary=args.summary,
        training={
            "time": f"{args.training_seconds / 60:.1f} min",
            "machine": machine(),
            "commands": [
                f"kerasseg train zoo/{args.name}/config.yaml "
                f"--run-dir runs/zoo/{args.name}",
                "python -m kerasseg.zoo.publish "
                + " ".join(shlex.quote(a) for a in argv),
            ],
        },
    )
    from kerasseg import zoo

    # Loaded through the record just written: what users will load.
    loaded = zoo.load(args.name)
    held = zoo_evaluate.evaluate(loaded)
    subset = zoo_evaluate.evaluate(loaded, batches=zoo_evaluate.SUBSET_BATCHES)
    record["metrics"]["held_out"] = {
        "split": f"{spec.name}: {spec.held_out}",
        "command": f"kerasseg zoo evaluate {args.name}",
        **zoo_evaluate.summary(held),
    }
    record["metrics"]["subset"] = {
        "batches": zoo_evaluate.SUBSET_BATCHES,
        **zoo_evaluate.summary(subset),
    }
    if args.extra:
        import json

        with open(args.extra) as f:
            extra = json.load(f)
        record["metrics"].update(extra)
        # The commands that made the extra figures, before the publish.
        record["training"]["commands"][1:1] = [
            f"{section['command']} --json {shlex.quote(args.extra)}"
            for section in extra.values()
            if "command" in section
        ]
    _files.write_json(folder / records.RECORD, record)
    for path, text in cards.render_all().items():
        _files.write_text(path, text)
    print(f"{args.name}: {record['weights_file']} ({record['size']:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
