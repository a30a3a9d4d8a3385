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


def _quiet_command():
    """In the `kerasseg` command, TensorFlow's C++ log lines (CUDA probing,
    CPU feature notes, XLA compile notes) are hidden unless asked for:
    `kerasseg --verbose …`, or the user's own TF_CPP_MIN_LOG_LEVEL. Those
    printed while TensorFlow loads bypass that setting, so the import
    runs with the process's stderr pointed at /dev/null. Importing
    kerasseg anywhere else changes nothing."""
    if _os.path.basename(_sys.argv[0] if _sys.argv else "") != "kerasseg":
        return
    if "--verbose" in _sys.argv[1:] or "TF_CPP_MIN_LOG_LEVEL" in _os.environ:
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


_quiet_command()

from kerasseg import decoders  # noqa: E402
from kerasseg import encoders  # noqa: E402
from kerasseg import heads  # noqa: E402
from kerasseg import inference  # noqa: E402
from kerasseg import initializers  # noqa: E402
from kerasseg import layers  # noqa: E402
from kerasseg import losses  # noqa: E402
from kerasseg import metrics  # noqa: E402
from kerasseg import models  # noqa: E402
from kerasseg import outputs  # noqa: E402
from kerasseg import training  # noqa: E402
from kerasseg import zoo  # noqa: E402
from kerasseg._version import __version__  # noqa: E402
from kerasseg.registry import build  # noqa: E402
from kerasseg.registry import list_models  # noqa: E402
from kerasseg.training import copy_encoder_weights  # noqa: E402
from kerasseg.training import freeze_encoder  # noqa: E402
from kerasseg.training import unfreeze_encoder  # noqa: E402
from kerasseg.zoo import list_pretrained  # noqa: E402
from kerasseg.zoo import load  # noqa: E402

__all__ = [
    "__version__",
    "boundary_metrics",
    "build",
    "copy_encoder_weights",
    "data",
    "decoders",
    "encoders",
    "export",
    "freeze_encoder",
    "heads",
    "inference",
    "initializers",
    "instance_metrics",
    "layers",
    "list_models",
    "list_pretrained",
    "load",
    "losses",
    "metrics",
    "models",
    "outputs",
    "postprocess",
    "training",
    "unfreeze_encoder",
    "zoo",
]


_LAZY = (
    "boundary_metrics",
    "data",
    "export",
    "instance_metrics",
    "postprocess",
)


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return importlib.import_module(f"kerasseg.{name}")
    raise AttributeError(f"module 'kerasseg' has no attribute {name!r}")
