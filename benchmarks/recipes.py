"""Measured recipes: each trains its configs with `kerasseg train` and
scores them on the same held-out data.

    python benchmarks/recipes.py autoencoder_pretraining [--seeds 0 1]
        [--runs runs/recipes] [--json out.json]

`autoencoder_pretraining` (benchmarks/recipes/autoencoder_pretraining/):
a U-Net trained on 160 labelled Fashion-MNIST scenes from scratch
(`scratch.yaml`) against the same U-Net whose encoder starts from the
denoising autoencoder of the zoo (`pretrained.yaml`, `model.encoder_from:
conv_autoencoder.fashion_scenes`), which learnt from 32,000 unlabelled
scenes of the same training split, and the same start with the encoder
frozen for the first 4 of the 12 epochs (`pretrained_frozen.yaml`). All
are scored on the zoo's held-out scenes (3,200, composed from the
Fashion-MNIST test images).

Each config runs once per seed (the seed sets the initialization, data
order and augmentation); the table gives every run and the mean. Run
folders are kept under `--runs`; a finished one is reused.
"""

import argparse
import json
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent
RECIPES = {
    "autoencoder_pretraining": {
        "configs": ("scratch", "pretrained", "pretrained_frozen"),
        # Scored on the zoo's fashion held-out split, whatever the configs
        # trained on.
        "held_out": ["data.options={num_scenes: 3200}"],
    },
}


def _machine():
    from kerasseg.zoo.publish import machine

    return machine()


def run_recipe(name, seeds, runs_dir):
    import keras

    from kerasseg.training import builders
    from kerasseg.training import config as config_module
    from kerasseg.training import run

    recipe = RECIPES[name]
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
            held = config_module.load(
                str(path), [*overrides, *recipe["held_out"]]
            )
            model = keras.saving.load_model(out / "model.keras")
            result = builders.evaluate(
                held, model, builders.dataset(held, "val")
            )
            rows.append(
                {
                    "config": config_name,
                    "seed": seed,
                    "mean_iou": result["mean"]["iou"],
                    "mean_dice": result["mean"]["dice"],
                    "pixel_accuracy": result["pixel_accuracy"],
                    "training_seconds": round(seconds, 1),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    return rows


def table(rows):
    lines = [
        "| config | seed | held-out mean IoU | mean Dice | pixel accuracy "
        "| training s |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['config']} | {row['seed']} | {row['mean_iou']:.4f} | "
            f"{row['mean_dice']:.4f} | {row['pixel_accuracy']:.4f} | "
            f"{row['training_seconds']:.0f} |"
        )
    for config in dict.fromkeys(r["config"] for r in rows):
        mine = [r for r in rows if r["config"] == config]
        mean = sum(r["mean_iou"] for r in mine) / len(mine)
        dice = sum(r["mean_dice"] for r in mine) / len(mine)
        lines.append(f"| **{config}** | mean | {mean:.4f} | {dice:.4f} | | |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="benchmarks/recipes.py")
    parser.add_argument("recipe", choices=sorted(RECIPES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--runs", default="runs/recipes")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    rows = run_recipe(args.recipe, args.seeds, args.runs)
    print(f"\n{args.recipe} on {_machine()}\n")
    print(table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": _machine(), "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
