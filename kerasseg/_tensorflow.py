"""The one check that a TensorFlow-only part of kerasseg has TensorFlow.

`kerasseg.data` (tf.data pipelines), `kerasseg.export` (SavedModel,
TFLite, ONNX) and the `kerasseg` commands built on them need TensorFlow;
the models, losses, metrics, zoo weights and the NumPy/SciPy tools do not
(they run under KERAS_BACKEND=jax or torch without it).
"""


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
