"""Training configuration: a YAML or TOML file, checked before anything runs.

A config has four sections. Every key has a type and a default (listed in
`DEFAULTS` and in docs/training.md); a file gives only what differs.

```yaml
model: {name: unet_tiny, num_classes: 2}
data: {dataset: nuclei, image_size: [128, 128], augment: true,
       ignore_index: 255}
train: {epochs: 10, batch_size: 8, loss: dice_cross_entropy}
export: {saved_model: true}
```

`load(path, overrides)` reads the file, applies `section.key=value`
overrides (values read as YAML, so `train.epochs=3` is an int), fills in
the defaults and checks everything: an unknown key, a value of the wrong
type or an impossible combination raises `ConfigError` naming the key.
"""

import copy
import difflib
import inspect
import os

import yaml

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

from kerasseg import _targets
from kerasseg import losses as losses_module
from kerasseg import metrics as metrics_module
from kerasseg import registry
from kerasseg.data import specs as dataset_specs
from kerasseg.training import recipes
from kerasseg.training import xla

LOSSES = tuple(losses_module.LOSSES)
METRICS = tuple(metrics_module.METRICS)
DATASETS = (*dataset_specs.DATASETS, "folders")

# What `kerasseg train` trains each task of the registry on: the loss and
# metric names it accepts, and the `train` defaults that differ from
# SCHEMA's (applied where the config does not set the key).
TASKS = {
    "segmentation": {"losses": LOSSES, "metrics": METRICS, "defaults": {}},
    "reconstruction": {
        "losses": tuple(losses_module.RECONSTRUCTION_LOSSES),
        "metrics": tuple(metrics_module.RECONSTRUCTION_METRICS),
        "defaults": {
            "loss": "mse",
            "metrics": ["mae", "psnr"],
            "monitor": "val_loss",
        },
    },
    # `train.loss` and `train.metrics` are the "mask" output's; the "label"
    # output learns which classes an image holds (MULTITASK_OUTPUTS).
    "multitask": {
        "losses": LOSSES,
        "metrics": METRICS,
        "defaults": {"monitor": "val_mask_mean_iou"},
    },
}

# The outputs a multi-task model trains in `kerasseg train`: the target
# each learns, its loss, its metrics (logged as "<output>_<metric>") and
# its default weight in the total loss (`train.loss_weights`).
MULTITASK_OUTPUTS = {
    "mask": {
        "target": "the mask",
        "loss": "train.loss",
        "metrics": "train.metrics",
        "weight": 1.0,
    },
    "label": {
        "target": "which of the classes after background the image holds "
        "(multi-label presence, 0/1 each)",
        "loss": "binary cross-entropy",
        "metrics": ("accuracy", "auc"),
        "weight": 0.2,
    },
    "reconstruction": {
        "target": "the image",
        "loss": "mean squared error",
        "metrics": ("mae",),
        # MSE of 0–255 pixels weighted 1/255²: the MSE of [0, 1] images.
        "weight": 1 / 255**2,
    },
    "distance": {
        "target": "each object's distance to its boundary, 1 at its centre "
        "(kerasseg.postprocess.normalized_distance of the dataset's "
        "instance labels)",
        "loss": "mean squared error",
        "metrics": ("mae",),
        # Its MSE is ~0.01 once learnt: weighted up to count beside the
        # mask's Dice + cross-entropy.
        "weight": 10.0,
    },
}

_INT, _FLOAT, _BOOL, _STR = int, float, bool, str
_ANY_DICT = dict

# section → key → (accepted types or values, default). A tuple of strings
# is a choice; `None` in the types means the key may be null.
SCHEMA = {
    "model": {
        "name": ((_STR,), None),
        "num_classes": ((_INT, None), None),
        "input_channels": ((_INT, None), None),
        "options": ((_ANY_DICT,), {}),
        "encoder_from": ((_STR, None), None),
    },
    "data": {
        "dataset": (DATASETS, "folders"),
        "train_images": ((_STR, None), None),
        "train_masks": ((_STR, None), None),
        "val_images": ((_STR, None), None),
        "val_masks": ((_STR, None), None),
        "mask_suffix": ((_STR,), ""),
        "class_names": ((list, None), None),
        "image_size": ((list, None), None),
        "augment": ((_BOOL, _ANY_DICT), False),
        "ignore_index": ((_INT, None), None),
        "cache": ((_BOOL,), True),
        "repeat": ((_BOOL,), False),
        "options": ((_ANY_DICT,), {}),
        "target_images": ((_STR, None), None),
    },
    "train": {
        "epochs": ((_INT,), 10),
        "batch_size": ((_INT,), 8),
        "steps_per_epoch": ((_INT, None), None),
        "seed": ((_INT,), 0),
        "mode": (("auto", "binary", "multiclass", "multilabel"), "auto"),
        "loss": (
            tuple(name for task in TASKS.values() for name in task["losses"]),
            "dice_cross_entropy",
        ),
        "loss_options": ((_ANY_DICT,), {}),
        "loss_weights": ((_ANY_DICT,), {}),
        "class_weights": ((list, _STR, None), None),
        "metrics": ((list,), ["mean_iou", "dice", "pixel_accuracy"]),
        "monitor": ((_STR,), "val_mean_iou"),
        "optimizer": (("adam", "adamw", "sgd"), "adam"),
        "learning_rate": ((_FLOAT,), 1e-3),
        "weight_decay": ((_FLOAT,), 0.0),
        "schedule": (("constant", "cosine", "polynomial"), "constant"),
        "warmup_epochs": ((_INT,), 0),
        "frozen_epochs": ((_INT,), 0),
        "unfrozen_learning_rate": ((_FLOAT, None), None),
        "jit_compile": (xla.SETTINGS, "auto"),
        "precision": (
            ("float32", "mixed_float16", "mixed_bfloat16"),
            "float32",
        ),
        "strategy": (("default", "mirrored", "multi_worker"), "default"),
        "deterministic": ((_BOOL,), False),
        "batch_norm_recalibration": ((_INT,), 0),
        "recipe": (tuple(recipes.RECIPES), "none"),
        "recipe_options": ((_ANY_DICT,), {}),
        "verbose": ((_INT,), 1),
    },
    "export": {
        "saved_model": ((_BOOL,), True),
        "image_size": ((list, None), None),
    },
}

DEFAULTS = {
    section: {key: copy.deepcopy(spec[1]) for key, spec in keys.items()}
    for section, keys in SCHEMA.items()
}


class ConfigError(ValueError):
    """A configuration that cannot run; the message names the key."""


def _close(name, choices):
    match = difflib.get_close_matches(name, choices, n=1)
    return f" Did you mean {match[0]!r}?" if match else ""


def _type_ok(value, accepted):
    if value is None:
        return None in accepted
    for kind in accepted:
        if kind is None or isinstance(kind, str):
            continue
        if kind is float and isinstance(value, int | float):
            if not isinstance(value, bool):
                return True
        if kind is int and isinstance(value, bool):
            continue
        if isinstance(value, kind):
            return True
    return False


def _describe(accepted):
    names = {
        int: "an integer",
        float: "a number",
        bool: "true/false",
        str: "a string",
        dict: "a mapping",
        list: "a list",
        None: "null",
    }
    return " or ".join(names[kind] for kind in accepted)


def read(path):
    """Reads a YAML (.yaml/.yml) or TOML (.toml) file into a dict."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ConfigError(f"Config file not found: {path}")
    with open(path, "rb") as f:
        data = f.read()
    try:
        if path.endswith(".toml"):
            loaded = tomllib.loads(data.decode())
        elif path.endswith((".yaml", ".yml")):
            loaded = yaml.safe_load(data) or {}
        else:
            raise ConfigError(
                f"{path}: a config is a .yaml, .yml or .toml file."
            )
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path} is not valid: {error}") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: the top level must be a mapping.")
    return loaded


def apply_overrides(config, overrides):
    """Applies `section.key=value` strings (values parsed as YAML)."""
    config = copy.deepcopy(config)
    for item in overrides or ():
        if "=" not in item:
            raise ConfigError(
                f"Override {item!r} must look like section.key=value "
                "(e.g. train.epochs=3)."
            )
        dotted, text = item.split("=", 1)
        parts = dotted.strip().split(".")
        if len(parts) != 2 or not all(parts):
            raise ConfigError(
                f"Override {item!r}: the key must be section.key, one of "
                f"the sections {sorted(SCHEMA)}."
            )
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            value = text
        section, key = parts
        if not isinstance(config.get(section, {}), dict):
            raise ConfigError(f"{section!r} must be a mapping.")
        config.setdefault(section, {})[key] = value
    return config


def resolve(raw):
    """Fills in defaults and checks every key; returns the full config."""
    unknown = [s for s in raw if s not in SCHEMA]
    if unknown:
        raise ConfigError(
            f"Unknown section {unknown[0]!r}.{_close(unknown[0], SCHEMA)} "
            f"Sections: {', '.join(SCHEMA)}."
        )
    config = copy.deepcopy(DEFAULTS)
    for section, values in raw.items():
        if values is None:
            continue
        if not isinstance(values, dict):
            raise ConfigError(f"Section {section!r} must be a mapping.")
        for key, value in values.items():
            where = f"{section}.{key}"
            if key not in SCHEMA[section]:
                raise ConfigError(
                    f"Unknown key {where!r}."
                    f"{_close(key, SCHEMA[section])} Keys of {section!r}: "
                    f"{', '.join(SCHEMA[section])}."
                )
            accepted = SCHEMA[section][key][0]
            if float in accepted and isinstance(value, str):
                # YAML 1.1 reads "1e-3" (no dot) as a string.
                try:
                    value = float(value)
                except ValueError:
                    pass
            if all(isinstance(a, str) for a in accepted):
                if value not in accepted:
                    raise ConfigError(
                        f"{where} must be one of {list(accepted)}; got "
                        f"{value!r}."
                    )
            elif not _type_ok(value, accepted):
                raise ConfigError(
                    f"{where} must be {_describe(accepted)}; got {value!r} "
                    f"({type(value).__name__})."
                )
            if float in accepted and isinstance(value, int):
                value = float(value)
            config[section][key] = value
    task = task_of(config)
    given = raw.get("train") or {}
    for key, value in TASKS.get(task, {"defaults": {}})["defaults"].items():
        if key not in given:
            config["train"][key] = copy.deepcopy(value)
    _check(config)
    return config


def task_of(config):
    """The registry's task of `model.name` ("segmentation",
    "reconstruction", …), or None for a name that is not registered."""
    name = config["model"]["name"]
    if name not in registry.list_models():
        return None
    return registry.get_spec(name).task


def load(path=None, overrides=(), *, raw=None):
    """Reads, overrides, resolves and checks a config.

    Args:
        path: a YAML or TOML file (or None with `raw`).
        overrides: `section.key=value` strings, applied in order.
        raw: a dict to use instead of a file.
    """
    data = read(path) if path is not None else copy.deepcopy(raw or {})
    return resolve(apply_overrides(data, overrides))


def _positive(config, section, key, allow_zero=False):
    value = config[section][key]
    if value is not None and (value < 0 or (value == 0 and not allow_zero)):
        bound = "≥ 0" if allow_zero else "> 0"
        raise ConfigError(f"{section}.{key} must be {bound}; got {value}.")


def _size(config, section, key):
    size = config[section][key]
    if size is None:
        return
    if len(size) != 2 or not all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size
    ):
        raise ConfigError(
            f"{section}.{key} must be [height, width] of positive integers; "
            f"got {size!r}."
        )


def mode_of(config):
    """The loss/metric mode: "binary" for one class, else "multiclass"
    unless `train.mode` says otherwise."""
    return _targets.mode_for(
        config["model"]["num_classes"], config["train"]["mode"]
    )


def _check(config):
    model, data = config["model"], config["data"]
    if model["name"] is None:
        raise ConfigError("model.name is required.")
    _check_encoder_from(model["encoder_from"])
    if model["name"] not in registry.list_models():
        raise ConfigError(
            f"model.name {model['name']!r} is not a registered model."
            f"{_close(model['name'], registry.list_models())} See "
            "`kerasseg models`."
        )
    spec = registry.get_spec(model["name"])
    accepted = set(inspect.signature(spec.builder).parameters) - {
        "input_shape",
        "num_classes",
        *spec.fixed,
    }
    for option in model["options"]:
        if option not in accepted:
            raise ConfigError(
                f"Unknown key 'model.options.{option}' for "
                f"{model['name']!r}.{_close(option, accepted)} Options: "
                f"{', '.join(sorted(accepted))}."
            )
    if model["options"].get("deep_supervision"):
        raise ConfigError(
            "model.options.deep_supervision: `kerasseg train` does not "
            "train the several outputs of a deeply supervised U-Net++ yet; "
            "build it with kerasseg.models.unetplusplus(deep_supervision="
            "True) and fit it in Python (docs/models.md), or remove the "
            "option."
        )
    task = spec.task
    if task not in TASKS:
        raise ConfigError(
            f"model.name {model['name']!r} is a {task} model; `kerasseg "
            f"train` trains {', '.join(TASKS)} models."
        )
    if task == "reconstruction":
        if model["num_classes"] is not None:
            raise ConfigError(
                f"model.num_classes is set, but {model['name']!r} is a "
                "reconstruction model: it outputs its input and has no "
                "classes. Remove model.num_classes."
            )
    elif model["num_classes"] is None:
        raise ConfigError("model.num_classes is required.")
    for section, key in [
        ("model", "num_classes"),
        ("model", "input_channels"),
        ("train", "epochs"),
        ("train", "batch_size"),
        ("train", "steps_per_epoch"),
        ("train", "learning_rate"),
    ]:
        _positive(config, section, key)
    for key in (
        "weight_decay",
        "warmup_epochs",
        "frozen_epochs",
        "batch_norm_recalibration",
    ):
        _positive(config, "train", key, allow_zero=True)
    _size(config, "data", "image_size")
    _size(config, "export", "image_size")
    if data["augment"] and data["image_size"] is None:
        raise ConfigError(
            "data.augment needs data.image_size (the random crop's size)."
        )
    if data["repeat"] and not config["train"]["steps_per_epoch"]:
        raise ConfigError(
            "data.repeat makes the training data endless, so an epoch "
            "needs train.steps_per_epoch (e.g. 12)."
        )
    _check_dataset_options(config)
    if task == "reconstruction":
        _check_reconstruction(config)
    else:
        _check_segmentation(config)
    if task == "multitask":
        _check_multitask(config)
    elif config["train"]["loss_weights"]:
        raise ConfigError(
            "train.loss_weights weighs the outputs of a multi-task model; "
            f"{model['name']!r} is a {task} model with one output."
        )
    _check_train(config, task)
    _check_recipe(config, task)


def _check_recipe(config, task):
    """`train.recipe` and its options (`kerasseg.training.recipes`), and
    what the recipe needs."""
    train, data = config["train"], config["data"]
    recipe = train["recipe"]
    if recipe == "none":
        if train["recipe_options"]:
            raise ConfigError(
                "train.recipe_options sets a recipe's options, but "
                "train.recipe is 'none'. Set train.recipe to one of "
                f"{[r for r in recipes.RECIPES if r != 'none']}."
            )
    elif task != "segmentation":
        raise ConfigError(
            f"train.recipe={recipe!r} trains a segmentation model; "
            f"{config['model']['name']!r} is a {task} model."
        )
    try:
        recipes.check_options(
            recipe, train["recipe_options"], name="train.recipe_options"
        )
    except ValueError as error:
        raise ConfigError(str(error).replace("`", "")) from None
    for key, what in recipes.NEEDS.get(recipe, {}).items():
        section, name = key.split(".")
        if not config[section][name]:
            raise ConfigError(f"train.recipe={recipe!r} needs {key}: {what}.")
    target = data["target_images"]
    if target is not None:
        if recipe != "dann":
            raise ConfigError(
                "data.target_images are the unlabelled target-domain images "
                "of train.recipe='dann'; train.recipe is "
                f"{recipe!r}. Remove data.target_images or set the recipe."
            )
        if not os.path.isdir(target):
            raise ConfigError(f"data.target_images={target!r} is not a folder.")
        if data["image_size"] is None:
            raise ConfigError(
                "data.target_images are batched with the training images, "
                "so they need data.image_size (the size both are cropped "
                "to)."
            )
    if recipe != "none" and train["strategy"] == "multi_worker":
        raise ConfigError(
            f"train.recipe={recipe!r} is not available with "
            "train.strategy='multi_worker' (its loop trains the segmenter "
            "alone); use 'default' or 'mirrored'."
        )


def stage_of(config, epoch):
    """The training stage of a 0-based `epoch`: "frozen" (the encoder
    frozen, during `train.frozen_epochs`), "unfrozen" after them, or
    "whole" when the config has one stage."""
    frozen = config["train"]["frozen_epochs"]
    if not frozen:
        return "whole"
    return "frozen" if epoch < frozen else "unfrozen"


def num_labels(config):
    """Units of a multi-task model's "label" output: one per class after
    background (binary: one, the foreground)."""
    return max(config["model"]["num_classes"], 2) - 1


def multitask_outputs(config):
    """The outputs of the config's multi-task model, in MULTITASK_OUTPUTS'
    order: "mask", "label", and "reconstruction" and "distance" if it has
    them."""
    spec = registry.get_spec(config["model"]["name"])
    options = {**spec.fixed, **config["model"]["options"]}
    outputs = ["mask", "label"]
    for key in ("reconstruction", "distance"):
        if options.get(key):
            outputs.append(key)
    return outputs


def loss_weights(config):
    """`{output: weight}` of a multi-task config: the defaults of
    MULTITASK_OUTPUTS with `train.loss_weights` over them."""
    given = config["train"]["loss_weights"]
    return {
        key: float(given.get(key, MULTITASK_OUTPUTS[key]["weight"]))
        for key in multitask_outputs(config)
    }


# train.monitor's value for "the last epoch's weights", whatever the logs
# say: for a schedule that ends at a low rate where a noisy training loss
# would pick an epoch at random, and no validation data to choose on.
LAST = "last"


def monitored(config):
    """The values a config's `train.monitor` may name (without "val_")."""
    train = config["train"]
    if task_of(config) != "multitask":
        return ["loss", *train["metrics"]]
    names = ["loss"]
    for key in multitask_outputs(config):
        metrics = MULTITASK_OUTPUTS[key]["metrics"]
        if key == "mask":
            metrics = train["metrics"]
        names += [f"{key}_loss", *(f"{key}_{m}" for m in metrics)]
    return names


def _check_multitask(config):
    model, train = config["model"], config["train"]
    given = model["options"].get("num_labels")
    wanted = num_labels(config)
    if given is not None and given != wanted:
        raise ConfigError(
            f"model.options.num_labels={given!r}: `kerasseg train` teaches "
            f"the label output which of the {wanted} classes after "
            f"background an image holds, so it has {wanted} units; leave "
            "num_labels out (it is set from model.num_classes)."
        )
    mode = model["options"].get("label_mode", "multilabel")
    if mode != "multilabel":
        raise ConfigError(
            f"model.options.label_mode={mode!r}: `kerasseg train` teaches "
            "the label output which classes an image holds, several at "
            "once ('multilabel'); leave label_mode out."
        )
    outputs = multitask_outputs(config)
    if "distance" in outputs:
        spec = dataset_specs.get(config["data"]["dataset"])
        if spec is None or not spec.instance_pairs:
            raise ConfigError(
                "model.options.distance=true learns a distance map made "
                "from instance labels, and "
                f"data.dataset={config['data']['dataset']!r} has none. "
                "Datasets with instance labels: "
                f"{dataset_specs.with_instance_labels()}."
            )
    for key, weight in train["loss_weights"].items():
        if key not in outputs:
            raise ConfigError(
                f"Unknown key 'train.loss_weights.{key}': the outputs of "
                f"{model['name']!r} are {outputs}."
            )
        if not _type_ok(weight, (_FLOAT,)) or weight < 0:
            raise ConfigError(
                f"train.loss_weights.{key} must be a number ≥ 0; got "
                f"{weight!r}."
            )


def _check_encoder_from(source):
    """`model.encoder_from`: a zoo entry, a run folder, a `.keras` file."""
    if source is None:
        return
    from kerasseg.zoo import records

    if source in records.names():
        return
    if os.path.isdir(source):
        if os.path.isfile(os.path.join(source, "model.keras")):
            return
        raise ConfigError(
            f"model.encoder_from={source!r} is a folder without model.keras; "
            "give a finished run folder, a .keras file or a zoo entry "
            "(kerasseg zoo list)."
        )
    if source.endswith(".keras") and os.path.isfile(source):
        return
    raise ConfigError(
        f"model.encoder_from={source!r} is neither a zoo entry (kerasseg zoo "
        "list), a run folder nor a .keras file."
    )


def _check_dataset_options(config):
    data = config["data"]
    spec = dataset_specs.get(data["dataset"])
    if spec is None and data["options"]:
        raise ConfigError(
            "data.options sets a built-in dataset's arguments; "
            "data.dataset='folders' takes none."
        )
    if spec is not None:
        for option in data["options"]:
            if option not in spec.options:
                accepted = ", ".join(spec.options) or "none"
                raise ConfigError(
                    f"Unknown key 'data.options.{option}' for "
                    f"data.dataset={data['dataset']!r}."
                    f"{_close(option, spec.options)} Options: {accepted}."
                )
        _check_dataset_folder(data, spec)


def _check_dataset_folder(data, spec):
    """A dataset read from the user's own folder (`data.options.root`, or
    $KERASSEG_DATA) needs one, and its ignore value declared."""
    if "root" not in spec.options:
        return
    from kerasseg.data.labels import DATA_ENV

    name = data["dataset"]
    if not data["options"].get("root") and not os.environ.get(DATA_ENV):
        raise ConfigError(
            f"data.dataset={name!r} reads the dataset from your folder: set "
            f"data.options.root (the folder its archives were unpacked "
            f"into) or the environment variable {DATA_ENV} (a folder "
            f"holding {name}/)."
        )
    if spec.ignore_index is not None and data["ignore_index"] is None:
        raise ConfigError(
            f"data.dataset={name!r} gives pixels of no trained class the "
            f"value {spec.ignore_index}; set data.ignore_index: "
            f"{spec.ignore_index} so that losses and metrics skip them."
        )


def _check_reconstruction(config):
    """A model that outputs its input learns from images alone."""
    data, train = config["data"], config["train"]
    name = config["model"]["name"]
    for section, key, why in [
        ("data", "train_masks", "it learns from the images alone"),
        ("data", "val_masks", "it learns from the images alone"),
        ("data", "class_names", "it has no classes"),
        ("train", "class_weights", "it has no classes"),
    ]:
        if config[section][key] is not None:
            raise ConfigError(
                f"{section}.{key} is set, but {name!r} is a reconstruction "
                f"model: {why}. Remove {section}.{key}."
            )
    if train["mode"] != "auto":
        raise ConfigError(
            f"train.mode={train['mode']!r} reads class labels; "
            f"{name!r} is a reconstruction model. Remove train.mode."
        )
    if data["dataset"] == "folders":
        _check_folders(config, masks=False)


def _check_folders(config, *, masks):
    """data.dataset='folders': the training folders are required (images,
    and masks if the model learns them), the validation ones go together,
    and a validation monitor needs them."""
    data, train = config["data"], config["train"]
    keys = ("train_images", "train_masks") if masks else ("train_images",)
    for key in keys:
        if not data[key]:
            raise ConfigError(
                f"data.{key} is required for data.dataset='folders'."
            )
    if masks and bool(data["val_images"]) != bool(data["val_masks"]):
        raise ConfigError(
            "data.val_images and data.val_masks go together; got only "
            "one of them."
        )
    if not data["val_images"] and train["monitor"].startswith("val_"):
        needed = (
            "data.val_images and data.val_masks"
            if masks
            else ("data.val_images")
        )
        example = "mean_iou" if masks else "loss"
        raise ConfigError(
            f"train.monitor={train['monitor']!r} needs validation data: "
            f"set {needed}, or monitor a training value (e.g. "
            f"train.monitor='{example}')."
        )


def _check_segmentation(config):
    model, data, train = config["model"], config["data"], config["train"]
    classes = model["num_classes"]
    mode = mode_of(config)
    if mode == "binary" and classes != 1:
        raise ConfigError(
            f"train.mode='binary' needs model.num_classes=1 (one sigmoid "
            f"channel); got model.num_classes={classes}. Use "
            "train.mode='multiclass' for several classes."
        )
    if mode == "multiclass" and classes == 1:
        raise ConfigError(
            "train.mode='multiclass' needs model.num_classes ≥ 2; one "
            "class is binary (train.mode='binary' or 'auto')."
        )
    dataset = data["dataset"]
    spec = dataset_specs.get(dataset)
    if spec is not None:
        have = len(spec.classes(data["options"]))
        fits = classes == have or (have == 2 and classes == 1)
        if not fits:
            raise ConfigError(
                f"data.dataset={dataset!r} has {have} classes; "
                f"model.num_classes={classes} cannot fit it (use {have}"
                f"{' or 1 for binary' if have == 2 else ''})."
            )
    else:
        _check_folders(config, masks=True)
    names = data["class_names"]
    wanted = 2 if mode == "binary" else classes
    if names is not None and len(names) != wanted:
        raise ConfigError(
            f"data.class_names needs {wanted} names; got {len(names)}."
        )
    if data["augment"] and data["ignore_index"] is None:
        raise ConfigError(
            "data.augment rescales and can bring in areas from outside the "
            "image, whose mask pixels need data.ignore_index (e.g. 255)."
        )
    weights = train["class_weights"]
    if isinstance(weights, str) and weights != "median_frequency":
        raise ConfigError(
            "train.class_weights must be null, 'median_frequency' or a list "
            f"of numbers; got {weights!r}."
        )
    if isinstance(weights, list) and len(weights) != max(classes, 2):
        raise ConfigError(
            f"train.class_weights needs {max(classes, 2)} numbers; got "
            f"{len(weights)}."
        )


def _check_train(config, task):
    train = config["train"]
    name = config["model"]["name"]
    if train["strategy"] == "multi_worker":
        if not os.environ.get("TF_CONFIG"):
            raise ConfigError(
                "train.strategy='multi_worker' needs the TF_CONFIG "
                "environment variable (the cluster's workers and this "
                "process's task); it is not set. Use 'mirrored' for several "
                "devices of one machine."
            )
        if train["jit_compile"] == "on":
            raise ConfigError(
                "train.jit_compile='on' is not available with "
                "train.strategy='multi_worker': its training loop runs "
                "without XLA. Set train.jit_compile to 'auto' or 'off'."
            )
    if train["deterministic"] and train["jit_compile"] == "on":
        raise ConfigError(
            "train.deterministic=true turns XLA off (Keras compiles "
            "deterministic TensorFlow ops without it); set "
            "train.jit_compile to 'auto' or 'off', or train.deterministic "
            "to false."
        )
    losses = TASKS[task]["losses"]
    if train["loss"] not in losses:
        raise ConfigError(
            f"train.loss={train['loss']!r} is not a loss of {task} models "
            f"({name!r}); use one of {list(losses)}."
        )
    metrics = TASKS[task]["metrics"]
    for metric in train["metrics"]:
        if metric not in metrics:
            raise ConfigError(
                f"train.metrics: unknown metric {metric!r} for {task} "
                f"models.{_close(str(metric), metrics)} Metrics: "
                f"{', '.join(metrics)}."
            )
    monitor = train["monitor"].removeprefix("val_")
    if train["monitor"] != LAST and monitor not in monitored(config):
        raise ConfigError(
            f"train.monitor={train['monitor']!r} is not computed: monitor "
            f"one of {monitored(config)} (with or without 'val_'), or "
            f"{LAST!r} for the last epoch's weights."
        )
    if train["frozen_epochs"] >= train["epochs"]:
        raise ConfigError(
            f"train.frozen_epochs ({train['frozen_epochs']}) must be smaller "
            f"than train.epochs ({train['epochs']}): the encoder is "
            "unfrozen for the epochs after them."
        )
    if train["frozen_epochs"] and (
        train["warmup_epochs"] >= train["frozen_epochs"]
    ):
        raise ConfigError(
            f"train.warmup_epochs ({train['warmup_epochs']}) must be smaller "
            f"than train.frozen_epochs ({train['frozen_epochs']}): the "
            "warmup is part of the frozen stage."
        )
    if train["unfrozen_learning_rate"] is not None:
        if not train["frozen_epochs"]:
            raise ConfigError(
                "train.unfrozen_learning_rate is the learning rate after "
                "train.frozen_epochs; set train.frozen_epochs too."
            )
        _positive(config, "train", "unfrozen_learning_rate")
    if train["frozen_epochs"] and train["strategy"] == "multi_worker":
        raise ConfigError(
            "train.frozen_epochs is not available with "
            "train.strategy='multi_worker' (its loop is built once)."
        )
    if train["warmup_epochs"] >= train["epochs"]:
        raise ConfigError(
            f"train.warmup_epochs ({train['warmup_epochs']}) must be smaller "
            f"than train.epochs ({train['epochs']})."
        )


def dump(config, path):
    """Writes a resolved config as YAML (the run folder's config.yaml)."""
    with open(path, "w") as f:
        yaml.safe_dump(config, f, sort_keys=False)
