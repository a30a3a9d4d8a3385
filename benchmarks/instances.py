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
a `.keras` file. A model with a "distance" output
(`multitask_unet(distance=True)`, e.g. a run of
benchmarks/recipes/distance_nuclei/config.yaml) gets one more row: the
watershed on its predicted distance map, its h (in the map's normalized
units) chosen on the training images the same way.
"""

import argparse
import sys

import numpy as np
from _report import report
from PIL import Image
from robustness import load
from robustness import predicted

H_CHOICES = (0.5, 1.0, 1.5, 2.0, 3.0)
# Seed heights on a predicted distance map, whose objects peak at 1.
DISTANCE_H_CHOICES = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5)


def read(split):
    from kerasseg.data.datasets import nuclei_pairs

    return [
        (np.asarray(Image.open(i).convert("L")), np.asarray(Image.open(t)))
        for i, t in nuclei_pairs(split, target="instances")
    ]


def scores_of(masks, truths, method, h, sigma=None, distances=None):
    from kerasseg import instance_metrics
    from kerasseg import postprocess

    scores = instance_metrics.InstanceScores()
    if sigma is None:  # kerasseg's defaults for each kind of map
        sigma = 1.0 if distances is None else postprocess.PREDICTED_SIGMA
    distances = distances or [None] * len(masks)
    for mask, truth, distance in zip(masks, truths, distances):
        found, _ = postprocess.instances(
            mask.astype("uint8"),
            method=method,
            h=h,
            sigma=sigma,
            distance=distance,
        )
        scores.update(truth, found)
    return scores.result()


def best_h(choices, masks, truths, distances=None):
    """The h of `choices` with the best watershed F1 at IoU > 0.5 (ties:
    the larger, which splits less), and the F1 of each."""
    f1 = {
        h: scores_of(masks, truths, "watershed", h, distances=distances)[
            "f1@0.5"
        ]
        for h in choices
    }
    return max(choices, key=lambda h: (round(f1[h], 4), h)), f1


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
    train_out = [predicted(model, image) for image, _ in train]
    train_masks = [mask for mask, _ in train_out]
    train_truths = [t for _, t in train]
    h, f1_by_h = best_h(H_CHOICES, train_masks, train_truths)
    print("training images, watershed F1@0.5 by h:", f1_by_h, "→ h =", h)
    has_distance = train_out[0][1] is not None
    if has_distance:
        h_d, f1_by_h_d = best_h(
            DISTANCE_H_CHOICES,
            train_masks,
            train_truths,
            [d for _, d in train_out],
        )
        print(
            "training images, watershed on the predicted distance, F1@0.5 "
            f"by h: {f1_by_h_d} → h = {h_d}"
        )

    test_out = [predicted(model, image) for image, _ in test]
    masks = [mask for mask, _ in test_out]
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
    if has_distance:
        name = f"watershed on the predicted distance, h = {h_d:g}"
        distances = [d for _, d in test_out]
        scores = scores_of(masks, truths, "watershed", h_d, distances=distances)
        rows.append(row(name, scores))
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
