"""Test-time augmentation measured: zoo entries scored on their held-out
data without TTA, with the horizontal flip, with the four flips, with
the eight D4 transforms, and at three scales (0.75, 1, 1.25) alone and
with the horizontal flip (`kerasseg.inference.tta`, inside the graph),
with the time each evaluation took.

    python benchmarks/tta.py [--entries unet.nuclei_bbbc007 ...]
        [--settings none d4 ...] [--scenes 800] [--json out.json]

`--scenes` sets how many held-out scenes a fashion_scenes entry is scored
on (the card uses 3,200; D4 costs eight predictions per image).
"""

import argparse
import json
import sys
import time

from _report import report
from _zoo import entry_and_config

# name → (transforms, scales); transforms None: the model alone.
# "horizontal" keeps garments upright: Fashion-MNIST items never appear
# upside down.
SCALES = (0.75, 1.0, 1.25)
SETTINGS = {
    "none": (None, (1.0,)),
    "horizontal": (["identity", "flip_horizontal"], (1.0,)),
    "flips": ("flips", (1.0,)),
    "d4": ("d4", (1.0,)),
    "scales": (["identity"], SCALES),
    "horizontal+scales": (["identity", "flip_horizontal"], SCALES),
}
DEFAULT_ENTRIES = ("unet.nuclei_bbbc007", "unet.fashion_scenes")


def measure(name, scenes, settings=tuple(SETTINGS)):
    from kerasseg import inference
    from kerasseg import zoo
    from kerasseg.training import builders
    from kerasseg.zoo import evaluate as zoo_evaluate

    record, config = entry_and_config(name, scenes)
    base = zoo.load(name)
    rows = []
    for setting in settings:
        transforms, scales = SETTINGS[setting]
        model = (
            base
            if transforms is None
            else inference.tta(base, transforms, scales=scales)
        )
        data = zoo_evaluate.held_out(config)
        start = time.perf_counter()
        result = builders.evaluate(
            config, model, data, class_names=list(record["class_names"])
        )
        seconds = time.perf_counter() - start
        rows.append(
            {
                "entry": name,
                "tta": setting,
                "mean_iou": result["mean"]["iou"],
                "mean_dice": result["mean"]["dice"],
                "pixel_accuracy": result["pixel_accuracy"],
                "seconds": round(seconds, 1),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def table(rows):
    lines = [
        "| entry | TTA | held-out mean IoU | mean Dice | pixel accuracy "
        "| evaluation s |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['entry']} | {row['tta']} | {row['mean_iou']:.4f} | "
            f"{row['mean_dice']:.4f} | {row['pixel_accuracy']:.4f} | "
            f"{row['seconds']:.1f} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="benchmarks/tta.py")
    parser.add_argument("--entries", nargs="+", default=list(DEFAULT_ENTRIES))
    parser.add_argument(
        "--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS)
    )
    parser.add_argument("--scenes", type=int, default=800)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    rows = [
        row
        for name in args.entries
        for row in measure(name, args.scenes, args.settings)
    ]
    report("Test-time augmentation", table(rows), rows, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
