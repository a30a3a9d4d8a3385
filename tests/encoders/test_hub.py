"""keras-hub backbones as encoders: built from config (random weights, no
download) and from a local preset folder."""

import keras
import keras_hub
import numpy as np
import pytest

import kerasseg
from kerasseg.encoders import get_encoder

# A small ResNet (keras-hub requires 64 stem and first-stage filters).
RESNET = {
    "class_name": "ResNetBackbone",
    "config": {
        "input_conv_filters": [64],
        "input_conv_kernel_sizes": [7],
        "stackwise_num_filters": [64, 32, 32, 32],
        "stackwise_num_blocks": [1, 1, 1, 1],
        "stackwise_num_strides": [1, 2, 2, 2],
        "block_type": "basic_block",
    },
}


def _pixels(shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


def _resnet(channels=3):
    config = {**RESNET["config"], "image_shape": (None, None, channels)}
    return keras_hub.models.ResNetBackbone(**config)


def _pyramid(backbone, x):
    model = keras.Model(backbone.inputs[0], backbone.pyramid_outputs)
    return {k: np.asarray(v) for k, v in model(x, training=False).items()}


def _features(encoder, x):
    return {k: np.asarray(v) for k, v in encoder(x, training=False).items()}


def test_config_backbone_gives_the_backbones_pyramid_keyed_by_stride():
    encoder = get_encoder("hub", (None, None, 3), backbone=RESNET)
    reference = _resnet()
    reference.set_weights(encoder.get_weights())
    x = _pixels((2, 64, 96, 3))
    got, want = _features(encoder, x), _pyramid(reference, x)
    # keras-hub's ResNet keys are strides already: P2 … P5.
    assert sorted(got) == sorted(want) == ["P2", "P3", "P4", "P5"]
    for key, value in want.items():
        assert got[key].shape[1:3] == (
            64 // 2 ** int(key[1]),
            96 // 2 ** int(key[1]),
        )
        np.testing.assert_allclose(got[key], value, rtol=1e-5, atol=1e-5)


def test_pyramid_keys_are_re_keyed_by_measured_stride():
    # keras-hub's MiT keys its stride-4 … 32 maps "P1" … "P4", and needs a
    # fixed image size.
    backbone = {
        "class_name": "MiTBackbone",
        "config": {
            "layerwise_depths": [1, 1, 1, 1],
            "num_layers": 4,
            "layerwise_num_heads": [1, 1, 1, 1],
            "layerwise_sr_ratios": [8, 4, 2, 1],
            "max_drop_path_rate": 0.0,
            "layerwise_patch_sizes": [7, 3, 3, 3],
            "layerwise_strides": [4, 2, 2, 2],
            "hidden_dims": [8, 8, 16, 16],
            "image_shape": (64, 64, 3),
        },
    }
    encoder = get_encoder("hub", (64, 64, 3), backbone=backbone)
    features = _features(encoder, _pixels((1, 64, 64, 3)))
    assert {k: v.shape[1] for k, v in features.items()} == {
        "P2": 16,
        "P3": 8,
        "P4": 4,
        "P5": 2,
    }
    with pytest.raises(ValueError, match="built for 64×64 images only"):
        get_encoder("hub", (None, None, 3), backbone=backbone)


def test_preset_folder_loads_its_weights_and_preprocessing(tmp_path):
    keras.utils.set_random_seed(3)
    backbone = _resnet()
    preset = tmp_path / "preset"
    backbone.save_to_preset(str(preset))
    x = _pixels((1, 64, 64, 3))
    # No image converter in the folder: "auto" refuses, None feeds the
    # pixels as they are.
    with pytest.raises(ValueError, match="has no image converter"):
        get_encoder("hub", (None, None, 3), weights=preset)
    plain = get_encoder(
        "hub", (None, None, 3), weights=preset, preprocessing=None
    )
    for key, value in _pyramid(backbone, x).items():
        np.testing.assert_allclose(_features(plain, x)[key], value, atol=1e-5)
    # With one, its scale and offset become the encoder's first layer.
    scale, offset = [1 / 58.4, 1 / 57.1, 1 / 57.4], [-2.1, -2.0, -1.8]
    keras_hub.layers.ImageConverter(scale=scale, offset=offset).save_to_preset(
        str(preset)
    )
    encoder = get_encoder("hub", (None, None, 3), weights=str(preset))
    expected = _pyramid(backbone, x * np.float32(scale) + np.float32(offset))
    for key, value in expected.items():
        np.testing.assert_allclose(
            _features(encoder, x)[key], value, rtol=1e-4, atol=1e-4
        )


def test_models_over_a_hub_backbone_reload_safely(tmp_path):
    model = kerasseg.models.unet(
        (None, None, 3),
        num_classes=2,
        encoder="hub",
        encoder_options={"backbone": RESNET},
    )
    path = tmp_path / "unet.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    x = _pixels((1, 48, 64, 3))
    np.testing.assert_allclose(
        np.asarray(reloaded(x)), np.asarray(model(x)), atol=1e-5
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({}, "exactly one of `encoder_weights`"),
        ({"weights": "x", "backbone": RESNET}, "exactly one of"),
        ({"backbone": {"config": {}}}, "must be a keras-hub Backbone config"),
        ({"backbone": {"class_name": "NoSuchBackbone"}}, "'NoSuchBackbone'"),
        ({"backbone": RESNET, "output_stride": 16}, "output_stride=16"),
        ({"backbone": RESNET, "preprocessing": "caffe"}, "preprocessing"),
        ({"weights": "/no/such/preset"}, "could not load the preset"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        get_encoder("hub", (None, None, 3), **kwargs)


def test_channels_must_match_the_backbone():
    backbone = {
        "class_name": "ResNetBackbone",
        "config": {**RESNET["config"], "image_shape": (None, None, 3)},
    }
    with pytest.raises(ValueError, match="takes 3-channel images"):
        get_encoder("hub", (None, None, 1), backbone=backbone)
