"""Per-image percentile normalization, checked against numpy's formula."""

import keras
import numpy as np
import pytest

import kerasseg
from kerasseg.layers import PercentileNormalization


def test_equals_the_percentile_formula_per_image_and_channel():
    rng = np.random.default_rng(0)
    images = rng.gamma(2.0, 20.0, (3, 37, 29, 2)).astype("float32")
    images[1] += 40  # another background level
    layer = PercentileNormalization(low=2.0, high=99.0, min_range=0.0)
    low, high = np.percentile(images, [2.0, 99.0], axis=(1, 2), keepdims=True)
    expected = (images - low) / (high - low)
    np.testing.assert_allclose(layer(images), expected, rtol=1e-5, atol=1e-5)


def test_offset_and_gain_drop_out():
    rng = np.random.default_rng(1)
    image = rng.uniform(0, 200, (1, 40, 40, 1)).astype("float32")
    layer = PercentileNormalization()
    np.testing.assert_allclose(
        layer(3.0 * image + 17.0), layer(image), rtol=1e-4, atol=1e-4
    )


def test_min_range_keeps_a_flat_image_from_being_stretched():
    flat = np.full((1, 16, 16, 1), 10.0, "float32")
    flat[0, 0, 0, 0] = 14.0  # noise of 4 grey levels
    out = np.asarray(PercentileNormalization(0, 100, min_range=40)(flat))
    assert out.max() == pytest.approx(4 / 40)


@pytest.mark.parametrize(
    "kwargs",
    [{"low": 50, "high": 10}, {"low": -1}, {"high": 101}, {"min_range": -2}],
)
def test_bad_arguments_name_themselves(kwargs):
    with pytest.raises(ValueError, match="low|high|min_range"):
        PercentileNormalization(**kwargs)


def test_unet_option_saves_and_reloads(tmp_path):
    model = kerasseg.models.unet(
        (None, None, 1),
        2,
        depth=2,
        base_filters=4,
        input_normalization={"low": 1.0, "high": 99.0, "min_range": 5.0},
    )
    layer = model.get_layer("input_normalization")
    assert (layer.low, layer.high, layer.min_range) == (1.0, 99.0, 5.0)
    images = np.random.default_rng(2).uniform(0, 255, (2, 24, 20, 1))
    path = str(tmp_path / "m.keras")
    model.save(path)
    again = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        again.predict(images, verbose=0),
        model.predict(images, verbose=0),
        atol=1e-6,
    )
    # The model's output no longer depends on the image's offset and gain.
    np.testing.assert_allclose(
        model.predict(2 * images + 30, verbose=0),
        model.predict(images, verbose=0),
        atol=1e-4,
    )
    with pytest.raises(ValueError, match="input_normalization"):
        kerasseg.models.unet(input_normalization="zscore")
