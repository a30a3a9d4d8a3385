"""Object-level scores of instance label images, accumulated over a dataset.

A predicted object matches a true object of the same class when their
IoU exceeds a threshold; above 0.5 a match is unique (two objects cannot
both overlap one by more than half of their union). At each threshold t:

- TP: matched pairs; FP: predicted objects unmatched; FN: true objects
  unmatched. Precision TP/(TP+FP), recall TP/(TP+FN), F1
  2TP/(2TP+FP+FN), summed over the dataset before dividing.
- Data Science Bowl 2018 score: per image, the mean over thresholds
  0.5, 0.55, …, 0.95 of TP/(TP+FP+FN); then the mean over images (an
  image with no object on either side scores 1).
- Panoptic quality (Kirillov et al., 2019) at IoU > 0.5, per class over
  the dataset: SQ = mean IoU of the matches, RQ = TP/(TP + FP/2 + FN/2),
  PQ = SQ·RQ; the reported PQ is the mean over classes present.

NumPy code, run on label images after the model (see
`kerasseg.postprocess.instances`).
"""

import numpy as np

# The Data Science Bowl 2018 thresholds.
DSB_THRESHOLDS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))


def iou_matrix(truth, predicted):
    """IoU of every (true object, predicted object) pair.

    Args:
        truth, predicted: (H, W) integer label images, 0 = no object.

    Returns:
        `(iou, true_ids, predicted_ids)`: a (n_true, n_predicted) float
        array and the label values of its rows and columns.
    """
    truth, predicted = np.asarray(truth), np.asarray(predicted)
    if truth.shape != predicted.shape or truth.ndim != 2:
        raise ValueError(
            "`truth` and `predicted` must be 2-D label images of one shape. "
            f"Received shapes {truth.shape} and {predicted.shape}."
        )
    t_ids, t = np.unique(truth, return_inverse=True)
    p_ids, p = np.unique(predicted, return_inverse=True)
    inter = np.bincount(
        t.ravel() * p_ids.size + p.ravel(), minlength=t_ids.size * p_ids.size
    ).reshape(t_ids.size, p_ids.size)
    t_area, p_area = inter.sum(1), inter.sum(0)
    union = t_area[:, None] + p_area[None, :] - inter
    iou = inter / np.maximum(union, 1)
    keep_t, keep_p = t_ids != 0, p_ids != 0
    return iou[keep_t][:, keep_p], t_ids[keep_t], p_ids[keep_p]


class InstanceScores:
    """Streaming object-level precision, recall, F1, DSB score and PQ.

    >>> scores = kerasseg.instance_metrics.InstanceScores()
    >>> truth = np.zeros((8, 8), int); truth[1:4, 1:4] = 1; truth[5:8, 5:8] = 2
    >>> scores.update(truth, truth)
    >>> scores.result()["f1@0.5"], scores.result()["pq"]
    (1.0, 1.0)
    """

    def __init__(self, thresholds=DSB_THRESHOLDS):
        thresholds = tuple(float(t) for t in thresholds)
        if not thresholds or min(thresholds) < 0.5 or max(thresholds) >= 1:
            raise ValueError(
                "`thresholds` must be IoU values in [0.5, 1) (below 0.5 a "
                f"match is not unique). Received: {thresholds}"
            )
        self.thresholds = thresholds
        self.reset()

    def reset(self):
        n = len(self.thresholds)
        self.tp, self.fp, self.fn = (np.zeros(n, np.int64) for _ in range(3))
        self.image_scores = []
        # Per class: [TP, FP, FN, sum of matched IoU] at IoU > 0.5.
        self.panoptic = {}

    def update(
        self, truth, predicted, truth_classes=None, predicted_classes=None
    ):
        """Adds one image: label images and, for several classes, each
        label's class (`classes[label]`, as `postprocess.instances`
        returns); without them every object is of one class."""
        iou, t_ids, p_ids = iou_matrix(truth, predicted)
        t_cls = _classes_of(t_ids, truth_classes, "truth_classes")
        p_cls = _classes_of(p_ids, predicted_classes, "predicted_classes")
        iou = np.where(t_cls[:, None] == p_cls[None, :], iou, 0.0)
        n_t, n_p = iou.shape
        per_threshold = []
        for i, t in enumerate(self.thresholds):
            tp = int((iou > t).sum())
            self.tp[i] += tp
            self.fp[i] += n_p - tp
            self.fn[i] += n_t - tp
            total = n_t + n_p - tp
            per_threshold.append(tp / total if total else 1.0)
        self.image_scores.append(float(np.mean(per_threshold)))
        matched = iou > 0.5
        for c in np.union1d(t_cls, p_cls):
            rows, cols = t_cls == c, p_cls == c
            m = matched[rows][:, cols]
            tp = int(m.sum())
            entry = self.panoptic.setdefault(int(c), [0, 0, 0, 0.0])
            entry[0] += tp
            entry[1] += int(cols.sum()) - tp
            entry[2] += int(rows.sum()) - tp
            entry[3] += float(iou[rows][:, cols][m].sum())

    def result(self):
        """A dict: `precision@t`, `recall@t`, `f1@t` per threshold,
        `dsb_score`, `pq`, `sq`, `rq` (means over classes) and
        `pq_per_class`."""
        out = {}
        for i, t in enumerate(self.thresholds):
            tp, fp, fn = self.tp[i], self.fp[i], self.fn[i]
            out[f"precision@{t:g}"] = _ratio(tp, tp + fp)
            out[f"recall@{t:g}"] = _ratio(tp, tp + fn)
            out[f"f1@{t:g}"] = _ratio(2 * tp, 2 * tp + fp + fn)
        out["dsb_score"] = (
            float(np.mean(self.image_scores)) if self.image_scores else 0.0
        )
        per_class = {}
        for c, (tp, fp, fn, iou_sum) in sorted(self.panoptic.items()):
            sq = iou_sum / tp if tp else 0.0
            rq = _ratio(tp, tp + 0.5 * fp + 0.5 * fn)
            per_class[c] = {"pq": sq * rq, "sq": sq, "rq": rq}
        for key in ("pq", "sq", "rq"):
            values = [v[key] for v in per_class.values()]
            out[key] = float(np.mean(values)) if values else 0.0
        out["pq_per_class"] = per_class
        return out


def _ratio(a, b):
    return float(a / b) if b else 0.0


def _classes_of(ids, classes, name):
    if classes is None:
        return np.ones(ids.size, np.int64)
    classes = np.asarray(classes)
    if ids.size and ids.max() >= classes.size:
        raise ValueError(
            f"`{name}` has {classes.size} entries (one per label, from 0) "
            f"but the label image holds label {int(ids.max())}."
        )
    return classes[ids].astype(np.int64)
