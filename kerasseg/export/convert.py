"""TFLite and ONNX files of a model's own outputs (logits by default).

Both keep dynamic batch, height and width. TFLite goes through
`tf.lite.TFLiteConverter` (which Keras' "litert" export also wraps) because
its quantization options are needed; ONNX through Keras' own
`model.export(format="onnx")`, which runs tf2onnx.
"""

import contextlib
import io
import os

import tensorflow as tf

from kerasseg import _files
from kerasseg.layers import atrous

QUANTIZATIONS = (None, "float16", "dynamic_int8")


def _check_path(path, suffix):
    path = os.fspath(path)
    if not path.endswith(suffix):
        raise ValueError(
            f"The output file must end with {suffix!r}. Received: {path!r}"
        )
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return path


def tflite(model, path, *, quantization=None):
    """Writes a `.tflite` file of the model (float32 inputs and outputs).

    Args:
        model: a Functional `keras.Model`.
        path: the output file, ending in ".tflite".
        quantization: None (float32 weights), "float16" (float16 weights,
            computed in float32 on CPU), or "dynamic_int8" (int8 weights,
            activations quantized on the fly; no calibration data needed).

    Returns:
        `path`.
    """
    if quantization not in QUANTIZATIONS:
        raise ValueError(
            f"`quantization` must be one of {QUANTIZATIONS}. "
            f"Received: quantization={quantization!r}"
        )
    path = _check_path(path, ".tflite")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantization is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    # The converter saves a temporary SavedModel and prints its signature.
    with contextlib.redirect_stdout(io.StringIO()):
        flatbuffer = converter.convert()
    with _files.atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(flatbuffer)
    return path


def onnx(model, path, *, opset=None):
    """Writes a `.onnx` file of the model, with dynamic batch and size.

    Needs the optional `tf2onnx` package (`pip install kerasseg[onnx]`);
    run it with `onnxruntime`.

    Args:
        model: a Functional `keras.Model`.
        path: the output file, ending in ".onnx".
        opset: ONNX opset; default the converter's.

    Returns:
        `path`.
    """
    path = _check_path(path, ".onnx")
    try:
        import tf2onnx  # noqa: F401
    except ImportError:
        raise ImportError(
            "format='onnx' needs the tf2onnx package: "
            "pip install 'kerasseg[onnx]' (tf2onnx, onnx, onnxruntime)."
        ) from None
    kwargs = {} if opset is None else {"opset_version": int(opset)}
    # Keras reads the input signature from a model that has been called;
    # stating it also keeps batch, height and width dynamic.
    signature = [
        tf.TensorSpec((None, None, None, model.input_shape[-1]), tf.float32)
    ]
    # tf2onnx cannot convert the atrous layers' run-time choice of path
    # (a cond around a convolution); the plain path gives the same outputs.
    with _files.atomic_path(path) as tmp, atrous.without_run_time_choice():
        model.export(
            tmp,
            format="onnx",
            input_signature=signature,
            verbose=False,
            **kwargs,
        )
    return path
