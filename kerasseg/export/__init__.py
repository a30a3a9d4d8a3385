"""Export: SavedModel for TF Serving, TFLite and ONNX.

>>> import tempfile, tensorflow as tf
>>> base = tempfile.mkdtemp()
>>> model = kerasseg.build("unet_tiny", num_classes=3)
>>> path = kerasseg.export.saved_model(model, base, name="unet")
>>> os.path.relpath(path, base)
'unet/1'
>>> served = tf.saved_model.load(path).signatures["serving_default"]
>>> answer = served(images=tf.zeros((2, 40, 56, 3)))
>>> {key: tuple(value.shape) for key, value in sorted(answer.items())}
{'class_ids': (2, 40, 56), 'probabilities': (2, 40, 56, 3)}

TensorFlow code lives here (and in `kerasseg.data`) only; the models
themselves use `keras.ops`.
"""

import os

from kerasseg import _tensorflow

_tensorflow.require("kerasseg.export")

from kerasseg.export.convert import QUANTIZATIONS  # noqa: E402
from kerasseg.export.convert import onnx  # noqa: E402
from kerasseg.export.convert import tflite  # noqa: E402
from kerasseg.export.saved_model import saved_model  # noqa: E402
from kerasseg.export.signatures import SIGNATURES  # noqa: E402
from kerasseg.outputs import describe  # noqa: E402

FORMATS = ("saved_model", "tflite", "onnx")

__all__ = [
    "FORMATS",
    "QUANTIZATIONS",
    "SIGNATURES",
    "describe",
    "export",
    "onnx",
    "saved_model",
    "tflite",
]


def export(model, out, *, format="saved_model", **options):
    """Exports in any of `FORMATS`; what `kerasseg export` calls.

    Args:
        model: a `keras.Model`.
        out: for "saved_model" the base folder (the version folder goes in
            `out/<name>/<version>`); for "tflite" and "onnx" a folder (the
            file is `<model.name>.tflite` / `.onnx` in it) or a file path
            with that suffix.
        format: "saved_model", "tflite" or "onnx".
        **options: keyword arguments of `saved_model`, `tflite` or `onnx`.

    Returns:
        The path written.
    """
    if format not in FORMATS:
        raise ValueError(
            f"`format` must be one of {FORMATS}. Received: format={format!r}"
        )
    if format == "saved_model":
        return saved_model(model, out, **options)
    out = os.fspath(out)
    suffix = f".{format}"
    if not out.endswith(suffix):
        out = os.path.join(out, f"{model.name}{suffix}")
    writer = tflite if format == "tflite" else onnx
    return writer(model, out, **options)
