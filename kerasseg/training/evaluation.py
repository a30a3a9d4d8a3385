"""Evaluation: dataset-level scores and a per-class table."""

import math

import numpy as np

from kerasseg import _files
from kerasseg import metrics as metrics_module

COLUMNS = ("iou", "dice", "precision", "recall")


def evaluate(model, dataset, metric, *, class_names=None):
    """Scores a model on a dataset of `(image, mask)` batches.

    Args:
        model: a segmentation `keras.Model`.
        dataset: `(image, mask)` batches (any sizes the model takes).
        metric: a fresh kerasseg confusion-matrix metric (its mode,
            classes and `ignore_index` say how to read the masks).
        class_names: names for the table's rows.

    Returns:
        A dict: `classes` (one row per class: iou, dice, precision,
        recall, support), `mean` (the mean of each score over the classes
        present), `pixel_accuracy` and `pixels`.
    """
    metric.reset_state()
    for images, masks in dataset:
        metric.update_state(masks, model.predict_on_batch(images))
    confusion = np.asarray(metric.confusion)
    rows = metrics_module.per_class_table(confusion, class_names)
    mean = {}
    for column in COLUMNS:
        values = [r[column] for r in rows if not math.isnan(r[column])]
        mean[column] = round(float(np.mean(values)), 4) if values else math.nan
    if confusion.ndim == 2:
        total = confusion.sum()
        accuracy = float(np.trace(confusion) / max(total, 1))
    else:
        total = confusion[0].sum()
        accuracy = float(
            (confusion[:, 0, 0] + confusion[:, 1, 1]).sum()
            / max(confusion.sum(), 1)
        )
    return {
        "classes": rows,
        "mean": mean,
        "pixel_accuracy": round(accuracy, 4),
        "pixels": int(total),
    }


def evaluate_reconstruction(model, dataset, *, max_value=255.0):
    """Scores a reconstruction model on `(image, image)` batches.

    Returns:
        A dict: `mse` and `mae` (over every pixel and channel), `psnr`
        (dB, the mean over images of each image's PSNR, as
        `kerasseg.metrics.PSNR`) and `images`.
    """
    psnr = metrics_module.PSNR(max_value=max_value)
    squared = absolute = values = images_seen = 0
    for images, targets in dataset:
        output = np.asarray(model.predict_on_batch(images), "float64")
        error = output - np.asarray(targets, "float64")
        squared += float(np.sum(error**2))
        absolute += float(np.sum(np.abs(error)))
        values += error.size
        images_seen += error.shape[0]
        psnr.update_state(targets, output)
    return {
        "mse": round(squared / max(values, 1), 4),
        "mae": round(absolute / max(values, 1), 4),
        "psnr": round(float(psnr.result()), 4),
        "images": images_seen,
    }


def table(result):
    """The evaluation as a markdown table, means last."""
    if "psnr" in result:  # a reconstruction's scores
        return "\n".join(
            [
                "| images | MSE | MAE | PSNR (dB) |",
                "|---|---|---|---|",
                f"| {result['images']} | {result['mse']:.4f} | "
                f"{result['mae']:.4f} | {result['psnr']:.2f} |",
            ]
        )
    header = "| class | IoU | Dice | precision | recall | pixels |"
    lines = [header, "|---|---|---|---|---|---|"]

    def fmt(value):
        return "—" if math.isnan(value) else f"{value:.4f}"

    for row in result["classes"]:
        scores = " | ".join(fmt(row[c]) for c in COLUMNS)
        lines.append(f"| {row['class']} | {scores} | {row['support']} |")
    means = " | ".join(fmt(result["mean"][c]) for c in COLUMNS)
    lines.append(f"| **mean** | {means} | {result['pixels']} |")
    lines.append("")
    lines.append(f"Pixel accuracy: {result['pixel_accuracy']:.4f}")
    return "\n".join(lines)


def save(result, path_json, path_md):
    """Writes the result as JSON and its table as markdown, atomically."""
    _files.write_json(path_json, result)
    _files.write_text(path_md, table(result) + "\n")
