"""ResizeToReference, ImageNetPreprocessing, the transformer layers and the
bilinear initializer."""

import keras
import numpy as np
import pytest

import kerasseg
from kerasseg import layers
from tests.layers.test_layers import _round_trip


def test_resize_to_reference_broadcasts_and_resizes():
    layer = layers.ResizeToReference()
    pooled = np.arange(4, dtype="float32").reshape(1, 1, 1, 4)
    y = np.asarray(layer([pooled, np.zeros((1, 5, 3, 2), "float32")]))
    assert y.shape == (1, 5, 3, 4)
    np.testing.assert_array_equal(y, np.broadcast_to(pooled, y.shape))
    x = np.random.default_rng(0).normal(size=(2, 4, 6, 3)).astype("float32")
    expected = keras.ops.image.resize(x, (8, 12), interpolation="bilinear")
    got = layer([x, np.zeros((2, 8, 12, 1), "float32")])
    np.testing.assert_allclose(np.asarray(got), np.asarray(expected), atol=1e-5)
    _round_trip(layer)


@pytest.mark.parametrize("factor", [1, 2, 3, 4, 8])
def test_bilinear_upsample_equals_keras_resize(factor):
    layer = layers.BilinearUpsample(factor)
    x = np.random.default_rng(2).normal(size=(2, 5, 7, 3)).astype("float32")
    expected = keras.ops.image.resize(
        x, (5 * factor, 7 * factor), interpolation="bilinear"
    )
    np.testing.assert_allclose(
        np.asarray(layer(x)), np.asarray(expected), atol=1e-5
    )
    assert _round_trip(layer).factor == factor


def test_resize_layers_trace_with_unknown_sizes():
    # What keras.ops.image.resize cannot do with TensorFlow (Keras 3.15).
    tf = pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("TensorFlow graph tracing")
    upsample = layers.BilinearUpsample(4)
    resize = layers.ResizeToReference()
    spec = tf.TensorSpec((None, None, None, 2))

    @tf.function(input_signature=[spec, spec])
    def both(x, ref):
        return upsample(x), resize([x, ref])

    x = np.random.default_rng(3).normal(size=(1, 3, 5, 2)).astype("float32")
    ref = np.zeros((1, 7, 4, 2), "float32")
    up, resized = both(x, ref)
    np.testing.assert_allclose(
        up, keras.ops.image.resize(x, (12, 20)), atol=1e-5
    )
    np.testing.assert_allclose(
        resized, keras.ops.image.resize(x, (7, 4)), atol=1e-5
    )


def test_imagenet_preprocessing_channels_and_config():
    layer = layers.ImageNetPreprocessing("caffe")
    grey = np.full((1, 1, 1, 1), 200.0, "float32")
    mean = np.mean([103.939, 116.779, 123.68])
    np.testing.assert_allclose(np.asarray(layer(grey)), 200.0 - mean, rtol=1e-6)
    four = np.array([[[[10.0, 20.0, 30.0, 40.0]]]], "float32")
    out = np.asarray(layers.ImageNetPreprocessing("caffe")(four))
    # B, G, R first (means subtracted), then the 4th channel with B's mean.
    np.testing.assert_allclose(
        out[0, 0, 0],
        [30 - 103.939, 20 - 116.779, 10 - 123.68, 40 - 103.939],
        rtol=1e-5,
    )
    _round_trip(layer)
    with pytest.raises(ValueError, match="style='pytorch'"):
        layers.ImageNetPreprocessing("pytorch")


def test_torch_preprocessing_equals_keras_applications_torch_mode():
    rgb = np.random.default_rng(0).uniform(0, 255, (2, 3, 5, 3))
    rgb = rgb.astype("float32")
    want = keras.applications.imagenet_utils.preprocess_input(
        rgb.copy(), mode="torch"
    )
    layer = layers.ImageNetPreprocessing("torch")
    np.testing.assert_allclose(np.asarray(layer(rgb)), want, atol=1e-5)
    # A 4th channel cycles back to R's statistics; grey uses their means.
    four = np.concatenate([rgb, rgb[..., :1]], -1)
    out = np.asarray(layers.ImageNetPreprocessing("torch")(four))
    np.testing.assert_allclose(out[..., 3], want[..., 0], atol=1e-5)
    grey = np.asarray(layers.ImageNetPreprocessing("torch")(rgb[..., :1]))
    expected = (rgb[..., :1] / 255 - np.mean([0.485, 0.456, 0.406])) / np.mean(
        [0.229, 0.224, 0.225]
    )
    np.testing.assert_allclose(grey, expected, atol=1e-5)
    _round_trip(layer)


def _sinusoid_reference(height, width, channels):
    quarter = channels // 4
    freq = np.exp(np.arange(quarter) * (-np.log(10000.0) / quarter))
    table = np.zeros((height, width, channels))
    for i in range(height):
        for j in range(width):
            table[i, j] = np.concatenate(
                [
                    np.sin(i * freq),
                    np.cos(i * freq),
                    np.sin(j * freq),
                    np.cos(j * freq),
                ]
            )
    return table


def test_sinusoidal_position_embedding_matches_the_formula():
    layer = layers.PositionEmbedding2D("sinusoidal")
    x = np.zeros((2, 3, 5, 8), "float32")
    np.testing.assert_allclose(
        np.asarray(layer(x))[1], _sinusoid_reference(3, 5, 8), atol=1e-6
    )
    _round_trip(layer)
    with pytest.raises(ValueError, match="multiple of 4"):
        layer = layers.PositionEmbedding2D("sinusoidal")
        layer(np.zeros((1, 2, 2, 6), "float32"))


def test_learned_position_embedding_is_the_table_at_its_grid_size():
    layer = layers.PositionEmbedding2D("learned", grid_size=(3, 4))
    x = np.zeros((1, 3, 4, 8), "float32")
    y = np.asarray(layer(x))
    np.testing.assert_allclose(y[0], np.asarray(layer.table), atol=1e-6)
    # Other sizes: the table bilinearly resized.
    resized = keras.ops.image.resize(layer.table[None], (6, 2))
    np.testing.assert_allclose(
        np.asarray(layer(np.zeros((1, 6, 2, 8), "float32")))[0],
        np.asarray(resized)[0],
        atol=1e-6,
    )
    assert _round_trip(layer).grid_size == (3, 4)


def test_transformer_block_is_permutation_equivariant_over_pixels():
    # Without position information, attention cannot tell pixels apart:
    # permuting the pixels must permute the output the same way.
    block = layers.TransformerBlock(num_heads=2, mlp_dim=16)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 4, 8)).astype("float32")
    y = np.asarray(block(x)).reshape(2, 12, 8)
    order = rng.permutation(12)
    shuffled = x.reshape(2, 12, 8)[:, order].reshape(2, 3, 4, 8)
    y_shuffled = np.asarray(block(shuffled)).reshape(2, 12, 8)
    np.testing.assert_allclose(y_shuffled, y[:, order], atol=1e-5)
    # And it does mix pixels (not a per-pixel function).
    changed = x.copy()
    # (Not a constant shift: LayerNorm would remove it.)
    changed[:, 0, 0] += 3.0 * rng.normal(size=8)
    assert not np.allclose(np.asarray(block(changed))[:, 2, 3], y[:, 11])
    _round_trip(block)
    with pytest.raises(ValueError, match="num_heads=3"):
        layers.TransformerBlock(num_heads=3, mlp_dim=4)(x)


@pytest.mark.parametrize("factor", [2, 8, 32])
def test_bilinear_upsampling_initializer_is_bilinear_interpolation(factor):
    # Checked against keras.ops.image.resize (half-pixel centres) away from
    # the border, where the transposed convolution sees zero padding.
    layer = keras.layers.Conv2DTranspose(
        3,
        2 * factor,
        strides=factor,
        padding="same",
        use_bias=False,
        kernel_initializer=kerasseg.initializers.BilinearUpsampling(),
    )
    x = np.random.default_rng(1).normal(size=(1, 6, 7, 3)).astype("float32")
    y = np.asarray(layer(x))
    expected = np.asarray(
        keras.ops.image.resize(x, (6 * factor, 7 * factor), antialias=False)
    )
    inner = slice(factor, -factor)
    np.testing.assert_allclose(
        y[:, inner, inner], expected[:, inner, inner], atol=1e-5
    )
    config = keras.saving.serialize_keras_object(layer.kernel_initializer)
    restored = keras.saving.deserialize_keras_object(config)
    assert isinstance(restored, kerasseg.initializers.BilinearUpsampling)
