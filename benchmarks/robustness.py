"""How a nuclei model holds up when the microscope changes.

The held-out BBBC007 images (never trained on) are transformed the way
images from another lab or microscope differ: background level, gain,
gamma, blur, noise, pixel size (nuclei 0.5× and 2× as large), and all of
these together. Each transformed image is re-quantized to 8 bits and
segmented whole. Reported per transform, over all held-out images:

- pixel Dice of the nucleus class;
- nuclei found: recall at IoU > 0.5 against the true instance labels
  (one label per nucleus, touching nuclei apart), with the predicted mask
  cut into objects by connected components and by the distance-transform
  watershed of `kerasseg.postprocess` (on the model's predicted distance
  map where it has a "distance" output);
- F1 at IoU > 0.5 and panoptic quality of the watershed's objects
  (`kerasseg.instance_metrics`).

    python benchmarks/robustness.py unet.nuclei_bbbc007 runs/quick/model.keras
        [--json out.json]

Models are zoo entry names or `.keras` files. With `--json`, the first
model's table is written in the record format `kerasseg.zoo.publish
--extra` reads.
"""

import argparse
import json
import sys

import numpy as np
from PIL import Image
from scipy import ndimage

# name → (offset, gain, gamma, blur sigma, noise sigma, scale). Offsets and
# noise are in 8-bit grey levels.
TRANSFORMS = {
    "none": (0, 1.0, 1.0, 0.0, 0.0, 1.0),
    "background +16": (16, 1.0, 1.0, 0.0, 0.0, 1.0),
    "background +24, noise 4": (24, 1.0, 1.0, 0.0, 4.0, 1.0),
    "gain 0.5": (0, 0.5, 1.0, 0.0, 0.0, 1.0),
    "gain 1.6": (0, 1.6, 1.0, 0.0, 0.0, 1.0),
    "gamma 0.6": (0, 1.0, 0.6, 0.0, 0.0, 1.0),
    "gamma 1.6": (0, 1.0, 1.6, 0.0, 0.0, 1.0),
    "blur σ=1.5": (0, 1.0, 1.0, 1.5, 0.0, 1.0),
    "noise σ=8": (0, 1.0, 1.0, 0.0, 8.0, 1.0),
    "pixel size ×2 (nuclei 0.5×)": (0, 1.0, 1.0, 0.0, 0.0, 0.5),
    "pixel size ×0.5 (nuclei 2×)": (0, 1.0, 1.0, 0.0, 0.0, 2.0),
    "another microscope: bg +16, gain 0.7, gamma 1.3, blur 1, noise 3, "
    "nuclei 1.5×": (16, 0.7, 1.3, 1.0, 3.0, 1.5),
}

# A microscope the nuclei models were not trained for, as one of the
# transforms above: a display gamma of 0.5, 16 grey levels more
# background, a blur of σ = 1 px and noise of σ = 3 grey levels. The
# domain of the DANN and AdaBN measurements (benchmarks/recipes.py
# dann_nuclei, benchmarks/adapt.py).
MICROSCOPE_B = (16, 1.0, 0.5, 1.0, 3.0, 1.0)


def transform(image, labels, spec, seed):
    """Applies one transform to a uint8 image and its instance labels."""
    offset, gain, gamma, blur, noise, scale = spec
    x = image.astype("float64")
    if scale != 1.0:
        size = (round(x.shape[1] * scale), round(x.shape[0] * scale))
        x = np.asarray(
            Image.fromarray(x.astype("float32")).resize(size, Image.BILINEAR),
            "float64",
        )
        labels = np.asarray(
            Image.fromarray(labels.astype("int32")).resize(size, Image.NEAREST)
        )
    x = 255.0 * (x / 255.0) ** gamma * gain
    if blur:
        x = ndimage.gaussian_filter(x, blur)
    x = x + offset
    if noise:
        x = x + np.random.default_rng(seed).normal(0, noise, x.shape)
    return np.clip(np.round(x), 0, 255).astype("uint8"), labels


def load(name):
    """A zoo entry, a `.keras` file or a run folder."""
    from kerasseg.cli import load_model

    return load_model(name)


def predicted(model, image):
    """The nucleus mask of a grey image and the model's distance map
    (None without a "distance" output), the image predicted whole."""
    from kerasseg.training import predict

    probs, distance = predict.predict_with_distance(
        model, image[..., None].astype("float32"), tile=4096
    )
    return predict.class_ids(probs) == 1, distance


COLUMNS = [
    "nucleus Dice",
    "found, components",
    "found, watershed",
    "F1, watershed",
    "PQ, watershed",
    "nuclei",
]
# The watershed's seed height, chosen on the training images
# (benchmarks/instances.py); the benchmark never tunes on the test split.
WATERSHED_H = 1.0


def score(model, pairs, transforms=None):
    """One row per transform (default: all of TRANSFORMS, by name)."""
    from kerasseg import instance_metrics
    from kerasseg import postprocess

    rows = []
    for name, spec in (transforms or TRANSFORMS).items():
        inter = total = nuclei = 0
        by_method = {
            m: instance_metrics.InstanceScores(thresholds=(0.5,))
            for m in postprocess.METHODS
        }
        for i, (image, labels) in enumerate(pairs):
            x, truth = transform(image, labels, spec, seed=i)
            p, distance = predicted(model, x)
            t = truth > 0
            inter += int((p & t).sum())
            total += int(p.sum() + t.sum())
            nuclei += len(np.unique(truth)) - 1
            for method, scores in by_method.items():
                # A model with a "distance" output splits on it
                # (kerasseg.postprocess.seeds), as kerasseg predict does.
                seeds = postprocess.seeds(distance) or {"h": WATERSHED_H}
                found, _ = postprocess.instances(
                    p.astype("uint8"), method=method, **seeds
                )
                scores.update(truth, found)
        components = by_method["components"].result()
        watershed = by_method["watershed"].result()
        rows.append(
            {
                "transform": name,
                "nucleus Dice": round(2 * inter / max(total, 1), 4),
                "found, components": round(components["recall@0.5"], 4),
                "found, watershed": round(watershed["recall@0.5"], 4),
                "F1, watershed": round(watershed["f1@0.5"], 4),
                "PQ, watershed": round(watershed["pq"], 4),
                "nuclei": nuclei,
            }
        )
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--json", help="write the first model's table")
    args = parser.parse_args(argv)

    from kerasseg.data.datasets import nuclei_pairs
    from kerasseg.zoo.publish import machine

    pairs = [
        (np.asarray(Image.open(i).convert("L")), np.asarray(Image.open(m)))
        for i, m in nuclei_pairs("test", target="instances")
    ]
    tables = {name: score(load(name), pairs) for name in args.models}
    columns = COLUMNS[:-1]
    for name, rows in tables.items():
        print(f"\n{name}\n")
        print("| transform | " + " | ".join(columns) + " |")
        print("|---|" + "---|" * len(columns))
        for row in rows:
            cells = " | ".join(str(row[c]) for c in columns)
            print(f"| {row['transform']} | {cells} |")
    if args.json:
        first = args.models[0]
        section = {
            "robustness": {
                "description": "The 3 held-out BBBC007 images, transformed "
                "as images from other microscopes differ, re-quantized to "
                "8 bits and segmented whole. Found: the share of true "
                "nuclei (instance labels) matched by a predicted object "
                "with IoU > 0.5, the predicted mask cut into objects by "
                "connected components or by kerasseg.postprocess's "
                f"watershed (h = {WATERSHED_H:g}); F1 and panoptic quality "
                "of the watershed's objects at IoU > 0.5.",
                "command": f"python benchmarks/robustness.py {first}",
                "machine": machine(),
                "columns": COLUMNS,
                "rows": tables[first],
            }
        }
        with open(args.json, "w") as f:
            json.dump(section, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
