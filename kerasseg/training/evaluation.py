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
    return _segmentation_scores(metric, class_names)


def _segmentation_scores(metric, class_names):
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


def evaluate_multitask(model, dataset, metric, *, class_names=None):
    """Scores a multi-task model's "mask" and "label" outputs.

    Args:
        model: a model whose outputs are a dict with "mask" and "label".
        dataset: `(image, targets)` batches, targets a dict with "mask"
            and "label" (0/1 presence of each class after background).
        metric: as for `evaluate`, for the "mask" output.
        class_names: names of the mask's classes; the labels are the
            classes after background.

    Returns:
        `evaluate`'s dict for the mask, plus `labels`: `accuracy` (of
        every image × label decision, a logit above 0 meaning present),
        `exact_match` (images with every label right) and `per_label`
        (precision, recall, F1 and support of each label).
    """
    metric.reset_state()
    counts = None
    exact = images_seen = 0
    for images, targets in dataset:
        output = model.predict_on_batch(images)
        metric.update_state(targets["mask"], output["mask"])
        truth = np.asarray(targets["label"]) > 0.5
        guess = np.asarray(output["label"]) > 0
        batch = np.stack(
            [
                (truth & guess).sum(0),
                (~truth & guess).sum(0),
                (truth & ~guess).sum(0),
                (~truth & ~guess).sum(0),
            ]
        )
        counts = batch if counts is None else counts + batch
        exact += int((truth == guess).all(axis=1).sum())
        images_seen += truth.shape[0]
    result = _segmentation_scores(metric, class_names)
    names = [row["class"] for row in result["classes"]][1:]
    tp, fp, fn, tn = counts.astype("float64")

    def ratio(a, b):
        return np.where(b > 0, a / np.maximum(b, 1), 0.0)

    precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)
    f1 = ratio(2 * tp, 2 * tp + fp + fn)
    result["labels"] = {
        "accuracy": round(float((tp + tn).sum() / counts.sum()), 4),
        "exact_match": round(exact / max(images_seen, 1), 4),
        "images": images_seen,
        "per_label": {
            name: {
                "precision": round(float(precision[i]), 4),
                "recall": round(float(recall[i]), 4),
                "f1": round(float(f1[i]), 4),
                "support": int(tp[i] + fn[i]),
            }
            for i, name in enumerate(names)
        },
    }
    return result


def label_table(labels):
    """The "label" output's scores as a markdown table."""
    lines = [
        "| label | precision | recall | F1 | images holding it |",
        "|---|---|---|---|---|",
    ]
    for name, row in labels["per_label"].items():
        lines.append(
            f"| {name} | {row['precision']:.4f} | {row['recall']:.4f} | "
            f"{row['f1']:.4f} | {row['support']} |"
        )
    lines += [
        "",
        f"Label accuracy {labels['accuracy']:.4f} (every image × label "
        f"decision); all labels right in {labels['exact_match']:.4f} of "
        f"{labels['images']} images.",
    ]
    return "\n".join(lines)


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


def reconstruction_table(result):
    """A reconstruction's scores (`evaluate_reconstruction`) as markdown."""
    return "\n".join(
        [
            "| images | MSE | MAE | PSNR (dB) |",
            "|---|---|---|---|",
            f"| {result['images']} | {result['mse']:.4f} | "
            f"{result['mae']:.4f} | {result['psnr']:.2f} |",
        ]
    )


def table(result):
    """The evaluation as a markdown table, means last."""
    if "psnr" in result:  # a reconstruction's scores
        return reconstruction_table(result)
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
    if "labels" in result:  # a multi-task model's "label" output
        lines += ["", label_table(result["labels"])]
    return "\n".join(lines)


def save(result, path_json, path_md):
    """Writes the result as JSON and its table as markdown, atomically."""
    _files.write_json(path_json, result)
    _files.write_text(path_md, table(result) + "\n")


# The object and boundary scores `evaluate_objects` reports, in its
# table's order.
OBJECT_COLUMNS = (
    "f1@0.5",
    "precision@0.5",
    "recall@0.5",
    "f1@0.75",
    "dsb_score",
    "pq",
)
BOUNDARY_COLUMNS = ("boundary_f1", "boundary_iou", "hd95", "assd")


def evaluate_objects(
    model, pairs, *, method="watershed", min_size=0, tolerance=2.0, tile=512
):
    """Object-level and boundary scores against instance label images.

    Each image is predicted whole (tiled above `tile` px, as `kerasseg
    predict`), its foreground classes cut into objects by
    `kerasseg.postprocess.instances`, and scored with
    `kerasseg.instance_metrics.InstanceScores` against the true labels;
    the boundary scores (`kerasseg.boundary_metrics`) compare the
    predicted foreground with the labels' foreground (label > 0). For data
    with one object class (e.g. nuclei).

    Args:
        model: a segmentation `keras.Model`.
        pairs: `(image path, instance label image path)` pairs.
        method: "components" or "watershed" (on the model's "distance"
            output where it has one, else on the mask's distance
            transform; `kerasseg.postprocess.seeds`).
        min_size: predicted objects with fewer pixels are dropped.
        tolerance: the boundary scores' tolerance in pixels.

    Returns:
        A dict: `method`, `images`, `objects` (true objects), the
        `OBJECT_COLUMNS` and `BOUNDARY_COLUMNS` scores.
    """
    from PIL import Image

    from kerasseg import boundary_metrics
    from kerasseg import instance_metrics
    from kerasseg import postprocess
    from kerasseg.data.files import read_image
    from kerasseg.training import predict

    check_method = postprocess.METHODS
    if method not in check_method:
        raise ValueError(
            f"`method` must be one of {check_method}; received {method!r}."
        )
    objects = instance_metrics.InstanceScores()
    boundary = boundary_metrics.BoundaryScores(2, tolerance=tolerance)
    images = true_objects = 0
    channels = model.input_shape[-1]
    for image_path, labels_path in pairs:
        truth = np.asarray(Image.open(labels_path))
        if truth.ndim != 2 or not np.issubdtype(truth.dtype, np.integer):
            raise ValueError(
                f"{labels_path}: an instance label image must have one "
                "integer channel (0 = no object, one value per object, "
                f"e.g. a 16-bit PNG); it has shape {truth.shape} of "
                f"{truth.dtype}."
            )
        truth = truth.astype(np.int64)
        image = predict.match_channels(
            read_image(str(image_path)), channels, image_path
        )
        if image.shape[:2] != truth.shape:
            raise ValueError(
                f"{labels_path}: labels of shape {truth.shape} for an image "
                f"of {image.shape[:2]} ({image_path})."
            )
        probs, distance = predict.predict_with_distance(model, image, tile=tile)
        foreground = (predict.class_ids(probs) > 0).astype(np.int64)
        found, _ = postprocess.instances(
            foreground,
            method=method,
            min_size=min_size,
            **postprocess.seeds(distance),
        )
        objects.update(truth, found)
        boundary.update((truth > 0).astype(np.int64), foreground)
        images += 1
        true_objects += len(np.unique(truth)) - 1
    scores = objects.result()
    edges = boundary.result()
    return {
        "method": method,
        "images": images,
        "objects": true_objects,
        **{k: round(scores[k], 4) for k in OBJECT_COLUMNS},
        **{k: round(edges[k], 4) for k in BOUNDARY_COLUMNS},
        "tolerance": tolerance,
    }


def objects_table(result):
    """`evaluate_objects`'s scores as two markdown tables."""
    names = {
        "f1@0.5": "F1 (IoU > 0.5)",
        "precision@0.5": "precision",
        "recall@0.5": "recall",
        "f1@0.75": "F1 (IoU > 0.75)",
        "dsb_score": "DSB 2018 score",
        "pq": "PQ",
        "boundary_f1": f"boundary F1 ({result['tolerance']:g} px)",
        "boundary_iou": "boundary IoU",
        "hd95": "HD95 (px)",
        "assd": "ASSD (px)",
    }
    lines = []
    for columns in (OBJECT_COLUMNS, BOUNDARY_COLUMNS):
        lines += [
            "| " + " | ".join(names[c] for c in columns) + " |",
            "|---" * len(columns) + "|",
            "| " + " | ".join(f"{result[c]:.4f}" for c in columns) + " |",
            "",
        ]
    lines.append(
        f"{result['objects']} true objects in {result['images']} images; "
        f"predicted objects by {result['method']} "
        "(kerasseg.postprocess.instances)."
    )
    return "\n".join(lines)
