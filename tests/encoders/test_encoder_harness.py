"""The encoder contract, for every registered encoder: stride-keyed outputs
whose sizes follow the keys, channels read from the shapes, any number of
input channels, dilation, unfreezing by level, and a `.keras` round trip.

Parametrized over `kerasseg.encoders.ENCODERS`, so a new encoder gets these
tests for free once it brings a (small) example below; the first test fails
until it does.
"""

import keras
import numpy as np
import pytest

import kerasseg
from kerasseg.encoders import ENCODERS
from kerasseg.encoders import get_encoder
from kerasseg.encoders import stride_of
from kerasseg.encoders.applications import layer_strides
from tests.encoders.test_hub import RESNET as HUB_RESNET

# encoder name → small options; whether it takes `output_stride`.
EXAMPLES = {
    "conv": ({"depth": 3, "base_filters": 4}, False),
    "convnextbase": ({}, True),
    "convnextlarge": ({}, True),
    "convnextsmall": ({}, True),
    "convnexttiny": ({}, True),
    "convnextxlarge": ({}, True),
    "densenet121": ({}, True),
    "densenet169": ({}, True),
    "densenet201": ({}, True),
    "efficientnetb0": ({}, True),
    "efficientnetb1": ({}, True),
    "efficientnetb2": ({}, True),
    "efficientnetb3": ({}, True),
    "efficientnetb4": ({}, True),
    "efficientnetb5": ({}, True),
    "efficientnetb6": ({}, True),
    "efficientnetb7": ({}, True),
    "efficientnetv2b0": ({}, True),
    "efficientnetv2b1": ({}, True),
    "efficientnetv2b2": ({}, True),
    "efficientnetv2b3": ({}, True),
    "efficientnetv2l": ({}, True),
    "efficientnetv2m": ({}, True),
    "efficientnetv2s": ({}, True),
    # A small keras-hub ResNet from config (tests/encoders/test_hub.py).
    "hub": ({"backbone": HUB_RESNET}, False),
    "mobilenetv2": ({"alpha": 0.35}, True),
    "mobilenetv3large": ({}, True),
    "mobilenetv3small": ({}, True),
    "resnet18": ({}, True),
    "resnet34": ({}, True),
    "resnet50": ({}, True),
    "resnet101": ({}, True),
    "resnet152": ({}, True),
    "resnet50v2": ({}, True),
    "resnet101v2": ({}, True),
    "resnet152v2": ({}, True),
    "vgg16": ({}, True),
}
NAMES = sorted(ENCODERS)
# The large encoders take 4–7 s per check; the default run checks
# MobileNetV2, MobileNetV3Small and ResNet18 (and the plain ones), the
# second tier them all.
LARGE = {
    "convnexttiny",
    "densenet121",
    "efficientnetb0",
    "efficientnetv2b0",
    "mobilenetv3large",
    "resnet34",
    "resnet50",
    "resnet50v2",
}
# The deepest ResNets and DenseNets, EfficientNetB1–B7, EfficientNetV2
# B1–L and ConvNeXt Small–XLarge (10–40 s per check) are checked with
# --run-large.
HUGE = {
    "densenet169",
    "densenet201",
    "resnet101",
    "resnet152",
    "resnet101v2",
    "resnet152v2",
    *(f"efficientnetb{i}" for i in range(1, 8)),
    *(f"efficientnetv2{v}" for v in ("b1", "b2", "b3", "s", "m", "l")),
    *(f"convnext{v}" for v in ("small", "base", "large", "xlarge")),
}


def names():
    return [
        pytest.param(n, marks=pytest.mark.large)
        if n in HUGE
        else pytest.param(n, marks=pytest.mark.slow)
        if n in LARGE
        else n
        for n in NAMES
    ]


def _build(name, channels=3, **kwargs):
    options, _ = EXAMPLES[name]
    return get_encoder(name, (None, None, channels), **options, **kwargs)


def _pixels(shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


def test_every_registered_encoder_has_an_example():
    assert sorted(EXAMPLES) == NAMES


@pytest.mark.parametrize("channels", [1, 4])
@pytest.mark.parametrize("name", names())
def test_stride_keyed_features_at_any_input_channels(name, channels):
    encoder = _build(name, channels)
    assert encoder.name == "encoder"
    declared = encoder.output
    features = encoder(_pixels((2, 64, 96, channels)), training=False)
    assert sorted(features) == sorted(declared)
    levels = sorted(features, key=stride_of)
    assert [stride_of(k) for k in levels] == sorted(
        {stride_of(k) for k in levels}
    )
    for key, value in features.items():
        stride = stride_of(key)
        assert tuple(value.shape) == (
            2,
            64 // stride,
            96 // stride,
            declared[key].shape[-1],  # channels read from the shapes
        ), key
        assert np.isfinite(np.asarray(value)).all(), key


@pytest.mark.parametrize("output_stride", [16, 8])
@pytest.mark.parametrize("name", names())
def test_output_stride_dilates_the_deepest_levels(name, output_stride):
    _, dilates = EXAMPLES[name]
    if not dilates:
        with pytest.raises(ValueError, match="output_stride"):
            _build(name, output_stride=output_stride)
        return
    features = _build(name, output_stride=output_stride)(
        _pixels((1, 64, 96, 3))
    )
    # Every level up to the output stride, keyed by the stride it has.
    assert (
        sorted(features, key=stride_of)[-1]
        == f"P{output_stride.bit_length() - 1}"
    )
    for key, value in features.items():
        stride = stride_of(key)
        assert value.shape[1:3] == (64 // stride, 96 // stride), key


@pytest.mark.parametrize("name", names())
def test_unfreezing_from_a_level_trains_that_level_and_deeper(name):
    encoder = _build(name)
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, encoder(inputs))
    kerasseg.freeze_encoder(model)
    assert not model.trainable_weights
    levels = sorted(encoder.output, key=stride_of)
    level = levels[len(levels) // 2]
    kerasseg.unfreeze_encoder(model, from_level=level)
    trainable = {id(w) for w in model.trainable_weights}
    assert trainable
    strides = {}
    for layer, stride in layer_strides(encoder):
        for weight in layer.trainable_weights + layer.non_trainable_weights:
            strides[id(weight)] = (stride, layer)
    for weight_id in trainable:
        stride, layer = strides[weight_id]
        assert stride >= stride_of(level), layer.name
        assert not isinstance(layer, keras.layers.BatchNormalization)
    shallow = [w for w, (s, _) in strides.items() if s < stride_of(level)]
    assert shallow and not trainable & set(shallow)


@pytest.mark.parametrize("name", names())
def test_encoder_reloads_safely_with_the_same_features(name, tmp_path):
    # Preprocessing layers, a dilated config and EfficientNet's folded
    # normalization statistics must all survive a .keras round trip.
    dilated = {"output_stride": 16} if EXAMPLES[name][1] else {}
    encoder = _build(name, channels=2, **dilated)
    path = tmp_path / "encoder.keras"
    encoder.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    x = _pixels((1, 48, 64, 2))
    want = encoder(x, training=False)
    got = reloaded(x, training=False)
    for key in want:
        np.testing.assert_allclose(
            np.asarray(got[key]), np.asarray(want[key]), atol=1e-4, err_msg=key
        )
