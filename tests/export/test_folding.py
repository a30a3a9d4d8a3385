"""BatchNorm folding (kerasseg.export.folding): the folded graph against
the model it came from, and which BatchNorms fold."""

import keras
import numpy as np
import pytest

import kerasseg
from kerasseg.export import folding
from tests.models import harness


def _norms(model):
    return sum(
        isinstance(layer, keras.layers.BatchNormalization)
        for layer in model._flatten_layers()
    )


def _randomize_statistics(model, seed=1):
    """BatchNorm statistics and affine weights far from 0 and 1, so that a
    folding mistake shows."""
    rng = np.random.default_rng(seed)
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            shape = layer.moving_mean.shape
            layer.moving_mean.assign(rng.normal(0, 1, shape))
            layer.moving_variance.assign(rng.uniform(0.2, 3, shape))
            if layer.scale:
                layer.gamma.assign(rng.uniform(-1.5, 1.5, shape))
            if layer.center:
                layer.beta.assign(rng.normal(0, 1, shape))


def _inference_map(norm, x):
    """BatchNorm in inference, written from its definition."""
    s = 1 / np.sqrt(np.asarray(norm.moving_variance) + norm.epsilon)
    if norm.scale:
        s = s * np.asarray(norm.gamma)
    y = (x - np.asarray(norm.moving_mean)) * s
    return y + np.asarray(norm.beta) if norm.center else y


def _every_kind():
    """Each convolution kind followed by a BatchNorm, with and without a
    bias, scale and centre; a nested Functional block; and BatchNorms that
    must not fold."""
    inner_in = keras.Input((None, None, 6))
    y = keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(
        inner_in
    )
    y = keras.layers.BatchNormalization(center=False)(y)
    inner = keras.Model(inner_in, y, name="block")

    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", use_bias=False)(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = inner(x)
    x = kerasseg.layers.atrous.SeparableConv2D(
        5, 3, padding="same", dilation_rate=2
    )(x)
    x = keras.layers.BatchNormalization(scale=False)(x)
    x = keras.layers.Conv2D(4, 1, groups=1, use_bias=True)(x)
    x = keras.layers.BatchNormalization(epsilon=0.1)(x)
    # Not foldable: the convolution's output is read twice ...
    shared = keras.layers.Conv2D(4, 3, padding="same")(x)
    a = keras.layers.BatchNormalization(name="reads_shared")(shared)
    x = keras.layers.Add()([a, shared])
    # ... the convolution has an activation ...
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    x = keras.layers.BatchNormalization(name="after_relu_conv")(x)
    # ... and this one follows no convolution.
    x = keras.layers.BatchNormalization(name="after_norm")(x)
    return keras.Model(inputs, x, name="every_kind")


def test_every_kind_of_convolution_folds_and_the_outputs_agree():
    model = _every_kind()
    _randomize_statistics(model)
    before = [keras.ops.convert_to_numpy(w) for w in model.weights]
    x = np.random.default_rng(0).normal(0, 1, (2, 17, 23, 3))
    x = x.astype("float32")
    want = np.asarray(model(x))
    folded = folding.fold_batch_norm(model)
    got = np.asarray(folded(x))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    # 4 folded (one inside the nested block); the 3 that must not, kept.
    assert _norms(model) == 7
    assert _norms(folded) == 3
    kept = {
        layer.name
        for layer in folded._flatten_layers()
        if isinstance(layer, keras.layers.BatchNormalization)
    }
    assert kept == {"reads_shared", "after_relu_conv", "after_norm"}
    # The model itself is unchanged.
    for old, new in zip(before, model.weights, strict=True):
        np.testing.assert_array_equal(old, keras.ops.convert_to_numpy(new))
    np.testing.assert_array_equal(np.asarray(model(x)), want)


def test_a_folded_convolution_equals_the_definition():
    # Conv2D → BatchNorm folded against a numpy reference of both.
    inputs = keras.Input((8, 8, 2))
    conv = keras.layers.Conv2D(3, 1, use_bias=True)
    norm = keras.layers.BatchNormalization()
    model = keras.Model(inputs, norm(conv(inputs)))
    _randomize_statistics(model, seed=4)
    conv.bias.assign([0.5, -1.0, 2.0])
    x = np.random.default_rng(1).normal(0, 1, (1, 8, 8, 2)).astype("float32")
    pre = x @ np.asarray(conv.kernel)[0, 0] + np.asarray(conv.bias)
    want = _inference_map(norm, pre)
    folded = folding.fold_batch_norm(model)
    np.testing.assert_allclose(np.asarray(folded(x)), want, atol=1e-5)
    assert _norms(folded) == 0


@pytest.mark.parametrize("name", ["unet_tiny", "deeplabv3plus_tiny"])
def test_registered_models_fold_to_the_same_outputs(name, tmp_path):
    model = harness.build(name)
    _randomize_statistics(model)
    x = np.random.default_rng(0).uniform(0, 255, (2, 48, 64, 3))
    want = model.predict_on_batch(x.astype("float32"))
    folded = folding.fold_batch_norm(model)
    got = folded.predict_on_batch(x.astype("float32"))
    scale = np.abs(want).max()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * max(scale, 1))
    assert _norms(model) > 0 and _norms(folded) == 0
    # The model still saves and reloads as it was.
    path = tmp_path / "model.keras"
    model.save(path)
    again = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        again.predict_on_batch(x.astype("float32")), want, atol=1e-6
    )


def test_nothing_to_fold_returns_the_model_and_bad_input_is_named():
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3)(inputs))
    assert folding.fold_batch_norm(model) is model
    sequential = keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 3)]
    )
    with pytest.raises(TypeError, match="Functional"):
        folding.fold_batch_norm(sequential)
