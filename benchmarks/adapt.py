"""How much of a nuclei model's accuracy `kerasseg adapt` (AdaBN) recovers
when the microscope changes, with no labels.

For each shift (benchmarks/robustness.py's transforms), the 11 BBBC007
training images are rendered as that microscope would show them and
given unlabelled to `kerasseg.training.adapt.adapt_batch_norm` (50
batches of 8 crops, what `kerasseg adapt MODEL --images FOLDER` does).
The adapted model is scored on the 3 held-out images rendered the same
way, and on them unchanged (what adapting costs on the training
microscope), beside the model as it was. Each seed draws other crops.

    python benchmarks/adapt.py [--models unet.nuclei_bbbc007 ...]
        [--seeds 0 1 2] [--json out.json]

Nucleus Dice and the watershed objects' F1 at IoU > 0.5 (as in
robustness.py). A benchmark, not a test.
"""

import argparse
import pathlib
import sys
import tempfile
import time

import numpy as np
from _report import report
from PIL import Image
from robustness import MICROSCOPE_B
from robustness import TRANSFORMS
from robustness import load
from robustness import score
from robustness import transform

SHIFTS = {
    "microscope B: gamma 0.5, bg +16, blur 1, noise 3": MICROSCOPE_B,
    "gamma 0.6": TRANSFORMS["gamma 0.6"],
    "gamma 1.6": TRANSFORMS["gamma 1.6"],
    "background +24, noise 4": TRANSFORMS["background +24, noise 4"],
}
UNCHANGED = {"none": TRANSFORMS["none"]}


def _write_shifted(folder, spec):
    """The training images as the shifted microscope renders them."""
    from kerasseg.data.datasets import nuclei_pairs

    folder.mkdir(parents=True)
    for n, (image_path, mask_path) in enumerate(nuclei_pairs("train")):
        image = np.asarray(Image.open(image_path).convert("L"))
        mask = np.asarray(Image.open(mask_path))
        shifted, _ = transform(image, mask, spec, seed=100 + n)
        Image.fromarray(shifted).save(folder / pathlib.Path(image_path).name)


def _spread(values):
    mean = float(np.mean(values))
    if len(values) < 2:
        return f"{mean:.4f}"
    return f"{mean:.4f} ± {float(np.std(values, ddof=1)):.4f}"


def measure(name, seeds, pairs):
    from kerasseg.training.adapt import adapt_batch_norm

    before = {r["transform"]: r for r in score(load(name), pairs)}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for shift, spec in SHIFTS.items():
            folder = pathlib.Path(tmp) / f"shift{len(rows)}"
            _write_shifted(folder, spec)
            runs = []
            for seed in seeds:
                model = load(name)
                start = time.perf_counter()
                adapt_batch_norm(model, str(folder), seed=seed)
                seconds = time.perf_counter() - start
                after = score(model, pairs, {shift: spec, **UNCHANGED})
                runs.append((after[0], after[1], seconds))
            rows.append(
                {
                    "model": name,
                    "shift": shift,
                    "before": before.get(shift)
                    or score(load(name), pairs, {shift: spec})[0],
                    "unchanged_before": before["none"],
                    "adapted": [r[0] for r in runs],
                    "unchanged_adapted": [r[1] for r in runs],
                    "seconds": [round(r[2], 1) for r in runs],
                }
            )
            print(rows[-1], flush=True)
    return rows


def table(rows, seeds):
    n = len(seeds)
    lines = [
        "| model | shift | Dice, as trained | Dice, adapted "
        f"(mean ± sd, {n}) | F1, as trained | F1, adapted | Dice unshifted, "
        "as trained → adapted | adapting s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        dice = [a["nucleus Dice"] for a in r["adapted"]]
        f1 = [a["F1, watershed"] for a in r["adapted"]]
        unchanged = [a["nucleus Dice"] for a in r["unchanged_adapted"]]
        lines.append(
            f"| {r['model']} | {r['shift']} | {r['before']['nucleus Dice']:.4f}"
            f" | {_spread(dice)} | {r['before']['F1, watershed']:.4f} "
            f"| {_spread(f1)} "
            f"| {r['unchanged_before']['nucleus Dice']:.4f} → "
            f"{_spread(unchanged)} | {np.mean(r['seconds']):.0f} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["unet.nuclei_bbbc007"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    from kerasseg.data.datasets import nuclei_pairs

    pairs = [
        (np.asarray(Image.open(i).convert("L")), np.asarray(Image.open(m)))
        for i, m in nuclei_pairs("test", target="instances")
    ]
    rows = [r for name in args.models for r in measure(name, args.seeds, pairs)]
    report("kerasseg adapt (AdaBN)", table(rows, args.seeds), rows, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
