"""kerasseg: a Keras 3 model zoo for image segmentation.

`kerasseg.data` (tf.data pipelines) and `kerasseg.export` (SavedModel,
TFLite, ONNX) are imported on first use: they need TensorFlow, while the
models also run on the JAX and PyTorch backends.

Pretrained weights by name: `kerasseg.load("unet.nuclei_bbbc007")`
(`kerasseg.list_pretrained()` lists the zoo's entries).

>>> model = kerasseg.build("unet_tiny", num_classes=3)
>>> tuple(model(np.zeros((1, 64, 64, 3))).shape)
(1, 64, 64, 3)
"""

from kerasseg import decoders
from kerasseg import encoders
from kerasseg import heads
from kerasseg import initializers
from kerasseg import layers
from kerasseg import losses
from kerasseg import metrics
from kerasseg import models
from kerasseg import outputs
from kerasseg import training
from kerasseg import zoo
from kerasseg._version import __version__
from kerasseg.registry import build
from kerasseg.registry import list_models
from kerasseg.training import copy_encoder_weights
from kerasseg.training import freeze_encoder
from kerasseg.training import unfreeze_encoder
from kerasseg.zoo import list_pretrained
from kerasseg.zoo import load

__all__ = [
    "__version__",
    "build",
    "copy_encoder_weights",
    "data",
    "decoders",
    "encoders",
    "export",
    "freeze_encoder",
    "heads",
    "initializers",
    "layers",
    "list_models",
    "list_pretrained",
    "load",
    "losses",
    "metrics",
    "models",
    "outputs",
    "training",
    "unfreeze_encoder",
    "zoo",
]


_LAZY = ("data", "export")


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return importlib.import_module(f"kerasseg.{name}")
    raise AttributeError(f"module 'kerasseg' has no attribute {name!r}")
