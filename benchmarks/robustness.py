"""How a nuclei model holds up when the microscope changes.

The held-out BBBC007 images (never trained on) are transformed the way
images from another lab or microscope differ: background level, gain,
gamma, blur, noise, pixel size (nuclei 0.5× and 2× as large), and all of
these together. Each transformed image is re-quantized to 8 bits and
segmented whole. Reported per transform:

- pixel Dice of the nucleus class over all held-out images;
- objects found: the fraction of ground-truth nuclei (connected
  components of the mask) matched one-to-one by a predicted component with
  IoU ≥ 0.5 (the usual instance-matching criterion);
- split / merged: ground-truth nuclei covered by several predicted
  components / predicted components covering several nuclei.

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


def transform(image, mask, spec, seed):
    """Applies one transform to a uint8 image and its binary mask."""
    offset, gain, gamma, blur, noise, scale = spec
    x = image.astype("float64")
    if scale != 1.0:
        size = (round(x.shape[1] * scale), round(x.shape[0] * scale))
        x = np.asarray(
            Image.fromarray(x.astype("float32")).resize(size, Image.BILINEAR),
            "float64",
        )
        mask = np.asarray(Image.fromarray(mask).resize(size, Image.NEAREST))
    x = 255.0 * (x / 255.0) ** gamma * gain
    if blur:
        x = ndimage.gaussian_filter(x, blur)
    x = x + offset
    if noise:
        x = x + np.random.default_rng(seed).normal(0, noise, x.shape)
    return np.clip(np.round(x), 0, 255).astype("uint8"), mask


def match(truth, predicted):
    """(found, split, merged) counts between two binary masks."""
    gt, n_gt = ndimage.label(truth)
    pr, n_pr = ndimage.label(predicted)
    if n_gt == 0:
        return 0, 0, 0, 0
    # overlap[i, j]: pixels of ground-truth object i in predicted object j.
    overlap = np.zeros((n_gt + 1, n_pr + 1), np.int64)
    np.add.at(overlap, (gt.ravel(), pr.ravel()), 1)
    overlap = overlap[1:, 1:]
    sizes_gt = np.bincount(gt.ravel(), minlength=n_gt + 1)[1:]
    sizes_pr = np.bincount(pr.ravel(), minlength=n_pr + 1)[1:]
    union = sizes_gt[:, None] + sizes_pr[None, :] - overlap
    iou = overlap / np.maximum(union, 1)
    # IoU > 0.5 matches are one-to-one by construction.
    found = int((iou > 0.5).any(1).sum())
    touched = overlap > 0.1 * sizes_gt[:, None]
    split = int((touched.sum(1) > 1).sum())
    big = overlap > 0.1 * sizes_pr[None, :]
    merged = int((big.sum(0) > 1).sum())
    return found, split, merged, n_gt


def load(name):
    """A zoo entry, a `.keras` file or a run folder."""
    from kerasseg.cli import load_model

    return load_model(name)


def nucleus(model, image):
    logits = model.predict_on_batch(image[None, ..., None].astype("float32"))
    logits = np.asarray(logits)[0]
    if logits.shape[-1] == 1:
        return logits[..., 0] > 0
    return logits.argmax(-1) == 1


def score(model, pairs):
    rows = []
    for name, spec in TRANSFORMS.items():
        inter = total = found = split = merged = objects = 0
        for i, (image, mask) in enumerate(pairs):
            x, y = transform(image, mask, spec, seed=i)
            p = nucleus(model, x)
            t = y == 1
            inter += int((p & t).sum())
            total += int(p.sum() + t.sum())
            f, s, m, n = match(t, p)
            found, split, merged, objects = (
                found + f,
                split + s,
                merged + m,
                objects + n,
            )
        rows.append(
            {
                "transform": name,
                "nucleus Dice": round(2 * inter / max(total, 1), 4),
                "objects found": round(found / max(objects, 1), 4),
                "split": split,
                "merged": merged,
                "nuclei": objects,
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
        for i, m in nuclei_pairs("test")
    ]
    tables = {name: score(load(name), pairs) for name in args.models}
    columns = ["nucleus Dice", "objects found", "split", "merged"]
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
                "8 bits and segmented whole. Objects found: ground-truth "
                "nuclei (connected components) matched by a predicted "
                "component with IoU > 0.5; split / merged: nuclei covered "
                "by several predicted components / components covering "
                "several nuclei.",
                "command": f"python benchmarks/robustness.py {first}",
                "machine": machine(),
                "columns": columns + ["nuclei"],
                "rows": tables[first],
            }
        }
        with open(args.json, "w") as f:
            json.dump(section, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
