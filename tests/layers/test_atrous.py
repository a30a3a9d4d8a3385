"""The atrous fast path equals the plain Keras convolutions, keeps their
weights, and the score upsampling of DeepLabV3+ equals feature upsampling."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasseg
from kerasseg.layers import atrous
from tests.layers.test_layers import _round_trip

PAIRS = {
    "Conv2D": (keras.layers.Conv2D, atrous.Conv2D, {"filters": 5}),
    "DepthwiseConv2D": (
        keras.layers.DepthwiseConv2D,
        atrous.DepthwiseConv2D,
        {"depth_multiplier": 2},
    ),
    "SeparableConv2D": (
        keras.layers.SeparableConv2D,
        atrous.SeparableConv2D,
        {"filters": 5, "depth_multiplier": 2},
    ),
}


def _pair(kind, kernel_size, rate, x):
    plain_class, fast_class, kwargs = PAIRS[kind]
    args = dict(
        kernel_size=kernel_size,
        padding="same",
        dilation_rate=rate,
        activation="relu",
        **kwargs,
    )
    plain = plain_class(bias_initializer="random_normal", **args)
    fast = fast_class(**args)
    plain(x), fast(x)
    fast.set_weights(plain.get_weights())
    return plain, fast


# (height, width, rate): most cases skip taps (a tap's offset >= a side);
# (9, 9, 2) uses every tap and so takes the plain path. A 2-tap kernel's
# offsets are -floor(rate / 2) and the rest of the rate: only (5, 5, 9)
# skips one of them.
CASES = [
    (8, 8, 12),
    (8, 8, 18),
    (5, 7, 6),
    (1, 1, 2),
    (3, 20, 4),
    (5, 5, 9),
    (9, 9, 2),
]


@pytest.mark.parametrize("kind", sorted(PAIRS))
@pytest.mark.parametrize("kernel_size", [3, 5, 2])
def test_equals_plain_layer_at_several_sizes(kind, kernel_size):
    rng = np.random.default_rng(0)
    skipped = 0
    for height, width, rate in CASES:
        x = rng.normal(size=(2, height, width, 6)).astype("float32")
        plain, fast = _pair(kind, kernel_size, rate, x)
        taps = atrous._fast_path_taps(fast, x)
        skipped += taps is not None
        np.testing.assert_allclose(
            np.asarray(fast(x)), np.asarray(plain(x)), rtol=0, atol=1e-5
        )
    # The shortcut really ran (not only the plain fallback).
    assert skipped >= (1 if kernel_size == 2 else 5)


@pytest.mark.parametrize("kind", sorted(PAIRS))
def test_gradients_equal_plain_layer(kind):
    x = tf.constant(
        np.random.default_rng(1).normal(size=(2, 6, 6, 4)).astype("float32")
    )
    plain, fast = _pair(kind, 3, 6, x)
    assert atrous._fast_path_taps(fast, x) is not None

    def grads(layer):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x) ** 2)
        return tape.gradient(loss, [x] + [v.value for v in layer.weights])

    for a, b in zip(grads(plain), grads(fast)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-4)


def _op_types(function):
    graph = function.get_concrete_function().graph.as_graph_def()
    types = {node.op for node in graph.node}
    for library_function in graph.library.function:
        types |= {node.op for node in library_function.node_def}
    return types


# Heights and widths at rate 4 and a 3×3 kernel (offsets -4, 0, 4): maps
# of at most 4×4 take the centre tap alone, any larger side the plain op.
UNKNOWN_SIZE_CASES = [(1, 1), (4, 4), (3, 2), (4, 5), (9, 3), (11, 11)]


@pytest.mark.parametrize("kind", sorted(PAIRS))
def test_unknown_size_chooses_the_path_at_run_time(kind):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1, 6, 6, 3)).astype("float32")
    plain, fast = _pair(kind, 3, 4, x)
    spec = [tf.TensorSpec((None, None, None, 3))]
    traced = tf.function(fast, input_signature=spec)
    # Both paths are in the one graph, behind a cond.
    assert _op_types(traced) & {"If", "StatelessIf"}
    for height, width in UNKNOWN_SIZE_CASES:
        y = rng.normal(size=(2, height, width, 3)).astype("float32")
        np.testing.assert_allclose(
            traced(y).numpy(), np.asarray(plain(y)), rtol=0, atol=1e-5
        )
    with atrous.without_run_time_choice():
        untouched = tf.function(fast, input_signature=spec)
        assert not _op_types(untouched) & {"If", "StatelessIf"}
        np.testing.assert_allclose(
            untouched(y).numpy(), np.asarray(plain(y)), rtol=0, atol=1e-5
        )


def test_even_kernel_at_unknown_size_keeps_the_plain_op():
    # A 2-tap kernel has no centre tap to fall back on.
    x = np.random.default_rng(3).normal(size=(1, 3, 3, 2)).astype("float32")
    plain, fast = _pair("Conv2D", 2, 5, x)
    traced = tf.function(
        fast, input_signature=[tf.TensorSpec((None, None, None, 2))]
    )
    assert not _op_types(traced) & {"If", "StatelessIf"}
    np.testing.assert_allclose(
        traced(x).numpy(), np.asarray(plain(x)), rtol=0, atol=1e-5
    )


def _dynamic_model(layers):
    inputs = keras.Input((None, None, 3))
    x = inputs
    for layer in layers:
        x = layer(x)
    return keras.Model(inputs, x)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["saved_model", "tflite", "onnx"])
def test_run_time_choice_survives_export(fmt, tmp_path):
    from tests.export.test_convert import run_onnx
    from tests.export.test_convert import run_tflite

    rng = np.random.default_rng(5)
    x = rng.normal(size=(1, 6, 6, 3)).astype("float32")
    pairs = [
        _pair("SeparableConv2D", 3, 4, x),
        _pair("Conv2D", 3, 4, np.zeros((1, 6, 6, 5), "float32")),
        _pair("DepthwiseConv2D", 3, 4, np.zeros((1, 6, 6, 5), "float32")),
    ]
    plain = _dynamic_model([p for p, _ in pairs])
    fast = _dynamic_model([f for _, f in pairs])
    if fmt == "saved_model":
        fast.export(tmp_path / "served", format="tf_saved_model", verbose=False)
        # Kept whole: the loaded object owns the variables.
        loaded = tf.saved_model.load(str(tmp_path / "served"))

        def run(images):
            return loaded.serve(tf.constant(images)).numpy()
    else:
        path = str(tmp_path / f"model.{fmt}")
        kerasseg.export.export(fast, path, format=fmt)
        runner = run_tflite if fmt == "tflite" else run_onnx

        def run(images):
            (out,) = runner(path, images)
            return out

    for height, width in UNKNOWN_SIZE_CASES:
        y = rng.normal(size=(2, height, width, 3)).astype("float32")
        np.testing.assert_allclose(
            run(y), np.asarray(plain(y)), rtol=0, atol=1e-4
        )


@pytest.mark.parametrize("kind", sorted(PAIRS))
def test_round_trip(kind):
    _, fast_class, kwargs = PAIRS[kind]
    layer = fast_class(kernel_size=3, dilation_rate=4, padding="same", **kwargs)
    assert type(_round_trip(layer)) is fast_class


def _small_deeplab():
    return kerasseg.models.deeplabv3plus(
        num_classes=3,
        encoder="mobilenetv2",
        encoder_options={"alpha": 0.35},
        output_stride=8,
        filters=16,
        low_level_filters=8,
    )


def _atrous_layers(model):
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found += _atrous_layers(layer)
        elif type(layer).__module__ == atrous.__name__:
            found.append(layer)
    return found


def _plain_copy(model):
    """The same model with keras.layers' own convolutions."""

    def strip(config):
        if isinstance(config, dict):
            if config.get("module") == atrous.__name__:
                config["module"] = "keras.layers"
                config["registered_name"] = None
            for value in config.values():
                strip(value)
        elif isinstance(config, list):
            for value in config:
                strip(value)

    config = model.get_config()
    strip(config)
    return keras.Model.from_config(config)


@pytest.mark.slow
def test_deeplab_weights_load_both_ways_and_outputs_match(tmp_path):
    fast = _small_deeplab()
    # Dilated encoder convolutions and the ASPP branches.
    assert len(_atrous_layers(fast)) > 5
    plain = _plain_copy(fast)
    assert not _atrous_layers(plain)
    # Weight files are keyed by class name and position: the same file
    # loads into both.
    path = tmp_path / "fast.weights.h5"
    fast.save_weights(path)
    plain.load_weights(path)
    x = np.random.default_rng(3).uniform(0, 255, (2, 64, 64, 3))
    x = x.astype("float32")
    np.testing.assert_allclose(
        np.asarray(fast(x)), np.asarray(plain(x)), rtol=0, atol=1e-4
    )
    plain.save_weights(tmp_path / "plain.weights.h5")
    again = _small_deeplab()
    again.load_weights(tmp_path / "plain.weights.h5")
    np.testing.assert_array_equal(np.asarray(again(x)), np.asarray(fast(x)))


def test_deeplab_scores_upsampled_equal_features_upsampled():
    model = kerasseg.build("deeplabv3plus_tiny", num_classes=3)
    conv = model.get_layer("head_conv")
    features = keras.Model(model.input, conv.input)
    x = np.random.default_rng(4).uniform(0, 255, (2, 64, 48, 3))
    x = x.astype("float32")
    # The paper's order: features to full size, then the 1×1 convolution.
    upsampled = kerasseg.layers.BilinearUpsample(4)(features(x))
    expected = keras.ops.conv(upsampled, conv.kernel) + conv.bias
    np.testing.assert_allclose(
        np.asarray(model(x)), np.asarray(expected), rtol=0, atol=1e-5
    )
