"""Streaming segmentation metrics from a confusion matrix.

Each metric accumulates a confusion matrix over every batch it sees (the
whole dataset in `evaluate`, the epoch in `fit`) and scores it at the end,
so the numbers are dataset-level, not means of per-batch values.

Arguments shared by every metric (see `kerasseg.losses` for the modes and
label shapes):

    num_classes: K ("binary" counts two classes, background and foreground).
    mode: "binary" | "multiclass" | "multilabel" (default "multiclass").
    from_logits: predictions are logits (default True) or probabilities.
    ignore_index: label value left out of the counts (e.g. 255).
    threshold: probability above which a binary / multi-label prediction
        counts as positive (default 0.5).
    per_class: return a dict with one uniquely named value per class
        (`"{name}_{class}"`) instead of the mean.
    class_names: names used in per-class keys (default: the class index).

Means are over the classes that occur in the labels or the predictions
seen so far; a class absent from both has no defined score, is left out of
the mean (so the mean is never NaN) and reports NaN in `per_class`
results. A class that occurs but makes a ratio 0/0 (precision of a class
never predicted) scores 0, as scikit-learn's `zero_division=0`.

"multilabel" counts each label as its own binary problem: per-label scores
are about that label's positives, and pixel accuracy is over all
(pixel, label) decisions.
"""

import keras
import numpy as np

from kerasseg import _targets
from kerasseg import _validation


def _scores(tp, fp, fn):
    """Per-class scores and presence from true/false positive counts."""
    safe = lambda d: keras.ops.maximum(d, 1.0)  # noqa: E731
    return {
        "iou": tp / safe(tp + fp + fn),
        "dice": 2 * tp / safe(2 * tp + fp + fn),
        "precision": tp / safe(tp + fp),
        "recall": tp / safe(tp + fn),
    }


def _counts(confusion):
    """(tp, fp, fn, total, correct) from a (K, K) or (K, 2, 2) matrix."""
    if len(confusion.shape) == 3:  # per-label [[tn, fp], [fn, tp]]
        tp = confusion[:, 1, 1]
        fp = confusion[:, 0, 1]
        fn = confusion[:, 1, 0]
        correct = keras.ops.sum(tp + confusion[:, 0, 0])
        return tp, fp, fn, keras.ops.sum(confusion), correct
    tp = keras.ops.diagonal(confusion)
    fp = keras.ops.sum(confusion, axis=0) - tp
    fn = keras.ops.sum(confusion, axis=1) - tp
    return tp, fp, fn, keras.ops.sum(confusion), keras.ops.sum(tp)


class _ConfusionMatrixMetric(keras.metrics.Metric):
    """Accumulates the confusion matrix; subclasses pick the score."""

    score = None

    def __init__(
        self,
        num_classes=None,
        mode="multiclass",
        *,
        from_logits=True,
        ignore_index=None,
        threshold=0.5,
        per_class=False,
        class_names=None,
        name=None,
        dtype=None,
    ):
        super().__init__(name=name or self._default_name, dtype=dtype)
        channels = _targets.check_mode(mode, num_classes)
        self.mode = mode
        self.num_classes = num_classes
        self.from_logits = bool(from_logits)
        self.ignore_index = ignore_index
        if not 0.0 < float(threshold) < 1.0:
            raise ValueError(
                "`threshold` must be in (0, 1). "
                f"Received: threshold={threshold!r}"
            )
        self.threshold = float(threshold)
        self.per_class = bool(per_class)
        classes = 2 if mode == "binary" else channels
        if class_names is not None and len(class_names) != classes:
            raise ValueError(
                f"`class_names` needs {classes} names for mode={mode!r}. "
                f"Received: class_names={class_names!r}"
            )
        self.class_names = None if class_names is None else list(class_names)
        shape = (classes, 2, 2) if mode == "multilabel" else (classes, classes)
        # float32 like keras.metrics.MeanIoU: counts stay exact up to 2**24
        # per entry and within 1e-7 relative after that.
        self.confusion = self.add_variable(
            shape, initializer="zeros", dtype="float32", name="confusion"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError(
                f"{self.name} does not take `sample_weight`; use "
                "`ignore_index` to leave pixels out."
            )
        p = _targets.prepare_for(self, y_true, y_pred)
        shape = self.confusion.shape
        if self.mode == "multiclass":
            classes = shape[0]
            predicted = keras.ops.one_hot(
                keras.ops.argmax(p.probs, axis=-1), classes, dtype="float32"
            )
            truth = keras.ops.reshape(p.target * p.valid, (-1, classes))
            update = keras.ops.matmul(
                keras.ops.transpose(truth),
                keras.ops.reshape(predicted, (-1, classes)),
            )
        else:
            positive = keras.ops.cast(p.probs > self.threshold, "float32")
            t, v = p.target, p.valid * keras.ops.ones_like(p.target)
            c = p.target.shape[-1]

            def count(a, b):
                return keras.ops.sum(
                    keras.ops.reshape(a * b * v, (-1, c)), axis=0
                )

            tp, fp = count(t, positive), count(1 - t, positive)
            fn, tn = count(t, 1 - positive), count(1 - t, 1 - positive)
            if self.mode == "binary":
                update = keras.ops.stack(
                    [
                        keras.ops.concatenate([tn, fp]),
                        keras.ops.concatenate([fn, tp]),
                    ]
                )
            else:
                update = keras.ops.reshape(
                    keras.ops.stack([tn, fp, fn, tp], axis=-1), shape
                )
        self.confusion.assign_add(update + p.poison)

    def result(self):
        tp, fp, fn, total, correct = _counts(self.confusion)
        if self.score == "accuracy":
            return correct / keras.ops.maximum(total, 1.0)
        value = _scores(tp, fp, fn)[self.score]
        present = keras.ops.cast(tp + fp + fn > 0, "float32")
        if self.per_class:
            nan = keras.ops.full_like(value, np.nan)
            value = keras.ops.where(present > 0, value, nan)
            names = self.class_names or [str(i) for i in range(tp.shape[0])]
            return {f"{self.name}_{n}": value[i] for i, n in enumerate(names)}
        return keras.ops.sum(value * present) / keras.ops.maximum(
            keras.ops.sum(present), 1.0
        )

    def reset_state(self):
        self.confusion.assign(
            keras.ops.zeros(self.confusion.shape, self.confusion.dtype)
        )

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "mode": self.mode,
            "from_logits": self.from_logits,
            "ignore_index": self.ignore_index,
            "threshold": self.threshold,
            "per_class": self.per_class,
            "class_names": self.class_names,
        }


@keras.saving.register_keras_serializable(package="kerasseg.metrics")
class MeanIoU(_ConfusionMatrixMetric):
    """Intersection over union, TP / (TP + FP + FN), averaged over classes
    (or per class with `per_class=True`).

    Example:

    >>> metric = kerasseg.metrics.MeanIoU(num_classes=3, ignore_index=255)
    >>> labels = np.array([[0, 1, 2, 255]])
    >>> logits = np.eye(3)[[[0, 1, 1, 2]]]      # one pixel wrong
    >>> metric.update_state(labels, logits)
    >>> round(float(metric.result()), 4)        # (1 + 1/2 + 0) / 3
    0.5
    """

    score, _default_name = "iou", "mean_iou"


@keras.saving.register_keras_serializable(package="kerasseg.metrics")
class Dice(_ConfusionMatrixMetric):
    """Dice / F1 score, 2 TP / (2 TP + FP + FN), averaged over classes."""

    score, _default_name = "dice", "dice"


@keras.saving.register_keras_serializable(package="kerasseg.metrics")
class Precision(_ConfusionMatrixMetric):
    """Precision, TP / (TP + FP), averaged over classes."""

    score, _default_name = "precision", "precision"


@keras.saving.register_keras_serializable(package="kerasseg.metrics")
class Recall(_ConfusionMatrixMetric):
    """Recall, TP / (TP + FN), averaged over classes."""

    score, _default_name = "recall", "recall"


@keras.saving.register_keras_serializable(package="kerasseg.metrics")
class PixelAccuracy(_ConfusionMatrixMetric):
    """Fraction of (non-ignored) pixels classified correctly."""

    score, _default_name = "accuracy", "pixel_accuracy"


# === Metrics by name ===
# The one table of metric names: `kerasseg train` configs (`train.metrics`)
# and `get` read it.
METRICS = {
    "mean_iou": MeanIoU,
    "dice": Dice,
    "precision": Precision,
    "recall": Recall,
    "pixel_accuracy": PixelAccuracy,
}


def get(name):
    """The metric class registered as `name` (a key of `METRICS`).

    Example:

    >>> kerasseg.metrics.get("mean_iou").__name__
    'MeanIoU'
    """
    return _validation.from_table(
        METRICS, name, kind="metric", plural="Metrics"
    )


# === Reconstruction metrics ===


@keras.saving.register_keras_serializable(package="kerasseg.metrics")
class PSNR(keras.metrics.Metric):
    """Peak signal-to-noise ratio of reconstructions, in dB, averaged over
    images: `10 log10(max_value² / MSE)` of each image, then the mean.

    Args:
        max_value: the largest pixel value (255 for 8-bit images, the
            scale kerasseg pipelines give).
        name: the metric's name.

    Example:

    >>> metric = kerasseg.metrics.PSNR(max_value=255.0)
    >>> images = np.full((2, 4, 4, 1), 100.0)
    >>> metric.update_state(images, images + 5.0)  # MSE 25 in each image
    >>> round(float(metric.result()), 2)           # 10 log10(255² / 25)
    34.15
    """

    def __init__(self, max_value=255.0, name="psnr", **kwargs):
        super().__init__(name=name, **kwargs)
        self.max_value = _validation.non_negative("max_value", max_value)
        if self.max_value == 0:
            raise ValueError(
                f"`max_value` must be > 0. Received: max_value={max_value}"
            )
        self.total = self.add_variable((), initializer="zeros", name="total")
        self.count = self.add_variable((), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError("PSNR does not take `sample_weight`.")
        y_true = keras.ops.cast(y_true, "float32")
        y_pred = keras.ops.cast(y_pred, "float32")
        axes = tuple(range(1, len(y_true.shape)))
        mse = keras.ops.mean(keras.ops.square(y_true - y_pred), axis=axes)
        # Identical images would be infinite: capped at 1e-10 MSE.
        psnr = (
            10.0
            * keras.ops.log(self.max_value**2 / keras.ops.maximum(mse, 1e-10))
            / np.log(10.0)
        )
        self.total.assign_add(keras.ops.sum(psnr))
        self.count.assign_add(
            keras.ops.cast(keras.ops.shape(psnr)[0], "float32")
        )

    def result(self):
        return self.total / keras.ops.maximum(self.count, 1.0)

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value}


# Metrics of models that output their input (autoencoders); `kerasseg
# train` reads this table for reconstruction models.
RECONSTRUCTION_METRICS = {
    "mae": keras.metrics.MeanAbsoluteError,
    "mse": keras.metrics.MeanSquaredError,
    "psnr": PSNR,
}


def per_class_table(confusion, class_names=None):
    """Per-class IoU, Dice, precision, recall and support from a confusion
    matrix, for evaluation reports.

    Args:
        confusion: a `(K, K)` matrix (rows: true class, columns: predicted)
            or a `(K, 2, 2)` stack of per-label `[[tn, fp], [fn, tp]]`, e.g.
            `np.asarray(metric.confusion)` of any kerasseg metric.
        class_names: optional names, one per class.

    Returns:
        A list of dicts, one per class: `class`, `iou`, `dice`,
        `precision`, `recall` (NaN for a class absent from labels and
        predictions) and `support` (labelled pixels).

    Example:

    >>> rows = kerasseg.metrics.per_class_table(
    ...     np.array([[3, 1], [0, 2]]), ["sky", "tree"])
    >>> tree = rows[1]
    >>> tree["class"], tree["iou"], tree["support"]
    ('tree', 0.6667, 2)
    """
    confusion = np.asarray(confusion, "float64")
    if confusion.ndim == 3:
        tp, fp, fn = confusion[:, 1, 1], confusion[:, 0, 1], confusion[:, 1, 0]
    else:
        tp = np.diag(confusion)
        fp, fn = confusion.sum(0) - tp, confusion.sum(1) - tp
    names = class_names or [str(i) for i in range(len(tp))]
    scores = {k: np.asarray(v) for k, v in _scores(tp, fp, fn).items()}
    rows = []
    for i, name in enumerate(names):
        present = tp[i] + fp[i] + fn[i] > 0
        row = {"class": name}
        for key, values in scores.items():
            row[key] = round(float(values[i]), 4) if present else float("nan")
        row["support"] = int(tp[i] + fn[i])
        rows.append(row)
    return rows
