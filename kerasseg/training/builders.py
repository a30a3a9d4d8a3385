"""From a resolved config to the objects a run needs: data, model, loss,
metrics, optimizer. Pure construction, no training."""

import keras

from kerasseg import _targets
from kerasseg import losses as losses_module
from kerasseg import metrics as metrics_module
from kerasseg import registry
from kerasseg.data import specs as dataset_specs
from kerasseg.training import config as config_module
from kerasseg.training.config import mode_of
from kerasseg.training.config import task_of


def channels(config):
    """Input channels: the config's, else the built-in dataset's, else 3."""
    given = config["model"]["input_channels"]
    spec = dataset_specs.get(config["data"]["dataset"])
    return given or (spec.channels if spec else 3)


def class_names(config):
    """The class names of the config's masks: `data.class_names`, else the
    built-in dataset's for its options, else None (a folder dataset
    without names)."""
    given = config["data"]["class_names"]
    if given is not None:
        return list(given)
    spec = dataset_specs.get(config["data"]["dataset"])
    if spec is None:
        return None
    return list(spec.classes(config["data"]["options"]))


def palette(config, count=None):
    """RGB colours of the config's classes: the built-in dataset's own
    palette where it has one (Cityscapes, VOC, ADE20K), else kerasseg's
    (`kerasseg.training.predict.palette`); `count` colours (default one
    per class)."""
    from kerasseg.training.predict import palette as colours_of

    names = class_names(config)
    if count is None:
        count = len(names) if names else max(config["model"]["num_classes"], 2)
    spec = dataset_specs.get(config["data"]["dataset"])
    return colours_of(count, spec.palette if spec else None)[:count]


def overlay_colours(config):
    """`predict_files`' overlay arguments for the config's dataset: its
    class colours and the class left uncoloured."""
    spec = dataset_specs.get(config["data"]["dataset"])
    return {
        "colours": palette(config),
        "background": spec.background if spec else 0,
    }


def dataset(config, split, *, seed=0, val_batch_size=1):
    """The `(image, target)` batches of a split ("train" or "val").

    The target is the mask, or for a reconstruction model the image itself.
    Training batches are shuffled and augmented with `seed`; validation
    batches are whole images at their own size, `val_batch_size` per batch
    (1 by default, so images may differ in size; a strategy with several
    replicas needs one image per replica), so the metrics are those of
    the full-resolution masks.
    """
    ds = _dataset(config, split, seed=seed, val_batch_size=val_batch_size)
    task = task_of(config)
    if ds is not None and task == "reconstruction":
        ds = ds.map(lambda image, _: (image, image))
    if ds is not None and task == "multitask":
        ds = ds.map(_multitask_targets(config))
    dann = config["train"]["recipe"] == "dann"
    if ds is not None and split == "train" and dann:
        ds = _with_target_images(config, ds, seed)
    return ds


def _with_target_images(config, source, seed):
    """DANN's batches: `({"image": source, "target": target}, mask)`, as
    many unlabelled `data.target_images` (shuffled and augmented like the
    training images, repeated before batching so that every batch is full
    whatever their number) as source images in each batch."""
    import tensorflow as tf

    from kerasseg import data

    cfg, train = config["data"], config["train"]
    target = data.from_images(
        cfg["target_images"],
        image_size=cfg["image_size"],
        augment=_augment(config),
        batch_size=train["batch_size"],
        shuffle=True,
        seed=seed + 1,
        reshuffle=False,
        ignore_index=cfg["ignore_index"],
        cache=cfg["cache"],
        repeat=True,
    )
    have = target.element_spec[0].shape[-1]
    want = source.element_spec[0].shape[-1]
    if have != want:
        raise config_module.ConfigError(
            f"data.target_images={cfg['target_images']!r} holds images of "
            f"{have} channels; the training images have {want}. Give "
            "target images of the same kind (grey or colour)."
        )
    return tf.data.Dataset.zip((source, target)).map(
        lambda pair, other: ({"image": pair[0], "target": other[0]}, pair[1])
    )


def _multitask_targets(config):
    """`(image, mask) -> (image, targets)` for a multi-task model: the
    mask, each class's presence ("label") and the image if it has a
    "reconstruction" output, and for a "distance" output the mask and the
    distance target from the instance labels the pipeline gave in the
    mask's place (config.MULTITASK_OUTPUTS)."""
    import tensorflow as tf

    outputs = config_module.multitask_outputs(config)
    labels = config_module.num_labels(config)
    ignore_index = config["data"]["ignore_index"]

    def targets_of(image, mask):
        distance = None
        if "distance" in outputs:  # the pipeline gave instance labels
            from kerasseg.data import instances

            mask, distance = instances.targets(mask, ignore_index)
        classes = tf.range(1, labels + 1, dtype=mask.dtype)
        hits = tf.equal(mask[..., None], classes)  # (B, H, W, labels)
        targets = {
            "mask": mask,
            "label": tf.cast(tf.reduce_any(hits, axis=(1, 2)), "float32"),
            "reconstruction": image,
            "distance": distance,
        }
        return image, {k: targets[k] for k in outputs}

    return targets_of


def masks_of(dataset):
    """`(image, mask)` batches from `dataset` (a multi-task one's targets
    are a dict holding the mask)."""
    if isinstance(dataset.element_spec[1], dict):
        return dataset.map(lambda image, targets: (image, targets["mask"]))
    return dataset


def _augment(config):
    """`data.augment` as the pipelines take it: a `data.Augment`, True
    (the defaults) or None."""
    from kerasseg import data

    augment = config["data"]["augment"]
    if isinstance(augment, dict):
        return data.Augment(**augment)
    return augment or None


def _dataset(config, split, *, seed, val_batch_size):
    from kerasseg import data

    cfg, train = config["data"], config["train"]
    reconstruction = task_of(config) == "reconstruction"
    classes = 2 if reconstruction else max(config["model"]["num_classes"], 2)
    training = split == "train"
    kwargs = {
        "num_classes": classes,
        "ignore_index": cfg["ignore_index"],
        "cache": cfg["cache"],
    }
    if training:
        kwargs.update(
            image_size=cfg["image_size"],
            augment=_augment(config),
            batch_size=train["batch_size"],
            shuffle=True,
            seed=seed,
            # The run builds a fresh pipeline per epoch with its own seed.
            reshuffle=False,
        )
        if cfg["repeat"]:
            kwargs["repeat"] = True
    else:
        kwargs.update(batch_size=val_batch_size, shuffle=False)
    spec = dataset_specs.get(cfg["dataset"])
    if spec is not None:
        kwargs["num_classes"] = len(spec.classes(cfg["options"]))
        if spec.one_size and not training:
            kwargs["batch_size"] = train["batch_size"]
        split = spec.splits[0 if training else 1]
        if "distance" in _outputs(config):
            return data.instances.load(spec, split, **kwargs, **cfg["options"])
        return spec.load(split, **kwargs, **cfg["options"])
    images = cfg["train_images" if training else "val_images"]
    masks = cfg["train_masks" if training else "val_masks"]
    if images is None:
        return None
    if reconstruction:
        return data.from_images(images, **kwargs)
    return data.from_folders(
        images, masks, mask_suffix=cfg["mask_suffix"], **kwargs
    )


def _outputs(config):
    """The multi-task outputs a config trains ([] for other tasks)."""
    if task_of(config) != "multitask":
        return []
    return config_module.multitask_outputs(config)


def model(config):
    """The registered model, logits out, for the config's channels; its
    encoder starts from `model.encoder_from`'s if the config names one."""
    cfg = config["model"]
    model = registry.build(cfg["name"], **model_args(config))
    if cfg["encoder_from"]:
        from kerasseg.training.transfer import copy_encoder_weights

        copy_encoder_weights(encoder_source(cfg["encoder_from"]), model)
    return model


def model_args(config):
    """The `kerasseg.build` arguments of the config's model (the zoo
    rebuilds an entry's architecture from them)."""
    cfg = config["model"]
    kwargs = {"input_shape": (None, None, channels(config)), **cfg["options"]}
    if cfg["num_classes"] is not None:  # reconstruction models have none
        kwargs["num_classes"] = cfg["num_classes"]
    if task_of(config) == "multitask":
        # The labels kerasseg train teaches: which classes an image holds.
        kwargs["num_labels"] = config_module.num_labels(config)
        kwargs["label_mode"] = "multilabel"
    return kwargs


def encoder_source(source):
    """The model `model.encoder_from` names: a zoo entry, a run folder's
    `model.keras` or a `.keras` file."""
    import os

    from kerasseg.zoo import records

    if source in records.names():
        from kerasseg import zoo

        return zoo.load(source)
    if os.path.isdir(source):
        source = os.path.join(source, "model.keras")
    return keras.saving.load_model(source, safe_mode=True)


def _common(config):
    return _targets.target_args(
        config["model"]["num_classes"],
        mode_of(config),
        config["data"]["ignore_index"],
    )


def loss(config, class_weights=None):
    """The compiled loss; a dict by output for a multi-task model."""
    cfg = config["train"]
    task = task_of(config)
    if task == "reconstruction":
        table = losses_module.RECONSTRUCTION_LOSSES
        return table[cfg["loss"]](**cfg["loss_options"])
    kwargs = {**_common(config), **cfg["loss_options"]}
    if class_weights is not None:
        kwargs["class_weights"] = list(class_weights)
    mask = losses_module.get(cfg["loss"])(**kwargs)
    if task != "multitask":
        return mask
    losses = {
        "mask": mask,
        "label": keras.losses.BinaryCrossentropy(from_logits=True),
        "reconstruction": keras.losses.MeanSquaredError(),
        "distance": keras.losses.MeanSquaredError(),
    }
    return {k: losses[k] for k in config_module.multitask_outputs(config)}


def loss_weights(config):
    """`compile(loss_weights=…)`: None but for a multi-task model."""
    if task_of(config) != "multitask":
        return None
    return config_module.loss_weights(config)


def metrics(config):
    """The compiled metrics, named as in the config (logs: `mean_iou`,
    `val_mean_iou`, …; a multi-task model's are by output, logged as
    `mask_mean_iou`, `label_accuracy`, …)."""
    names = config["train"]["metrics"]
    task = task_of(config)
    if task == "reconstruction":
        table = metrics_module.RECONSTRUCTION_METRICS
        return [table[name](name=name) for name in names]
    mask = [
        metrics_module.get(name)(**_common(config), name=name) for name in names
    ]
    if task != "multitask":
        return mask
    # The label and reconstruction metrics named in MULTITASK_OUTPUTS.
    # Labels are logits: 0 is the probability 0.5.
    made = {
        "accuracy": lambda: keras.metrics.BinaryAccuracy(
            threshold=0.0, name="accuracy"
        ),
        "auc": lambda: keras.metrics.AUC(from_logits=True, name="auc"),
        "mae": lambda: keras.metrics.MeanAbsoluteError(name="mae"),
    }
    return {
        key: mask
        if key == "mask"
        else [
            made[m]() for m in config_module.MULTITASK_OUTPUTS[key]["metrics"]
        ]
        for key in config_module.multitask_outputs(config)
    }


def confusion_metric(config):
    """A metric whose `confusion` feeds the evaluation's per-class table."""
    return metrics_module.MeanIoU(**_common(config), name="confusion")


def evaluate(config, model, dataset, *, class_names=None):
    """Scores `model` on `dataset` as its task asks: the per-class table of
    a segmentation (`evaluation.evaluate`; a multi-task model's also
    scores its labels), or a reconstruction's errors
    (`evaluation.evaluate_reconstruction`)."""
    from kerasseg.training import evaluation

    task = task_of(config)
    if task == "reconstruction":
        return evaluation.evaluate_reconstruction(model, dataset)
    score = evaluation.evaluate
    if task == "multitask":
        score = evaluation.evaluate_multitask
    return score(
        model, dataset, confusion_metric(config), class_names=class_names
    )


def confusion_metric_for(num_classes, *, mode="auto", ignore_index=None):
    """`confusion_metric` for a model of `num_classes` outputs, no config."""
    mode = _targets.mode_for(num_classes, mode)
    return metrics_module.MeanIoU(
        **_targets.target_args(num_classes, mode, ignore_index),
        name="confusion",
    )


def folder_batches(
    images, masks, *, num_classes, ignore_index=None, mask_suffix=""
):
    """Whole-image evaluation batches of an image and a mask folder."""
    from kerasseg import data

    return data.from_folders(
        images,
        masks,
        num_classes=max(num_classes, 2),
        mask_suffix=mask_suffix,
        ignore_index=ignore_index,
        batch_size=1,
        shuffle=False,
    )


def learning_rate(config, steps_per_epoch, stage="whole"):
    """The learning rate (a schedule) of a training stage: the whole run,
    or of a two-stage one (`train.frozen_epochs`) the frozen epochs at
    `train.learning_rate` (with the warmup) or the unfrozen ones at
    `train.unfrozen_learning_rate` (default a tenth of it), each stage's
    schedule spanning its own epochs."""
    cfg = config["train"]
    base = cfg["learning_rate"]
    epochs = cfg["epochs"]
    warmup_epochs = cfg["warmup_epochs"]
    if stage == "frozen":
        epochs = cfg["frozen_epochs"]
    elif stage == "unfrozen":
        base = cfg["unfrozen_learning_rate"] or base / 10
        epochs -= cfg["frozen_epochs"]
        warmup_epochs = 0
    total = epochs * steps_per_epoch
    warmup = warmup_epochs * steps_per_epoch
    if cfg["schedule"] == "constant" and not warmup:
        return base
    decay = max(total - warmup, 1)
    if cfg["schedule"] == "cosine":
        return keras.optimizers.schedules.CosineDecay(
            0.0 if warmup else base,
            decay,
            warmup_target=base if warmup else None,
            warmup_steps=warmup,
        )
    if cfg["schedule"] == "polynomial":
        schedule = keras.optimizers.schedules.PolynomialDecay(
            base, decay, end_learning_rate=0.0, power=0.9
        )
    else:
        schedule = None
    if warmup:
        return _Warmup(base, warmup, schedule)
    return schedule


@keras.saving.register_keras_serializable(package="kerasseg")
class _Warmup(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup to `base`, then `after` (counted from the warmup's
    end) or a constant."""

    def __init__(self, base, warmup_steps, after=None):
        self.base = float(base)
        self.warmup_steps = int(warmup_steps)
        self.after = after

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        ramp = self.base * (step + 1) / self.warmup_steps
        if self.after is None:
            rest = keras.ops.convert_to_tensor(self.base, "float32")
        else:
            rest = self.after(keras.ops.maximum(step - self.warmup_steps, 0))
        return keras.ops.where(step < self.warmup_steps, ramp, rest)

    def get_config(self):
        return {
            "base": self.base,
            "warmup_steps": self.warmup_steps,
            "after": None
            if self.after is None
            else keras.saving.serialize_keras_object(self.after),
        }

    @classmethod
    def from_config(cls, config):
        after = config.get("after")
        if after is not None:
            after = keras.saving.deserialize_keras_object(after)
        return cls(config["base"], config["warmup_steps"], after)


def optimizer(config, steps_per_epoch, stage="whole"):
    cfg = config["train"]
    lr = learning_rate(config, steps_per_epoch, stage)
    if cfg["optimizer"] == "adam":
        return keras.optimizers.Adam(lr)
    if cfg["optimizer"] == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=cfg["weight_decay"])
    return keras.optimizers.SGD(lr, momentum=0.9)
