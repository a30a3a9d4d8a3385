import keras
import numpy as np
import pytest

import kerasseg

SMALL = dict(depth=2, base_filters=4)


def _images(shape=(2, 24, 24, 1), seed=0):
    return np.random.default_rng(seed).random(shape).astype("float32")


def test_reconstruction_has_the_input_shape():
    model = kerasseg.models.conv_autoencoder((None, None, 4), **SMALL)
    assert tuple(model(_images((2, 30, 18, 4))).shape) == (2, 30, 18, 4)


def test_no_skip_connections_in_the_autoencoder():
    model = kerasseg.models.conv_autoencoder((None, None, 1), **SMALL)
    assert not [x for x in model.layers if "concat" in x.name]


def test_denoising_corrupts_only_at_training_time():
    model = kerasseg.models.conv_autoencoder(
        (None, None, 1),
        batch_norm=False,
        denoising=True,
        noise_stddev=0.5,
        mask_rate=0.3,
        **SMALL,
    )
    x = _images()
    inference = np.asarray(model(x, training=False))
    np.testing.assert_array_equal(inference, np.asarray(model(x)))
    training = np.asarray(model(x, training=True))
    assert np.abs(training - inference).max() > 1e-3


def test_without_denoising_training_and_inference_agree():
    model = kerasseg.models.conv_autoencoder(
        (None, None, 1), batch_norm=False, **SMALL
    )
    x = _images()
    np.testing.assert_allclose(
        np.asarray(model(x, training=True)),
        np.asarray(model(x, training=False)),
        atol=1e-6,
    )


def test_denoising_needs_some_corruption():
    with pytest.raises(ValueError, match="noise_stddev=0.0"):
        kerasseg.models.conv_autoencoder(denoising=True, noise_stddev=0.0)


@pytest.mark.parametrize(
    "kwargs, quoted",
    [
        (dict(noise_stddev=-1), "noise_stddev=-1"),
        (dict(mask_rate=1.5), "mask_rate=1.5"),
        (dict(depth=0), "depth=0"),
        (dict(upsampling="cubic"), "upsampling='cubic'"),
    ],
)
def test_bad_arguments_are_quoted(kwargs, quoted):
    with pytest.raises(ValueError, match=quoted):
        kerasseg.models.conv_autoencoder(**kwargs)


def _encoder_features(model, x):
    features = model.get_layer("encoder")(x, training=False)
    return {k: np.asarray(v) for k, v in features.items()}


@pytest.mark.slow  # second tier: an end-to-end run
def test_pretrained_encoder_moves_into_a_segmenter():
    x = _images((4, 32, 32, 1))
    autoencoder = kerasseg.models.conv_autoencoder((None, None, 1), **SMALL)
    autoencoder.compile(keras.optimizers.Adam(1e-2), "mse")
    autoencoder.fit(x, x, epochs=2, batch_size=2, verbose=0)
    segmenter = kerasseg.models.unet((None, None, 1), 2, **SMALL)

    before = _encoder_features(segmenter, x)
    result = kerasseg.copy_encoder_weights(autoencoder, segmenter)
    assert result is segmenter
    after = _encoder_features(segmenter, x)
    expected = _encoder_features(autoencoder, x)
    assert not np.allclose(before["P2"], expected["P2"])
    for key in expected:
        np.testing.assert_array_equal(after[key], expected[key])
    # BatchNorm moving statistics, updated by fit, came along too.
    src = autoencoder.get_layer("encoder").non_trainable_weights
    dst = segmenter.get_layer("encoder").non_trainable_weights
    for a, b in zip(src, dst):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_copy_between_different_encoders_names_the_mismatch():
    autoencoder = kerasseg.models.conv_autoencoder((None, None, 1), **SMALL)
    wider = kerasseg.models.unet((None, None, 1), 2, depth=2, base_filters=8)
    with pytest.raises(ValueError, match=r"shape \(3, 3, 1, 4\)"):
        kerasseg.copy_encoder_weights(autoencoder, wider)
    deeper = kerasseg.models.unet((None, None, 1), 2, depth=3, base_filters=4)
    with pytest.raises(ValueError, match="encoder variables"):
        kerasseg.copy_encoder_weights(autoencoder, deeper)


def test_copy_needs_an_encoder():
    inputs = keras.Input((8, 8, 1))
    plain = keras.Model(inputs, keras.layers.Conv2D(1, 1)(inputs))
    segmenter = kerasseg.models.unet((None, None, 1), 2, **SMALL)
    with pytest.raises(ValueError, match="no nested layer named 'encoder'"):
        kerasseg.copy_encoder_weights(plain, segmenter)
    with pytest.raises(TypeError, match="ndarray"):
        kerasseg.copy_encoder_weights(segmenter, np.zeros(3))
