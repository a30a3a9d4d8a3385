"""The one check that a TensorFlow-only part of kerasseg has TensorFlow.

`kerasseg.data` (tf.data pipelines), `kerasseg.export` (SavedModel,
TFLite, ONNX) and the `kerasseg` commands built on them need TensorFlow;
the models, losses, metrics, zoo weights and the NumPy/SciPy tools do not
(they run under KERAS_BACKEND=jax or torch without it).

It also owns the one TensorFlow process setting kerasseg makes:
`prefer_onednn`.
"""

import os
import platform
import sys

# On Linux, TensorFlow's oneDNN kernels (convolutions, BatchNorm, pooling)
# are on by default only on x86 CPUs with AVX-512 VNNI, AVX-512 BF16,
# AVX-VNNI or AMX (tensorflow/core/util/port.cc, DefaultOneDnnPolicy); on
# the others (AVX2 machines) TensorFlow runs its Eigen kernels, which train
# DeepLabV3+ ResNet50 markedly slower there (docs/benchmarks.md, "DeepLabV3+
# on an AVX2 machine").
ONEDNN_SETTING = "TF_ENABLE_ONEDNN_OPTS"


class MissingTensorFlow(ImportError):
    """A TensorFlow-only part of kerasseg was used without TensorFlow."""


def require(what):
    """Returns the `tensorflow` module, or raises `MissingTensorFlow`
    naming `what` needed it and how to install it."""
    try:
        import tensorflow
    except ImportError as error:
        raise MissingTensorFlow(
            f"{what} needs TensorFlow, which is not installed here "
            f"({error}). Install it with `pip install tensorflow` (or "
            "`pip install kerasseg`, which brings it). kerasseg's models, "
            "losses, metrics and zoo weights work without it under "
            "KERAS_BACKEND=jax or torch."
        ) from error
    return tensorflow


def is_x86():
    """Whether this machine is x86-64, where `prefer_onednn` acts."""
    return platform.machine().lower() in ("x86_64", "amd64")


def prefer_onednn():
    """Turns TensorFlow's oneDNN kernels on for this process, on x86 CPUs
    where TensorFlow would leave them off, unless the user chose.

    Sets `TF_ENABLE_ONEDNN_OPTS=1` when the variable is unset, the machine
    is x86-64 and TensorFlow is not imported yet (TensorFlow reads it once,
    at import; afterwards setting it would change nothing here and only
    mislead child processes). `TF_ENABLE_ONEDNN_OPTS=0` keeps the Eigen
    kernels. On CPUs with AVX-512 VNNI or newer this is TensorFlow's own
    default, so every x86 machine runs the same kernels. Called when
    kerasseg is imported, before anything imports TensorFlow.

    Returns:
        True if it set the variable, False if it left it as it was.
    """
    if ONEDNN_SETTING in os.environ or "tensorflow" in sys.modules:
        return False
    if not is_x86():
        return False
    os.environ[ONEDNN_SETTING] = "1"
    return True


def onednn_enabled():
    """Whether the TensorFlow of this process runs its oneDNN kernels
    (imports TensorFlow)."""
    require("onednn_enabled")
    from tensorflow.python.util import _pywrap_util_port

    return bool(_pywrap_util_port.IsMklEnabled())
