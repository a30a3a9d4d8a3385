"""Measured recipes: each trains its configs with `kerasseg train` and
scores them on the same held-out data.

    python benchmarks/recipes.py RECIPE [--seeds 0 1 2]
        [--runs runs/recipes] [--json out.json]

RECIPE is `autoencoder_pretraining`, `dann` or `adversarial`.

`autoencoder_pretraining` (benchmarks/recipes/autoencoder_pretraining/):
a U-Net trained on 160 labelled Fashion-MNIST scenes from scratch
(`scratch.yaml`) against the same U-Net whose encoder starts from the
denoising autoencoder of the zoo (`pretrained.yaml`, `model.encoder_from:
conv_autoencoder.fashion_scenes`), which learnt from 32,000 unlabelled
scenes of the same training split, and the same start with the encoder
frozen for the first 4 of the 12 epochs (`pretrained_frozen.yaml`). All
are scored on the zoo's held-out scenes (3,200, composed from the
Fashion-MNIST test images).

`dann` (benchmarks/recipes/dann/): a small U-Net trained on labelled
scenes on a black canvas (the source domain) alone (`source_only.yaml`)
against the same with DANN (`dann.yaml`) and 1,600 unlabelled scenes over
real texture photographs (the target domain, written first to
runs/recipes/dann/target_images), scored on held-out scenes of both
domains (`fashion_scenes(background="textures")`: test items over the
photographs' other halves).

`adversarial` (benchmarks/recipes/adversarial/): the small U-Net with
cross-entropy alone (`cross_entropy.yaml`) against cross-entropy plus the
adversarial term of Luc et al. (2016) (`adversarial.yaml`).

Each config runs once per seed (the seed sets the initialization, data
order and augmentation); the table gives every run and the mean. Run
folders are kept under `--runs`; a finished one is reused.
"""

import argparse
import json
import os
import pathlib
import sys
import time

from _report import report

ROOT = pathlib.Path(__file__).resolve().parent
TARGET_SCENES = 1600  # unlabelled target-domain scenes DANN trains on


def _write_target_images(folder):
    """The DANN configs' `data.target_images`: unlabelled fashion scenes
    over texture photographs (train items, the photographs' top halves),
    written once as PNGs."""
    from PIL import Image

    from kerasseg.data import datasets

    folder = pathlib.Path(folder)
    if folder.is_dir() and len(os.listdir(folder)) == TARGET_SCENES:
        return
    folder.mkdir(parents=True, exist_ok=True)
    images, labels = datasets.load_fashion_mnist("train")
    scenes, _ = datasets.compose_scenes(
        images,
        labels,
        num_scenes=TARGET_SCENES,
        seed=7,  # not the labelled scenes' layouts
        backgrounds=datasets.texture_backgrounds("train"),
    )
    for n, scene in enumerate(scenes):
        Image.fromarray(scene).save(folder / f"scene-{n:04d}.png")


# recipe → its configs, the held-out sets every run is scored on (name →
# config overrides of the validation split) and what to prepare first.
RECIPES = {
    "autoencoder_pretraining": {
        "configs": ("scratch", "pretrained", "pretrained_frozen"),
        # Scored on the zoo's fashion held-out split, whatever the configs
        # trained on.
        "held_out": {"black": ["data.options={num_scenes: 3200}"]},
    },
    "dann": {
        "configs": ("source_only", "dann"),
        "held_out": {
            "target (textures)": [
                "data.options={num_scenes: 1000, background: textures}"
            ],
            "source (black)": ["data.options={num_scenes: 1000}"],
        },
        "prepare": lambda: _write_target_images(
            "runs/recipes/dann/target_images"
        ),
    },
    "adversarial": {
        "configs": ("cross_entropy", "adversarial"),
        "held_out": {"black": ["data.options={num_scenes: 1000}"]},
    },
}


def run_recipe(name, seeds, runs_dir):
    import keras

    from kerasseg.training import builders
    from kerasseg.training import config as config_module
    from kerasseg.training import run

    recipe = RECIPES[name]
    if "prepare" in recipe:
        recipe["prepare"]()
    rows = []
    for config_name in recipe["configs"]:
        path = ROOT / "recipes" / name / f"{config_name}.yaml"
        for seed in seeds:
            out = pathlib.Path(runs_dir) / name / f"{config_name}-seed{seed}"
            overrides = [f"train.seed={seed}", "train.verbose=0"]
            start = time.perf_counter()
            if not (out / "model.keras").exists():
                run.train(str(path), out, overrides=overrides)
            seconds = time.perf_counter() - start
            model = keras.saving.load_model(out / "model.keras")
            row = {"config": config_name, "seed": seed, "held_out": {}}
            for held_name, held_overrides in recipe["held_out"].items():
                held = config_module.load(
                    str(path), [*overrides, *held_overrides]
                )
                result = builders.evaluate(
                    held, model, builders.dataset(held, "val")
                )
                row["held_out"][held_name] = {
                    "mean_iou": result["mean"]["iou"],
                    "mean_dice": result["mean"]["dice"],
                    "pixel_accuracy": result["pixel_accuracy"],
                }
            row["training_seconds"] = round(seconds, 1)
            rows.append(row)
            print(json.dumps(rows[-1]), flush=True)
    return rows


def _spread(values):
    mean = sum(values) / len(values)
    if len(values) < 2:
        return f"{mean:.4f}"
    std = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    return f"{mean:.4f} ± {std:.4f}"


def table(rows):
    """Markdown: every run's held-out mean IoU per held-out set, then each
    config's mean ± standard deviation over seeds."""
    sets = list(rows[0]["held_out"])
    lines = [
        "| config | seed | "
        + " | ".join(f"mean IoU, {s}" for s in sets)
        + " | training s |",
        "|---|---|" + "---|" * len(sets) + "---|",
    ]
    for row in rows:
        scores = " | ".join(
            f"{row['held_out'][s]['mean_iou']:.4f}" for s in sets
        )
        lines.append(
            f"| {row['config']} | {row['seed']} | {scores} | "
            f"{row['training_seconds']:.0f} |"
        )
    for config in dict.fromkeys(r["config"] for r in rows):
        mine = [r for r in rows if r["config"] == config]
        scores = " | ".join(
            _spread([r["held_out"][s]["mean_iou"] for r in mine]) for s in sets
        )
        seconds = sum(r["training_seconds"] for r in mine) / len(mine)
        lines.append(
            f"| **{config}** | mean ± sd ({len(mine)}) | {scores} | "
            f"{seconds:.0f} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="benchmarks/recipes.py")
    parser.add_argument("recipe", choices=sorted(RECIPES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--runs", default="runs/recipes")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    rows = run_recipe(args.recipe, args.seeds, args.runs)
    report(args.recipe, table(rows), rows, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
