"""Model configurations by name: `build("unet_classic", num_classes=2)`.

A registered configuration is a builder function plus the keyword arguments
that define it (for `unet_classic`: no batch norm, 64 base filters, …).
Those fixed settings cannot be overridden through `build`, because the
result would no longer be the named configuration; call the builder itself
for other settings.
"""

import dataclasses
import difflib
import fnmatch
import types

TASKS = ("segmentation", "reconstruction", "multitask")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What a registered model name stands for.

    Attributes:
        name: the registered name.
        builder: the public builder function.
        fixed: keyword arguments that define this configuration.
        task: "segmentation" (outputs one channel per class),
            "reconstruction" (outputs the input's channels) or "multitask"
            (a dict of outputs: "mask", "label", optionally
            "reconstruction").
        description: one line for listings.
    """

    name: str
    builder: object
    fixed: types.MappingProxyType
    task: str
    description: str

    def build(self, **kwargs):
        clashes = sorted(set(kwargs) & set(self.fixed))
        if clashes:
            given = {key: kwargs[key] for key in clashes}
            fixed = {key: self.fixed[key] for key in clashes}
            raise ValueError(
                f"{self.name!r} fixes {fixed}; these cannot be overridden "
                f"(received {given}). Call "
                f"kerasseg.models.{self.builder.__name__}(...) for other "
                "settings."
            )
        kwargs.setdefault("name", self.name)
        return self.builder(**kwargs, **self.fixed)


_REGISTRY = {}


def register_model(name, builder, *, task, description, **fixed):
    """Registers a model configuration under `name`.

    Args:
        name: lowercase name, unique across kerasseg.
        builder: the public builder function.
        task: one of "segmentation", "reconstruction", "multitask".
        description: one line shown by `list_models(verbose=True)` and the
            `kerasseg models` command.
        **fixed: builder keyword arguments that define the configuration.

    Raises:
        ValueError: if `name` is taken or `task` is unknown.
    """
    if name in _REGISTRY:
        raise ValueError(f"A model named {name!r} is already registered.")
    if task not in TASKS:
        raise ValueError(
            f"`task` must be one of {list(TASKS)}. Received: task={task!r}"
        )
    _REGISTRY[name] = ModelSpec(
        name=name,
        builder=builder,
        fixed=types.MappingProxyType(dict(fixed)),
        task=task,
        description=description,
    )


def get_spec(name):
    """Returns the `ModelSpec` registered as `name`.

    Raises:
        ValueError: if no model has that name; the message lists close
            matches.
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        pass
    close = difflib.get_close_matches(str(name), _REGISTRY, n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise ValueError(
        f"Unknown model name {name!r}.{hint} "
        "kerasseg.list_models() lists all registered names."
    )


def list_models(pattern="*"):
    """Names of the registered model configurations, sorted.

    Args:
        pattern: shell-style pattern, e.g. "unet*" or "*_tiny".

    Example:

    >>> "unet_classic" in kerasseg.list_models("unet*")
    True
    """
    return sorted(fnmatch.filter(_REGISTRY, pattern))


def build(name, /, **kwargs):
    """Builds the registered model configuration `name`.

    Args:
        name: a name from `list_models()`.
        **kwargs: further builder arguments (`input_shape`, `num_classes`,
            …) that the configuration does not fix; `name` names the
            model (default: the configuration's name).

    Returns:
        A freshly initialized `keras.Model`.

    Raises:
        ValueError: for an unknown name (listing close matches) or an
            attempt to override a setting the configuration fixes.

    Example:

    >>> model = kerasseg.build("unet_classic", input_shape=(None, None, 1),
    ...                        num_classes=2)
    >>> model.count_params()
    31030658
    """
    return get_spec(name).build(**kwargs)
