"""Boundary scores of class masks, per class, accumulated over a dataset.

The contour of a class in an image is its pixels with a 4-neighbour
outside the class; the image border counts as outside (as MONAI and the
DeepMind surface-distance code count it). Distances are Euclidean, in
pixels times `spacing`, from each contour pixel of one mask to the
nearest contour pixel of the other.

- Boundary F-score at tolerance τ: precision = the share of predicted
  contour pixels within τ of the true contour, recall the converse, F =
  2PR/(P+R); counts summed over the dataset.
- Surface Dice at τ (Nikolov et al., 2021, on pixel counts): contour
  pixels of both masks within τ of the other's, over all contour pixels.
- Boundary IoU (Cheng et al., 2021): IoU of the two masks' inner bands,
  the pixels of each mask within `band` of its contour (default 2 % of
  the image diagonal, as in the paper); intersections and unions summed
  over the dataset.
- HD95: per image, the larger of the two directed 95th percentiles of
  contour distances (MONAI's convention); ASSD: the mean of all contour
  distances of both directions. Both are means over the images in which
  the class is present in both masks; `undefined` counts the images in
  which it is present in only one.

Pixels at `ignore_index` belong to no class. NumPy/SciPy code run on
masks after the model.
"""

import numpy as np
from scipy import ndimage

_KEYS = (
    "boundary_f1",
    "boundary_precision",
    "boundary_recall",
    "surface_dice",
    "boundary_iou",
    "hd95",
    "assd",
)
_FOUR = ndimage.generate_binary_structure(2, 1)


def contour(mask):
    """Pixels of a binary mask with a 4-neighbour outside it (the image
    border counts as outside)."""
    mask = np.asarray(mask, dtype=bool)
    return mask & ~ndimage.binary_erosion(mask, _FOUR, border_value=0)


def _distance_to(points, spacing):
    """Distance of every pixel to the nearest `True` of `points`."""
    if not points.any():
        return np.full(points.shape, np.inf)
    return ndimage.distance_transform_edt(~points, sampling=spacing)


def _inner_band(mask, band, spacing):
    # Distance to the nearest pixel outside the mask, the image border
    # being outside: pad with background first.
    padded = np.pad(mask, 1)
    inside = ndimage.distance_transform_edt(padded, sampling=spacing)[
        1:-1, 1:-1
    ]
    return mask & (inside <= band)


class BoundaryScores:
    """Streaming boundary F-score, surface Dice, boundary IoU, HD95, ASSD.

    Args:
        num_classes: the classes are 0…num_classes-1.
        classes: the classes scored; default all but class 0 (background).
        tolerance: τ of the F-score and surface Dice, in `spacing` units.
        band: boundary IoU's band width; default 2 % of the diagonal.
        ignore_index: a label value that belongs to no class.
        spacing: (row, column) pixel size.

    >>> scores = kerasseg.boundary_metrics.BoundaryScores(2, tolerance=1)
    >>> truth = np.zeros((9, 9), int); truth[2:7, 2:7] = 1
    >>> scores.update(truth, truth)
    >>> scores.result()["boundary_f1"]
    1.0
    """

    def __init__(
        self,
        num_classes,
        classes=None,
        tolerance=2.0,
        band=None,
        ignore_index=None,
        spacing=(1.0, 1.0),
    ):
        if not (
            isinstance(num_classes, (int, np.integer)) and num_classes >= 2
        ):
            raise ValueError(
                "`num_classes` must be an integer >= 2. "
                f"Received: {num_classes!r}"
            )
        self.classes = (
            list(range(1, num_classes)) if classes is None else list(classes)
        )
        bad = [c for c in self.classes if not 0 <= c < num_classes]
        if bad:
            raise ValueError(
                f"`classes` must lie in 0…{num_classes - 1}. Received {bad}."
            )
        if not tolerance >= 0:
            raise ValueError(
                f"`tolerance` must be >= 0. Received: {tolerance!r}"
            )
        if band is not None and not band > 0:
            raise ValueError(f"`band` must be > 0. Received: {band!r}")
        self.num_classes = num_classes
        self.tolerance = float(tolerance)
        self.band = band
        self.ignore_index = ignore_index
        self.spacing = tuple(float(s) for s in spacing)
        self.reset()

    def reset(self):
        # Per class: predicted contour pixels near the truth, all predicted
        # contour pixels, true near predicted, all true; band intersection,
        # band union; HD95 and ASSD values; undefined count.
        self.counts = {c: np.zeros(6) for c in self.classes}
        self.hd95 = {c: [] for c in self.classes}
        self.assd = {c: [] for c in self.classes}
        self.undefined = {c: 0 for c in self.classes}

    def update(self, truth, predicted):
        """Adds one (H, W) pair of class masks."""
        truth, predicted = np.asarray(truth), np.asarray(predicted)
        if truth.shape != predicted.shape or truth.ndim != 2:
            raise ValueError(
                "`truth` and `predicted` must be 2-D class masks of one shape. "
                f"Received shapes {truth.shape} and {predicted.shape}."
            )
        valid = (
            np.ones(truth.shape, bool)
            if self.ignore_index is None
            else truth != self.ignore_index
        )
        band = self.band
        if band is None:
            band = 0.02 * float(
                np.hypot(*np.multiply(truth.shape, self.spacing))
            )
        for c in self.classes:
            t = (truth == c) & valid
            p = (predicted == c) & valid
            ct, cp = contour(t), contour(p)
            d_pt = _distance_to(ct, self.spacing)[cp]  # predicted → truth
            d_tp = _distance_to(cp, self.spacing)[ct]
            bt = _inner_band(t, band, self.spacing)
            bp = _inner_band(p, band, self.spacing)
            self.counts[c] += (
                (d_pt <= self.tolerance).sum(),
                cp.sum(),
                (d_tp <= self.tolerance).sum(),
                ct.sum(),
                (bt & bp).sum(),
                (bt | bp).sum(),
            )
            if ct.any() and cp.any():
                self.hd95[c].append(
                    max(np.percentile(d_pt, 95), np.percentile(d_tp, 95))
                )
                self.assd[c].append(
                    (d_pt.sum() + d_tp.sum()) / (d_pt.size + d_tp.size)
                )
            elif ct.any() or cp.any():
                self.undefined[c] += 1

    def result(self):
        """A dict of means over the scored classes (`boundary_f1`,
        `boundary_precision`, `boundary_recall`, `surface_dice`,
        `boundary_iou`, `hd95`, `assd`) and `per_class` of the same."""
        per_class = {}
        for c in self.classes:
            near_p, all_p, near_t, all_t, inter, union = self.counts[c]
            if all_p + all_t == 0:  # absent from every image: not scored
                per_class[c] = dict.fromkeys(_KEYS, float("nan"))
                per_class[c]["undefined"] = 0
                continue
            precision = near_p / all_p if all_p else 0.0
            recall = near_t / all_t if all_t else 0.0
            per_class[c] = {
                "boundary_precision": float(precision),
                "boundary_recall": float(recall),
                "boundary_f1": float(
                    2 * precision * recall / (precision + recall)
                    if precision + recall
                    else 0.0
                ),
                "surface_dice": float(
                    (near_p + near_t) / (all_p + all_t)
                    if all_p + all_t
                    else 0.0
                ),
                "boundary_iou": float(inter / union if union else 0.0),
                "hd95": _mean(self.hd95[c]),
                "assd": _mean(self.assd[c]),
                "undefined": self.undefined[c],
            }
        out = {
            k: _mean([v[k] for v in per_class.values() if not np.isnan(v[k])])
            for k in _KEYS
        }
        out["per_class"] = per_class
        return out


def _mean(values):
    return float(np.mean(values)) if len(values) else float("nan")
