"""kerasseg: a Keras 3 model zoo for image segmentation.

`kerasseg.data` (tf.data pipelines) and `kerasseg.export` (SavedModel,
TFLite, ONNX) are imported on first use: they need TensorFlow, while the
models, losses and metrics are `keras.ops` only (tested on the JAX backend
too: tests/test_backends.py; PyTorch is untested). The NumPy/SciPy tools
run on predicted masks are imported on first use as well:
`kerasseg.postprocess` (instances from semantic masks),
`kerasseg.instance_metrics` and `kerasseg.boundary_metrics`.

Pretrained weights by name: `kerasseg.load("unet.nuclei_bbbc007")`
(`kerasseg.list_pretrained()` lists the zoo's entries).

>>> model = kerasseg.build("unet_tiny", num_classes=3)
>>> tuple(model(np.zeros((1, 64, 64, 3))).shape)
(1, 64, 64, 3)
"""

import os as _os
import sys as _sys

from kerasseg import _tensorflow
from kerasseg._version import __version__ as __version__

# Before anything below imports Keras and with it TensorFlow.
_tensorflow.prefer_onednn()

# Modules imported with the package (registering its models, encoders and
# Keras classes, so a `.keras` file of kerasseg layers loads after `import
# kerasseg`), and the functions re-exported from them.
_MODULES = (
    "decoders",
    "encoders",
    "heads",
    "inference",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "models",
    "outputs",
    "training",
    "zoo",
)
_FUNCTIONS = {
    "build": "registry",
    "list_models": "registry",
    "copy_encoder_weights": "training",
    "freeze_encoder": "training",
    "unfreeze_encoder": "training",
    "list_pretrained": "zoo",
    "load": "zoo",
}
# Imported on first use only: TensorFlow-only (data, export) or the
# NumPy/SciPy tools run on predicted masks.
_LAZY = (
    "boundary_metrics",
    "data",
    "export",
    "instance_metrics",
    "postprocess",
)

__all__ = sorted(
    ("__version__", *_MODULES, *_FUNCTIONS, *_LAZY),
    key=lambda name: name.strip("_"),
)


def _is_command():
    return _os.path.basename(_sys.argv[0] if _sys.argv else "") == "kerasseg"


def _quiet_tensorflow(verbose=False):
    """In the `kerasseg` command, TensorFlow's C++ log lines (CUDA probing,
    CPU feature notes, XLA compile notes) are hidden unless asked for:
    `kerasseg --verbose …`, or the user's own TF_CPP_MIN_LOG_LEVEL. Those
    printed while TensorFlow loads bypass that setting, so the import
    runs with the process's stderr pointed at /dev/null."""
    if verbose or "TF_CPP_MIN_LOG_LEVEL" in _os.environ:
        return
    if "tensorflow" in _sys.modules:
        return
    _os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"  # errors only
    _sys.stderr.flush()
    saved = _os.dup(2)
    devnull = _os.open(_os.devnull, _os.O_WRONLY)
    try:
        _os.dup2(devnull, 2)
        try:
            import tensorflow  # noqa: F401
        except ImportError:
            pass  # reported where it is needed, with the stderr back
    finally:
        _os.dup2(saved, 2)
        _os.close(saved)
        _os.close(devnull)


def _load():
    """Imports the package's modules and re-exported functions (once).

    Run when kerasseg is imported, except in the `kerasseg` command, which
    runs it once its arguments are parsed (so `kerasseg --help` answers
    without loading Keras and TensorFlow), with TensorFlow's log lines
    hidden as `_quiet_tensorflow` says."""
    import importlib

    namespace = globals()
    for name in _MODULES:
        namespace[name] = importlib.import_module(f"kerasseg.{name}")
    importlib.import_module("kerasseg.training.recipes")
    for name, module in _FUNCTIONS.items():
        namespace[name] = getattr(namespace[module], name)


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return importlib.import_module(f"kerasseg.{name}")
    if name in _MODULES or name in _FUNCTIONS:
        _load()
        return globals()[name]
    raise AttributeError(f"module 'kerasseg' has no attribute {name!r}")


def __dir__():
    return __all__


if not _is_command():
    _load()
