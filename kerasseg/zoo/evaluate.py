"""Scores of a zoo entry on held-out data: the figures its card reports."""

from kerasseg.zoo import records

# The fast check of the default test run: the first few held-out batches.
SUBSET_BATCHES = 2


def entry_config(record):
    """The entry's training config, resolved (defaults filled in). Its
    `model.encoder_from`, the starting point of its training, is left out:
    the entry's own weights replace it, and the folder it named may not
    exist where the entry is loaded."""
    from kerasseg.training import config as config_module

    raw = record["config"]
    raw = {**raw, "model": {**raw["model"], "encoder_from": None}}
    return config_module.load(raw=raw)


def held_out(config, *, images=None, masks=None, batches=None):
    """The held-out `(image, target)` batches of a config, or of an image
    and mask folder pair (an image folder alone for a reconstruction
    entry); the first `batches` only if given."""
    from kerasseg.training import builders
    from kerasseg.training.config import task_of

    reconstruction = task_of(config) == "reconstruction"
    if images is not None and reconstruction:
        if masks is not None:
            raise ValueError(
                "A reconstruction entry is evaluated on images alone; "
                "pass no masks."
            )
        from kerasseg import data

        dataset = data.from_images(images, batch_size=1, shuffle=False)
        dataset = dataset.map(lambda image, _: (image, image))
    elif images is not None:
        if masks is None:
            raise ValueError("An image folder to evaluate on needs masks.")
        dataset = builders.folder_batches(
            images,
            masks,
            num_classes=config["model"]["num_classes"],
            ignore_index=config["data"]["ignore_index"],
        )
    else:
        dataset = builders.dataset(config, "val")
    return dataset.take(batches) if batches else dataset


def evaluate(name_or_model, *, images=None, masks=None, batches=None):
    """Loads an entry (or takes a loaded entry's model) and scores it on
    its held-out split, or on `images`/`masks` folders.

    Returns:
        The `kerasseg.training.evaluation.evaluate` result dict.
    """
    from kerasseg import zoo
    from kerasseg.training import builders

    if isinstance(name_or_model, str):
        record = records.get(name_or_model)
        model = zoo.load(name_or_model)
    else:
        model = name_or_model
        record = records.get(model.zoo_entry)
    config = entry_config(record)
    result = builders.evaluate(
        config,
        model,
        held_out(config, images=images, masks=masks, batches=batches),
        class_names=list(record["class_names"]),
    )
    pairs = None if images is not None else held_out_instances(config)
    if pairs:
        from kerasseg.training import evaluation

        # One image per batch on a dataset of images of several sizes.
        result["objects"] = evaluation.evaluate_objects(
            model, pairs[:batches] if batches else pairs
        )
    return result


def held_out_instances(config):
    """The held-out `(image, instance labels)` pairs of a config's
    built-in dataset, or None if it has no instance labels."""
    from kerasseg.data import specs

    spec = specs.get(config["data"]["dataset"])
    return spec.instances(spec.splits[1]) if spec else None


def summary(result):
    """The figures a record keeps of an evaluation."""
    if "psnr" in result:  # a reconstruction
        return {k: result[k] for k in ("mse", "mae", "psnr", "images")}
    labels = {}
    if "labels" in result:  # a multi-task model's "label" output
        labels = {
            "label_accuracy": result["labels"]["accuracy"],
            "labels": result["labels"],
        }
    if "objects" in result:  # instance labels: object and boundary scores
        labels["objects"] = result["objects"]
    return {
        **labels,
        "mean_iou": result["mean"]["iou"],
        "mean_dice": result["mean"]["dice"],
        "pixel_accuracy": result["pixel_accuracy"],
        "classes": {
            row["class"]: {
                key: row[key] for key in ("iou", "dice", "precision", "recall")
            }
            for row in result["classes"]
        },
    }
