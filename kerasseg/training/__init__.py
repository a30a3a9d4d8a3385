"""Training recipes and helpers.

The submodules are imported on first use (`kerasseg` itself imports them
all), so the `kerasseg` command reads `xla.SETTINGS` for its `--help`
without loading Keras.
"""

__all__ = [
    "copy_encoder_weights",
    "freeze_encoder",
    "recipes",
    "unfreeze_encoder",
    "xla",
]

_SUBMODULES = ("recipes", "xla")
_FUNCTIONS = {
    "copy_encoder_weights": "transfer",
    "freeze_encoder": "finetune",
    "unfreeze_encoder": "finetune",
}


def __getattr__(name):
    import importlib

    if name in _SUBMODULES:
        return importlib.import_module(f"kerasseg.training.{name}")
    if name in _FUNCTIONS:
        module = importlib.import_module(
            f"kerasseg.training.{_FUNCTIONS[name]}"
        )
        return getattr(module, name)
    raise AttributeError(
        f"module 'kerasseg.training' has no attribute {name!r}"
    )


def __dir__():
    return __all__
