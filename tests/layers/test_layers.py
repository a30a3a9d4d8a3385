import copy

import keras
import numpy as np
import pytest

from kerasseg import layers


def _round_trip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(copy.deepcopy(config))
    assert clone.get_config() == config
    # And through Keras's own (de)serialization, as a .keras file does.
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(layer)
    )
    assert type(restored) is type(layer)
    assert restored.get_config() == config
    return clone


def test_pad_to_multiple_pads_zeros_bottom_right():
    layer = layers.PadToMultiple(8)
    x = np.arange(2 * 9 * 17 * 2, dtype="float32").reshape(2, 9, 17, 2) + 1
    y = np.asarray(layer(x))
    assert y.shape == (2, 16, 24, 2)
    np.testing.assert_array_equal(y[:, :9, :17], x)
    assert not y[:, 9:].any() and not y[:, :, 17:].any()
    assert layer.compute_output_shape((None, None, 17, 2)) == (
        None,
        None,
        24,
        2,
    )
    _round_trip(layer)


def test_pad_to_multiple_keeps_integer_dtype_and_exact_sizes():
    layer = layers.PadToMultiple(4)
    x = np.ones((1, 8, 4, 1), "int32")
    y = layer(x)
    assert y.dtype == "int32"
    assert tuple(y.shape) == (1, 8, 4, 1)


def test_pad_to_multiple_rejects_bad_multiple():
    with pytest.raises(ValueError, match="multiple=0"):
        layers.PadToMultiple(0)


def test_crop_to_reference_keeps_the_top_left_corner():
    crop = layers.CropToReference()
    x = np.random.default_rng(0).random((2, 16, 24, 3)).astype("float32")
    y = np.asarray(crop([x, np.zeros((2, 9, 17, 1))]))
    np.testing.assert_array_equal(y, x[:, :9, :17])
    _round_trip(crop)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_attention_gate_matches_its_formula():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 7, 6)).astype("float32")
    g = rng.normal(size=(2, 5, 7, 10)).astype("float32")
    gate = layers.AttentionGate(4)
    y = np.asarray(gate([x, g]))
    # Independent computation from the layer's own weights.
    theta = x @ np.asarray(gate.theta.kernel)[0, 0]
    phi = g @ np.asarray(gate.phi.kernel)[0, 0] + np.asarray(gate.phi.bias)
    f = np.maximum(theta + phi, 0)
    psi = f @ np.asarray(gate.psi.kernel)[0, 0] + np.asarray(gate.psi.bias)
    np.testing.assert_allclose(y, x * _sigmoid(psi), rtol=1e-5, atol=1e-5)
    assert len(gate.trainable_weights) == 5
    _round_trip(gate)


def test_attention_gate_refuses_different_resolutions():
    gate = layers.AttentionGate(4)
    with pytest.raises(ValueError, match=r"x.shape=\(2, 8, 8, 6\)"):
        gate([np.zeros((2, 8, 8, 6)), np.zeros((2, 4, 4, 6))])


def test_attention_gate_under_mixed_precision():
    keras.config.set_dtype_policy("mixed_float16")
    gate = layers.AttentionGate(2)
    y = gate([np.ones((1, 4, 4, 3), "float32"), np.ones((1, 4, 4, 3))])
    assert y.dtype == "float16"
    assert gate.theta.compute_dtype == "float16"
    assert gate.theta.kernel.dtype == "float32"


def test_random_masking_zeroes_whole_pixels_at_the_given_rate():
    layer = layers.RandomMasking(0.3, seed=7)
    x = np.ones((4, 50, 50, 3), "float32")
    y = np.asarray(layer(x, training=True))
    # All channels of a pixel share its fate; kept pixels keep their value.
    assert (y.min(-1) == y.max(-1)).all()
    assert set(np.unique(y)) == {0.0, 1.0}
    zeroed = 1 - y[..., 0].mean()
    # 10,000 pixels: the binomial standard deviation of the rate is 0.0046.
    assert abs(zeroed - 0.3) < 0.03
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    _round_trip(layer)


def test_random_masking_rejects_bad_rate():
    with pytest.raises(ValueError, match="rate=1"):
        layers.RandomMasking(1)
