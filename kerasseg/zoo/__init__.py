"""Pretrained weights by name: `kerasseg.load("unet.nuclei_bbbc007")`.

An entry is named `<registered model>.<weights tag>`. Its frozen record
(`zoo/<name>/record.json`) holds the config that built and trained it, and
its weights file `<name>-<sha256[:8]>.weights.h5` is found shipped beside
the record, in the cache, or downloaded from a mirror (see
`kerasseg.zoo.files`). The sha256 is checked on every load and the built
model's variable layout is checked against the record before any weight is
assigned.

>>> "unet.nuclei_bbbc007" in kerasseg.list_pretrained()
True
"""

import functools
import os

from kerasseg.zoo import files
from kerasseg.zoo import records
from kerasseg.zoo.files import set_url
from kerasseg.zoo.records import ZooError

__all__ = [
    "ZooError",
    "info",
    "list_pretrained",
    "load",
    "load_weights",
    "set_url",
    "verify",
    "with_weights",
]


def list_pretrained(pattern="*"):
    """Names of the zoo entries, sorted.

    Args:
        pattern: shell-style pattern, e.g. "unet.*" or "*fashion*".
    """
    return records.names(pattern)


def info(name):
    """The record of entry `name` as a dict (a copy)."""
    import copy

    return copy.deepcopy(records.get(name).data)


def build_args(record):
    """`kerasseg.build` arguments that rebuild the entry's architecture."""
    from kerasseg.training import builders
    from kerasseg.zoo.evaluate import entry_config

    args = builders.model_args(entry_config(record))
    return {**args, "input_shape": (None, None, record["input_channels"])}


def _check_layout(model, record, how):
    actual = records.layout_sha256(model)
    if actual != record["layout_sha256"]:
        raise ZooError(
            f"{how} does not have the variable layout of zoo entry "
            f"{record.name!r} (layout sha256 {actual[:12]}…, the record's "
            f"{record['layout_sha256'][:12]}…; {len(model.weights)} "
            f"variables). kerasseg.load({record.name!r}) builds the entry's "
            f"own architecture: {record.model} with {build_args(record)}."
        )


def load_weights(model, weights):
    """Loads `weights` (a zoo entry name or a `.weights.h5` path) into
    `model`, after checking that they fit; returns `model`.

    Raises:
        ZooError: for an unknown name, a file that is missing, truncated,
            tampered with (sha256) or saved from another architecture.
    """
    weights = os.fspath(weights)
    if weights.endswith(".h5") or os.path.sep in weights:
        if not os.path.isfile(weights):
            raise ZooError(
                f"weights={weights!r}: no such file. Pass a .weights.h5 "
                "path or a zoo entry name from kerasseg.list_pretrained()."
            )
        files.check_fits(weights, model)
        model.load_weights(weights)
        return model
    record = records.get(weights)
    _check_layout(model, record, f"Model {model.name!r}")
    model.load_weights(str(files.resolve(record)))
    return model


def load(name, **overrides):
    """The model of zoo entry `name`, with its weights, ready to predict.

    The architecture comes from the entry's config; preprocessing (e.g.
    per-image percentile normalization) is inside the graph, so
    `model.predict` takes raw pixels. The entry's class names and colours
    are on the model as `model.class_names` and `model.palette`.

    Args:
        name: an entry from `list_pretrained()`.
        **overrides: builder arguments that leave the weights' layout as
            it is (`activation="softmax"`, `name=…`); anything that changes
            it (e.g. `num_classes`) is refused.

    Returns:
        A `keras.Model`.

    Raises:
        ZooError: for an unknown entry or weights that fail a check.

    Example:

    >>> model = kerasseg.load("unet.nuclei_bbbc007")
    >>> model.class_names
    ('background', 'nucleus')
    """
    from kerasseg import registry

    record = records.get(name)
    args = {**build_args(record), **overrides}
    model = registry.build(record.model, **args)
    _check_layout(model, record, f"{record.model} built with {args}")
    model.load_weights(str(files.resolve(record)))
    model.class_names = tuple(record["class_names"])
    model.palette = tuple(tuple(c) for c in record["palette"])
    model.zoo_entry = record.name
    return model


def verify(name=None):
    """Checks the weights file of one entry (or all) against its record.

    Returns:
        `{name: path}` of the verified files.

    Raises:
        ZooError: at the first entry that fails, naming it.
    """
    names = [name] if name else list_pretrained()
    return {n: files.resolve(records.get(n)) for n in names}


_WEIGHTS_DOC = """
    Pretrained weights: every builder also takes `weights=`, a zoo entry
    name (`kerasseg.list_pretrained()`) or a `.weights.h5` path, loaded
    after checking that it fits the built model (sha256 and layout for an
    entry, variable shapes for a file).
"""


def with_weights(builder):
    """Adds the `weights=` argument to a model builder."""

    @functools.wraps(builder)
    def wrapped(*args, weights=None, **kwargs):
        model = builder(*args, **kwargs)
        if weights is not None:
            load_weights(model, weights)
        return model

    wrapped.__doc__ = (builder.__doc__ or "") + _WEIGHTS_DOC
    return wrapped
