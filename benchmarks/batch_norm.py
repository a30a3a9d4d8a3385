"""BatchNorm recalibration measured on zoo entries: each entry scored on
its held-out data with its BatchNorm statistics as shipped (the moving
averages of training) and after `kerasseg.training.batch_norm.recalibrate`
on N batches of its own training pipeline (augmentation included, seeded).

    python benchmarks/batch_norm.py [--entries unet.nuclei_bbbc007 ...]
        [--batches 50] [--scenes 800] [--json out.json]

The transfer recipe (`python benchmarks/recipes.py transfer`) measures the
same on 200-step runs, where it matters most.
"""

import argparse
import json
import sys

from _report import report
from _zoo import entry_and_config

DEFAULT_ENTRIES = ("unet.nuclei_bbbc007", "unet.fashion_scenes")


def measure(name, batches, scenes):
    from kerasseg import zoo
    from kerasseg.training import batch_norm
    from kerasseg.training import builders
    from kerasseg.zoo import evaluate as zoo_evaluate

    record, config = entry_and_config(name, scenes)
    model = zoo.load(name)
    rows = []
    for statistics in ("as shipped", "recalibrated"):
        if statistics == "recalibrated":
            train = builders.dataset(config, "train", seed=12345)
            batch_norm.recalibrate(
                model, (x for x, *_ in train.repeat().take(batches))
            )
        result = builders.evaluate(
            config,
            model,
            zoo_evaluate.held_out(config),
            class_names=list(record["class_names"]),
        )
        rows.append(
            {
                "entry": name,
                "statistics": statistics,
                "batches": batches if statistics == "recalibrated" else 0,
                "mean_iou": result["mean"]["iou"],
                "mean_dice": result["mean"]["dice"],
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def table(rows):
    lines = [
        "| entry | BatchNorm statistics | held-out mean IoU | mean Dice |",
        "|---|---|---|---|",
    ]
    for row in rows:
        what = row["statistics"]
        if row["batches"]:
            what += f" ({row['batches']} batches)"
        lines.append(
            f"| {row['entry']} | {what} | {row['mean_iou']:.4f} | "
            f"{row['mean_dice']:.4f} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="benchmarks/batch_norm.py")
    parser.add_argument("--entries", nargs="+", default=list(DEFAULT_ENTRIES))
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--scenes", type=int, default=800)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    rows = [
        row
        for name in args.entries
        for row in measure(name, args.batches, args.scenes)
    ]
    report("BatchNorm recalibration", table(rows), rows, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
