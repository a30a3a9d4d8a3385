"""Measured recipes: each trains its configs with `kerasseg train` and
scores them on the same held-out data.

    python benchmarks/recipes.py RECIPE [--seeds 0 1 2]
        [--runs runs/recipes] [--json out.json]

RECIPE is `autoencoder_pretraining`, `autoencoder_pretraining_nuclei`,
`multitask`, `transfer`, `dann`, `dann_nuclei` or `adversarial`. Every
run is scored on held-out data by mean IoU, mean Dice, pixel accuracy
and the boundary F-score (tolerance 2 px, mean over the foreground classes,
`kerasseg.boundary_metrics`).

`autoencoder_pretraining` (benchmarks/recipes/autoencoder_pretraining/):
a U-Net trained for 300 steps on a fixed set of labelled Fashion-MNIST
scenes from scratch (`scratch.yaml`) against the same U-Net whose encoder
starts from the denoising autoencoder of the zoo (`pretrained.yaml`,
`model.encoder_from: conv_autoencoder.fashion_scenes`), which learnt from
32,000 unlabelled scenes of the same training split. Each runs with 5 %,
20 % and 100 % of a pool of 3,200 labelled scenes (160, 640, 3,200; the
smaller sets are the first scenes of the larger). `pretrained_frozen.yaml`
(the encoder frozen for the first 4 of the 12 epochs) runs with
`--configs`. All are scored on the zoo's held-out scenes (3,200, composed
from the Fashion-MNIST test images).

`autoencoder_pretraining_nuclei`
(benchmarks/recipes/autoencoder_pretraining_nuclei/): a denoising
autoencoder (`autoencoder.yaml`) first learns to reconstruct the 11
BBBC007 training images, their masks unused; then a U-Net is trained for
200 steps on 1, 3 (one per acquisition series) or all 11 of those images
with their masks, from scratch (`scratch.yaml`) and from the
autoencoder's encoder (`pretrained.yaml`), scored on the 3 held-out
images.

`multitask` (benchmarks/recipes/multitask/): a U-Net (`single_task.yaml`)
against the multi-task U-Net with an image-level "which garments" output
on the same encoder (`multitask.yaml`), both 300 steps on 640 labelled
scenes, scored on their masks, with BatchNorm statistics as trained and
recalibrated (as `transfer`).

`transfer` (benchmarks/recipes/transfer/): a U-Net trained on the 11
BBBC007 nuclei images from scratch (`scratch.yaml`) against the same with
its encoder started from the zoo's `unet.fashion_scenes`
(`fashion.yaml`), both 200 steps, scored on the 3 held-out nuclei images,
each with the saved model's BatchNorm statistics as trained and
recalibrated on 50 training batches (`train.batch_norm_recalibration`).

`dann` (benchmarks/recipes/dann/): a small U-Net trained on labelled
scenes on a black canvas (the source domain) alone (`source_only.yaml`)
against the same with DANN (`dann.yaml`) and 1,600 unlabelled scenes over
real texture photographs (the target domain, written first to
runs/recipes/dann/target_images), scored on held-out scenes of both
domains (`fashion_scenes(background="textures")`: test items over the
photographs' other halves).

`dann_nuclei` (benchmarks/recipes/dann_nuclei/): a U-Net trained on the
11 labelled BBBC007 images (the source domain) alone (`source_only.yaml`)
against the same with DANN (`dann.yaml`) and the same 11 images as
"microscope B" renders them, unlabelled (the target domain: gamma 0.5,
background +16, blur σ = 1, noise σ = 3, written first to
runs/recipes/dann_nuclei), scored on the 3 held-out images rendered the
same way and as they are. Each trained model is scored with its
BatchNorm statistics as trained, recalibrated on 50 batches of source
images, and on 50 batches of target images (AdaBN), without retraining.

`adversarial` (benchmarks/recipes/adversarial/): the small U-Net with
cross-entropy alone (`cross_entropy.yaml`) against cross-entropy plus the
adversarial term of Luc et al. (2016) (`adversarial.yaml`).

Each config runs once per seed (the seed sets the initialization, data
order and augmentation) and labelled share where the recipe has several;
the table gives every run and the mean ± standard deviation over seeds.
Run folders are kept under `--runs`; a finished one is reused.
"""

import argparse
import json
import os
import pathlib
import sys
import time

import numpy as np
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


# The nuclei DANN recipe's target domain: benchmarks/robustness.py's
# microscope B.
DANN_NUCLEI = pathlib.Path("runs/recipes/dann_nuclei")


def _write_microscope_b(folder):
    """The nuclei DANN recipe's images, written once as PNGs:
    `target_images/`, the 11 BBBC007 training images as microscope B
    renders them (unlabelled: DANN's target images), and
    `held_out/images` with `held_out/masks`, the 3 test images rendered
    the same way beside their unchanged masks."""
    from PIL import Image
    from robustness import MICROSCOPE_B
    from robustness import transform

    from kerasseg.data.datasets import nuclei_pairs

    folder = pathlib.Path(folder)
    done = folder / "done"
    if done.exists():
        return
    sets = {
        "target_images": (nuclei_pairs("train"), None, 100),
        "held_out": (nuclei_pairs("test"), "masks", 0),
    }
    for name, (pairs, masks, first_seed) in sets.items():
        images = folder / name / ("images" if masks else "")
        images.mkdir(parents=True, exist_ok=True)
        for n, (image_path, mask_path) in enumerate(pairs):
            image = np.asarray(Image.open(image_path).convert("L"))
            mask = np.asarray(Image.open(mask_path))
            image, mask = transform(
                image, mask, MICROSCOPE_B, seed=first_seed + n
            )
            stem = pathlib.Path(image_path).stem
            Image.fromarray(image).save(images / f"{stem}.png")
            if masks:
                (folder / name / masks).mkdir(exist_ok=True)
                Image.fromarray(mask).save(
                    folder / name / masks / f"{stem}.png"
                )
    done.touch()


# Labelled subsets of the 11 BBBC007 training images: one image, one of
# each acquisition series, all.
NUCLEI_SUBSETS = (
    ["20P1_POS0005_D_1UL"],
    ["17P1_POS0006_D_1UL", "20P1_POS0005_D_1UL", "A9_p5d"],
    [
        "17P1_POS0006_D_1UL",
        "17P1_POS0007_D_1UL",
        "17P1_POS0011_D_1UL",
        "17P1_POS0014_D_1UL",
        "20P1_POS0005_D_1UL",
        "20P1_POS0007_D_1UL",
        "20P1_POS0010_D_1UL",
        "20P1_POS0011_D_1UL",
        "A9_p5d",
        "A9_p7d",
        "A9_p9d",
    ],
)


def _train_nuclei_autoencoder(out):
    """The autoencoder the pretrained nuclei U-Nets start from, trained
    once (a finished run folder is reused)."""
    from kerasseg.training import run

    out = pathlib.Path(out)
    if (out / "model.keras").exists():
        return
    start = time.perf_counter()
    config = (
        ROOT / "recipes" / "autoencoder_pretraining_nuclei" / "autoencoder.yaml"
    )
    run.train(str(config), out, overrides=["train.verbose=0"])
    print(
        json.dumps(
            {
                "autoencoder": str(out),
                "training_seconds": round(time.perf_counter() - start, 1),
            }
        ),
        flush=True,
    )


# The saved model's BatchNorm statistics: the moving averages as trained,
# or averaged over 50 training batches (the configs' setting;
# docs/training.md).
BATCH_NORM_VARIANTS = {
    "as trained": ["train.batch_norm_recalibration=0"],
    "recalibrated": [],
}

# recipe → its configs, the held-out sets every run is scored on (name →
# config overrides of the validation split) and what to prepare first.
RECIPES = {
    "autoencoder_pretraining": {
        "configs": ("scratch", "pretrained"),
        "more_configs": ("pretrained_frozen",),
        # Labelled share of the 3,200-scene pool → overrides.
        "variants": {
            f"{share} %": [f"data.options={{num_scenes: {n}, scene_seed: 0}}"]
            for share, n in ((5, 160), (20, 640), (100, 3200))
        },
        # Scored on the zoo's fashion held-out split, whatever the configs
        # trained on.
        "held_out": {"black": ["data.options={num_scenes: 3200}"]},
    },
    "autoencoder_pretraining_nuclei": {
        "configs": ("scratch", "pretrained"),
        # Labelled training images → overrides (the autoencoder saw all 11).
        "variants": {
            f"{len(images)} of 11": [f"data.options={{train_subset: {images}}}"]
            for images in NUCLEI_SUBSETS
        },
        "variant_header": "labelled images",
        "held_out": {"nuclei": ["data.options={}"]},
        "prepare": lambda: _train_nuclei_autoencoder(
            "runs/recipes/autoencoder_pretraining_nuclei/autoencoder"
        ),
    },
    "multitask": {
        "configs": ("single_task", "multitask"),
        "variants": BATCH_NORM_VARIANTS,
        "variant_header": "BatchNorm statistics",
        "held_out": {"black": ["data.options={num_scenes: 3200}"]},
    },
    "transfer": {
        "configs": ("scratch", "fashion"),
        "variants": BATCH_NORM_VARIANTS,
        "variant_header": "BatchNorm statistics",
        "held_out": {"nuclei": []},
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
    "dann_nuclei": {
        "configs": ("source_only", "dann"),
        # Each trained model is scored three ways (no retraining): its
        # BatchNorm statistics as trained, recalibrated on 50 training
        # batches of the labelled source images, and adapted to the
        # unlabelled target images as `kerasseg adapt` does (AdaBN, Li et
        # al., 2016; kerasseg.training.adapt).
        "statistics": {
            "as trained": None,
            "source": "image",
            "target (AdaBN)": "adapt",
        },
        "variant_header": "BatchNorm statistics",
        "held_out": {
            # A folders config needs training folders; only its val split
            # is read.
            "target (microscope B)": [
                "data.dataset=folders",
                *(
                    f"data.{split}_{kind}={DANN_NUCLEI}/held_out/{kind}"
                    for split in ("train", "val")
                    for kind in ("images", "masks")
                ),
                "data.options={}",
            ],
            "source (BBBC007)": [],
        },
        "prepare": lambda: _write_microscope_b(DANN_NUCLEI),
    },
    "adversarial": {
        "configs": ("cross_entropy", "adversarial"),
        "variants": BATCH_NORM_VARIANTS,
        "variant_header": "BatchNorm statistics",
        "held_out": {"black": ["data.options={num_scenes: 1000}"]},
    },
}


def boundary_f1(model, dataset, num_classes, tolerance=2.0):
    """The boundary F-score of the model's class masks on `dataset`, the
    mean over the foreground classes (`kerasseg.boundary_metrics`)."""
    from kerasseg import boundary_metrics
    from kerasseg import outputs

    output = outputs.segmentation_output(model)
    scores = boundary_metrics.BoundaryScores(
        max(num_classes, 2), tolerance=tolerance, ignore_index=255
    )
    for images, targets in dataset:
        values = model.predict_on_batch(images)
        if output.key is not None:
            values = values[output.key]
        ids = outputs.class_ids(output, outputs.probabilities(output, values))
        truth = targets["mask"] if isinstance(targets, dict) else targets
        for true, found in zip(np.asarray(truth), np.asarray(ids)):
            scores.update(true, found)
    return scores.result()["boundary_f1"]


TIMING_FILE = "recipe_training_seconds.json"


def _train_once(config, out, overrides):
    """Trains `config` into `out` unless a finished run is there; returns
    the training's wall seconds, recorded beside the run so that a reused
    run reports the time it took (None for a run finished without it)."""
    from kerasseg.training import run

    timing = pathlib.Path(out) / TIMING_FILE
    if (pathlib.Path(out) / "model.keras").exists():
        if timing.exists():
            return json.loads(timing.read_text())["training_seconds"]
        return None
    start = time.perf_counter()
    run.train(str(config), out, overrides=overrides)
    seconds = round(time.perf_counter() - start, 1)
    timing.write_text(json.dumps({"training_seconds": seconds}) + "\n")
    return seconds


def _score(recipe, path, overrides, model):
    """The model's scores on each of the recipe's held-out sets."""
    from kerasseg.training import builders
    from kerasseg.training import config as config_module

    scores = {}
    for held_name, held_overrides in recipe["held_out"].items():
        held = config_module.load(str(path), [*overrides, *held_overrides])
        result = builders.evaluate(held, model, builders.dataset(held, "val"))
        scores[held_name] = {
            "mean_iou": result["mean"]["iou"],
            "mean_dice": result["mean"]["dice"],
            "pixel_accuracy": result["pixel_accuracy"],
            "boundary_f1": boundary_f1(
                model,
                builders.dataset(held, "val"),
                held["model"]["num_classes"],
            ),
        }
    return scores


RECALIBRATION_BATCHES = 50


def _recalibrate(model, path, overrides, key, seed):
    """Sets the model's BatchNorm statistics to their average over 50
    batches: with `key` "image", training batches of the labelled source
    images, augmented as in training, whichever config trained the model
    (`kerasseg.training.batch_norm.recalibrate`); with "adapt", crops of
    the unlabelled target images as `kerasseg adapt` takes them
    (`kerasseg.training.adapt.adapt_batch_norm`)."""
    from kerasseg.training import batch_norm
    from kerasseg.training import builders
    from kerasseg.training import config as config_module
    from kerasseg.training.adapt import adapt_batch_norm

    if key == "adapt":
        adapt_batch_norm(
            model,
            str(DANN_NUCLEI / "target_images"),
            batches=RECALIBRATION_BATCHES,
            seed=seed + 1000,
        )
        return
    config = config_module.load(
        str(path),
        [
            *overrides,
            "train.recipe=dann",
            f"data.target_images={DANN_NUCLEI}/target_images",
        ],
    )
    batches = builders.dataset(config, "train", seed=seed + 1000)
    batch_norm.recalibrate(
        model,
        (inputs[key] for inputs, _ in batches.take(RECALIBRATION_BATCHES)),
    )


def run_recipe(name, seeds, runs_dir, configs=None):
    import keras

    recipe = RECIPES[name]
    if "prepare" in recipe:
        recipe["prepare"]()
    rows = []
    variants = recipe.get("variants", {"": []})
    for config_name in configs or recipe["configs"]:
        path = ROOT / "recipes" / name / f"{config_name}.yaml"
        for variant, variant_overrides in variants.items():
            slug = variant.replace(" %", "pct").replace(" ", "_")
            for seed in seeds:
                folder = "-".join(filter(None, (config_name, slug)))
                out = pathlib.Path(runs_dir) / name / f"{folder}-seed{seed}"
                overrides = [
                    *variant_overrides,
                    f"train.seed={seed}",
                    "train.verbose=0",
                ]
                seconds = _train_once(path, out, overrides)
                for statistics, batches in recipe.get(
                    "statistics", {variant: None}
                ).items():
                    model = keras.saving.load_model(out / "model.keras")
                    if batches is not None:
                        _recalibrate(model, path, overrides, batches, seed)
                    row = {
                        "config": config_name,
                        "labels": statistics,
                        "seed": seed,
                        "held_out": _score(recipe, path, overrides, model),
                        "training_seconds": seconds,
                    }
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    # Every config's runs together, each kind of statistics together.
    order = [(r["config"], r["labels"]) for r in rows]
    rows.sort(key=lambda r: order.index((r["config"], r["labels"])))
    return rows


def _spread(values):
    mean = sum(values) / len(values)
    if len(values) < 2:
        return f"{mean:.4f}"
    std = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    return f"{mean:.4f} ± {std:.4f}"


def _seconds(values):
    """The mean of the known training times, or "–" when none is known
    (a reused run trained before its time was recorded)."""
    known = [v for v in values if v is not None]
    if not known:
        return "–"
    return f"{sum(known) / len(known):.0f}"


def table(rows, variant_header="labels"):
    """Markdown: every run's held-out mean IoU per held-out set and the
    first set's boundary F-score, then each config's mean ± standard
    deviation over seeds."""
    sets = list(rows[0]["held_out"])
    labels = any(r["labels"] for r in rows)
    lead = (
        f"| config | {variant_header} | seed |"
        if labels
        else "| config | seed |"
    )
    lines = [
        lead
        + " "
        + " | ".join(f"mean IoU, {s}" for s in sets)
        + f" | boundary F1, {sets[0]} | training s |",
        "|---|" + "---|" * (labels + 1) + "---|" * len(sets) + "---|---|",
    ]

    def cells(row):
        return [row["config"], *([row["labels"]] if labels else [])]

    for row in rows:
        scores = [f"{row['held_out'][s]['mean_iou']:.4f}" for s in sets]
        scores.append(f"{row['held_out'][sets[0]]['boundary_f1']:.4f}")
        lines.append(
            "| "
            + " | ".join([*cells(row), str(row["seed"]), *scores])
            + f" | {_seconds([row['training_seconds']])} |"
        )
    groups = dict.fromkeys((r["config"], r["labels"]) for r in rows)
    for key in groups:
        config, share = key
        mine = [r for r in rows if (r["config"], r["labels"]) == key]
        scores = [
            _spread([r["held_out"][s]["mean_iou"] for r in mine]) for s in sets
        ]
        scores.append(
            _spread([r["held_out"][sets[0]]["boundary_f1"] for r in mine])
        )
        lead = [f"**{config}**", *([share] if labels else [])]
        lines.append(
            "| "
            + " | ".join([*lead, f"mean ± sd ({len(mine)})", *scores])
            + f" | {_seconds([r['training_seconds'] for r in mine])} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="benchmarks/recipes.py")
    parser.add_argument("recipe", choices=sorted(RECIPES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--runs", default="runs/recipes")
    parser.add_argument(
        "--configs",
        nargs="+",
        help="the recipe's configs to run (default its main ones; "
        "autoencoder_pretraining also has pretrained_frozen)",
    )
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    recipe = RECIPES[args.recipe]
    known = (*recipe["configs"], *recipe.get("more_configs", ()))
    for config in args.configs or ():
        if config not in known:
            parser.error(
                f"--configs: {args.recipe!r} has no config {config!r}; "
                f"it has {', '.join(known)}"
            )
    rows = run_recipe(args.recipe, args.seeds, args.runs, args.configs)
    header = recipe.get("variant_header", "labels")
    report(args.recipe, table(rows, header), rows, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
