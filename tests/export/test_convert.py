"""TFLite and ONNX exports equal the Keras model.

Float exports must match within 1e-4 plus 1e-5 of the value (a stricter
bound than keras-hub's LiteRT tests, whose loose thresholds hid 60–1000 %
errors). Quantized
exports change the numbers by design: their class-id agreement with the
Keras model is measured by `benchmarks/export.py` and only held above a
floor here.
"""

import keras
import numpy as np
import pytest

import kerasseg
from kerasseg import export
from tests.models import harness

# The default run covers a plain U-Net (plus a transformer block below),
# the second tier a dilated encoder with ASPP and image pooling, and
# --run-large every family.
DEFAULT = {"unet_classic_tiny"}
SLOW = {"deeplabv3plus_tiny"}
MODELS = [
    name
    if name in DEFAULT
    else pytest.param(
        name, marks=pytest.mark.slow if name in SLOW else pytest.mark.large
    )
    for name in kerasseg.list_models("*_tiny")
]
# The second size is no multiple of any model's stride: the padding in
# the graph must convert too.
SIZES = [(2, 64, 64), (1, 45, 70)]


def _images(shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, size=(*shape, 3)).astype("float32")


def _keras(model, images):
    outputs = model.predict(images, verbose=0)
    return outputs if isinstance(outputs, dict) else {"output": outputs}


def run_tflite(path, images):
    """All outputs of a .tflite file for one batch, resized to fit it."""
    # LiteRT's interpreter: TensorFlow's own tf.lite.Interpreter is
    # deprecated and scheduled for deletion.
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path)
    (spec,) = interpreter.get_input_details()
    interpreter.resize_tensor_input(spec["index"], images.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(spec["index"], images)
    interpreter.invoke()
    return [
        interpreter.get_tensor(detail["index"])
        for detail in interpreter.get_output_details()
    ]


def run_onnx(path, images):
    import onnxruntime

    session = onnxruntime.InferenceSession(
        path, providers=["CPUExecutionProvider"]
    )
    (spec,) = session.get_inputs()
    return session.run(None, {spec.name: images})


def assert_converted_close(got, want, err_msg=""):
    """A converted model's output equals the Keras model's in float32.

    Converters reorder the sums inside each convolution, so the error grows
    with the size of the activations, not of each output value: logits of
    0–255 inputs reach the tens and reconstructions the hundreds, and in
    the fashion autoencoder's reconstruction (largest value 218) a value of
    6.6 moved by 1.7e-4 on one CI machine. Allowed: 1e-4
    plus 2e-5 of the largest magnitude in the Keras output (transunet_tiny's
    largest difference is 2e-4 on logits of 22; benchmarks/export.py).
    """
    want = np.asarray(want)
    scale = float(np.abs(want).max()) if want.size else 0.0
    np.testing.assert_allclose(
        got, want, rtol=0, atol=1e-4 + 2e-5 * scale, err_msg=err_msg
    )


def _match(outputs, reference):
    """Pairs converted outputs (unnamed) with the Keras ones by shape."""
    matched = {}
    for key, want in reference.items():
        same = [o for o in outputs if o.shape == want.shape]
        best = min(same, key=lambda o: np.abs(o - want).max())
        matched[key] = best
    return matched


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
def test_float_export_equals_keras(name, fmt, tmp_path):
    model = harness.build(name)
    path = export.export(model, tmp_path, format=fmt)
    assert path.endswith(f"{model.name}.{fmt}")
    run = run_tflite if fmt == "tflite" else run_onnx
    for shape in SIZES:  # one file, two sizes
        images = _images(shape)
        reference = _keras(model, images)
        outputs = run(path, images)
        assert len(outputs) == len(reference)
        for key, got in _match(outputs, reference).items():
            assert_converted_close(got, reference[key], err_msg=key)


@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
def test_transformer_block_converts(fmt, tmp_path):
    # TensorFlow's exact GELU uses erfc, which tf2onnx cannot convert; the
    # block writes it with erf.
    inputs = keras.Input((None, None, 8))
    outputs = kerasseg.layers.TransformerBlock(num_heads=2, mlp_dim=16)(inputs)
    model = keras.Model(inputs, outputs, name="block")
    images = np.random.default_rng(0).normal(size=(2, 4, 6, 8))
    images = images.astype("float32")
    path = export.export(model, tmp_path, format=fmt)
    (got,) = (run_tflite if fmt == "tflite" else run_onnx)(path, images)
    np.testing.assert_allclose(got, model.predict(images, verbose=0), atol=1e-4)


@pytest.mark.parametrize(
    "quantization, floor", [("float16", 0.99), ("dynamic_int8", 0.90)]
)
def test_quantized_tflite_mostly_agrees(quantization, floor, tmp_path):
    model = harness.build("unet_classic_tiny")
    images = _images((2, 64, 64))
    want = model.predict(images, verbose=0).argmax(-1)
    path = export.tflite(
        model, tmp_path / "q.tflite", quantization=quantization
    )
    (got,) = run_tflite(path, images)
    assert (got.argmax(-1) == want).mean() >= floor


def test_bad_format_and_paths_are_named(tmp_path):
    model = harness.build("unet_classic_tiny")
    with pytest.raises(ValueError, match="format"):
        export.export(model, tmp_path, format="coreml")
    with pytest.raises(ValueError, match=r"\.tflite"):
        export.tflite(model, tmp_path / "model.bin")
    with pytest.raises(ValueError, match="quantization"):
        export.tflite(model, tmp_path / "m.tflite", quantization="int4")
    assert list(tmp_path.iterdir()) == []
