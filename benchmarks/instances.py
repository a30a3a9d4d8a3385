"""Nuclei as objects: what the watershed changes against plain connected
components, on the BBBC007 images' true instance labels.

1. The watershed's seed height h is chosen on the 11 training images (the
   h with the best F1 at IoU > 0.5; ties go to the larger h, which splits
   less).
2. On the 3 held-out images, the predicted mask is cut into objects by
   connected components and by the watershed at that h, and scored with
   `kerasseg.instance_metrics` (F1 at IoU > 0.5 and 0.75, the Data Science
   Bowl 2018 score, panoptic quality) and `kerasseg.boundary_metrics`
   (boundary F1 at 2 px, HD95, on the semantic mask: the same for both).
   The training images' true binary masks are cut and scored too: what a
   perfect semantic mask reaches without a split, and with the watershed
   with and without its smoothing of the distance map.

    python benchmarks/instances.py [MODEL] [--json out.json]

MODEL is a zoo entry name (default unet.nuclei_bbbc007), a run folder or
a `.keras` file.
"""

import argparse
import sys

import numpy as np
from _report import report
from PIL import Image
from robustness import load
from robustness import nucleus

H_CHOICES = (0.5, 1.0, 1.5, 2.0, 3.0)


def read(split):
    from kerasseg.data.datasets import nuclei_pairs

    return [
        (np.asarray(Image.open(i).convert("L")), np.asarray(Image.open(t)))
        for i, t in nuclei_pairs(split, target="instances")
    ]


def scores_of(masks, truths, method, h, sigma=1.0):
    from kerasseg import instance_metrics
    from kerasseg import postprocess

    scores = instance_metrics.InstanceScores()
    for mask, truth in zip(masks, truths):
        found, _ = postprocess.instances(
            mask.astype("uint8"), method=method, h=h, sigma=sigma
        )
        scores.update(truth, found)
    return scores.result()


def row(name, r):
    return {
        "objects from": name,
        "F1@0.5": round(r["f1@0.5"], 4),
        "F1@0.75": round(r["f1@0.75"], 4),
        "DSB score": round(r["dsb_score"], 4),
        "PQ": round(r["pq"], 4),
        "precision@0.5": round(r["precision@0.5"], 4),
        "recall@0.5": round(r["recall@0.5"], 4),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", default="unet.nuclei_bbbc007")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    from kerasseg.boundary_metrics import BoundaryScores

    model = load(args.model)
    train, test = read("train"), read("test")
    train_masks = [nucleus(model, image) for image, _ in train]
    f1_by_h = {
        h: scores_of(train_masks, [t for _, t in train], "watershed", h)[
            "f1@0.5"
        ]
        for h in H_CHOICES
    }
    h = max(H_CHOICES, key=lambda h: (round(f1_by_h[h], 4), h))
    print("training images, watershed F1@0.5 by h:", f1_by_h, "→ h =", h)

    masks = [nucleus(model, image) for image, _ in test]
    truths = [t for _, t in test]
    boundary = BoundaryScores(num_classes=2, tolerance=2.0)
    for mask, truth in zip(masks, truths):
        boundary.update((truth > 0).astype(int), mask.astype(int))
    b = boundary.result()
    settings = {
        "connected components": ("components", masks),
        f"watershed, h = {h:g}": ("watershed", masks),
    }
    rows = []
    for name, (method, source) in settings.items():
        rows.append(row(name, scores_of(source, truths, method, h)))
    # How the cut itself does on perfect masks: the true labels' binary
    # masks of the 11 training images (1,018 nuclei), no model involved.
    true_masks = [t > 0 for _, t in train]
    for name, method, sigma in (
        (
            "training images' true masks, connected components",
            "components",
            1.0,
        ),
        (f"… watershed, h = {h:g}, distance unsmoothed", "watershed", 0.0),
        (f"… watershed, h = {h:g}", "watershed", 1.0),
    ):
        rows.append(
            row(
                name,
                scores_of(true_masks, [t for _, t in train], method, h, sigma),
            )
        )
    columns = list(rows[0])
    lines = [
        "| " + " | ".join(columns) + " |",
        "|---" * len(columns) + "|",
    ] + ["| " + " | ".join(str(r[c]) for c in columns) + " |" for r in rows]
    lines.append(
        f"\nNucleus boundary F1 at 2 px {b['boundary_f1']:.4f}, boundary IoU "
        f"{b['boundary_iou']:.4f}, HD95 {b['hd95']:.2f} px, ASSD "
        f"{b['assd']:.2f} px ({sum(len(np.unique(t)) - 1 for t in truths)} "
        "true nuclei)."
    )
    rows.append({"boundary": {k: v for k, v in b.items() if k != "per_class"}})
    report(
        f"{args.model} on the BBBC007 test images",
        "\n".join(lines),
        rows,
        args.json,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
