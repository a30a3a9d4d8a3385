"""`assets.extra/tf_serving_warmup_requests`: requests TF Serving replays
on load, so the first real request does not pay for graph initialization.

The file is a TFRecord of `tensorflow.serving.PredictionLog` protos. They
are encoded here from the protobuf wire format, because the only package
that ships those message classes (`tensorflow-serving-api`) pins an exact
TensorFlow release; the tests decode the file with that package's own
classes.
"""

import os

import numpy as np
import tensorflow as tf

FILE_NAME = "tf_serving_warmup_requests"


def _varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number, payload):
    """A length-delimited protobuf field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def predict_log(signature_name, inputs, *, model_name=""):
    """A serialized `PredictionLog` holding one `PredictRequest`.

    Args:
        signature_name: the signature the request calls.
        inputs: dict of input name → numpy array.
        model_name: `ModelSpec.name` (TF Serving ignores it in warmup).

    Returns:
        bytes.
    """
    # ModelSpec: name = 1, signature_name = 3.
    spec = _field(1, model_name.encode()) + _field(3, signature_name.encode())
    # PredictRequest: model_spec = 1, inputs = 2 (map<string, TensorProto>,
    # each entry a message with key = 1 and value = 2).
    request = _field(1, spec)
    for name, value in inputs.items():
        tensor = tf.make_tensor_proto(value).SerializeToString()
        request += _field(2, _field(1, name.encode()) + _field(2, tensor))
    # PredictLog: request = 1. PredictionLog: predict_log = 6.
    return _field(6, _field(1, request))


def example_inputs(channels, size):
    """One small input per signature (all zeros; PNG for serve_bytes)."""
    image = np.zeros((1, *size, channels), np.uint8)
    png = tf.io.encode_png(image[0]).numpy()
    return {
        "serving_default": {"images": image.astype(np.float32)},
        "serve_uint8": {"images": image},
        "serve_bytes": {"images": np.array([png], dtype=object)},
    }


def write(export_dir, channels, size, *, model_name=""):
    """Writes one warmup request per signature; returns the file's path."""
    folder = os.path.join(export_dir, "assets.extra")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, FILE_NAME)
    with tf.io.TFRecordWriter(path) as writer:
        for signature, inputs in example_inputs(channels, size).items():
            writer.write(predict_log(signature, inputs, model_name=model_name))
    return path
