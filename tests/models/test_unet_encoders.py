"""U-Net and Attention U-Net over the registered encoders, and the native
ResNet18/34: published parameter counts, layer-by-layer arithmetic,
decoder widths and the errors for options that do not apply."""

import keras
import numpy as np
import pytest

import kerasseg
from kerasseg.encoders import get_encoder

# torchvision's resnet18 / resnet34 (11,689,512 / 21,797,672 parameters)
# without the 512 → 1000 classifier (513,000).
TORCHVISION_NOTOP = {"resnet18": 11_176_512, "resnet34": 21_284_672}
RESNET50_NOTOP = 23_534_592  # keras.applications ResNet50, trainable
# Encoder levels P1 … P5 of the ResNets: (channels) at strides 2 … 32.
RESNET_BASIC_LEVELS = (64, 64, 128, 256, 512)


def _trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def _decoder(levels, widths, upsampling):
    """Trainable parameters of the decoder blocks, written out: each block
    upsamples (a 2×2 transposed convolution with bias, or nothing for
    "nearest"), joins the skip of its level where the encoder has one and
    applies two 3×3 convolutions without bias, each followed by a
    BatchNormalization (γ and β)."""
    count, deeper = 0, levels[-1]
    skips = list(levels[:-1])[::-1] + [0] * (len(widths) - len(levels) + 1)
    for width, skip in zip(widths, skips):
        joined = deeper
        if upsampling == "transpose":
            count += 2 * 2 * deeper * width + width
            joined = width
        count += 9 * (joined + skip) * width + 2 * width
        count += 9 * width * width + 2 * width
        deeper = width
    return count


@pytest.mark.parametrize("name", ["resnet18", "resnet34"])
def test_native_resnets_have_torchvisions_parameters(name):
    encoder = get_encoder(name, (None, None, 3))
    assert _trainable(encoder) == TORCHVISION_NOTOP[name]
    features = encoder(np.zeros((1, 64, 96, 3), "float32"))
    assert {k: v.shape[-1] for k, v in features.items()} == dict(
        zip(["P1", "P2", "P3", "P4", "P5"], RESNET_BASIC_LEVELS)
    )


def test_resnet_strided_layers_pad_symmetrically():
    # torchvision pads a strided k×k convolution by (k - 1) / 2 on every
    # side; a centred impulse then stays centred at every stride.
    encoder = get_encoder("resnet18", (None, None, 1))
    for layer in encoder.get_layer("resnet18").layers:
        if isinstance(layer, keras.layers.Conv2D) and layer.strides[0] > 1:
            if layer.kernel_size[0] > 1:
                assert layer.padding == "valid", layer.name
                pad = encoder.get_layer("resnet18").get_layer(
                    layer.name.replace("_conv", "_pad")
                )
                assert pad.padding == ((layer.kernel_size[0] // 2,) * 2,) * 2


def test_unet_over_resnet34_is_segmentation_models_layout():
    # segmentation_models(.pytorch)'s Unet("resnet34"): decoder widths 256,
    # 128, 64, 32, 16, nearest upsampling, the last block at stride 1 with
    # no skip. Its head is a 3×3 convolution (16·9·C + C) where kerasseg's
    # is 1×1 (16·C + C); for C = 1 SMP counts 24,436,369.
    model = kerasseg.build("unet_resnet34", num_classes=1)
    widths = (256, 128, 64, 32, 16)
    expected = (
        TORCHVISION_NOTOP["resnet34"]
        + _decoder(RESNET_BASIC_LEVELS, widths, "nearest")
        + 16 * 1
        + 1
    )
    assert _trainable(model) == expected == 24_436_369 - (16 * 9 + 1) + 17
    assert model(np.zeros((1, 64, 96, 3), "float32")).shape == (1, 64, 96, 1)


@pytest.mark.parametrize(
    "encoder, levels, notop",
    [
        ("resnet18", RESNET_BASIC_LEVELS, TORCHVISION_NOTOP["resnet18"]),
        ("resnet50", (64, 256, 512, 1024, 2048), RESNET50_NOTOP),
    ],
)
def test_default_decoder_widths_over_a_pretrained_encoder(
    encoder, levels, notop
):
    model = kerasseg.models.unet((None, None, 3), 2, encoder=encoder)
    expected = notop + _decoder(levels, (256, 128, 64, 32, 16), "transpose")
    assert _trainable(model) == expected + 16 * 2 + 2


def test_fewer_decoder_blocks_stop_coarser_and_the_head_upsamples():
    model = kerasseg.models.unet(
        (None, None, 3), 3, encoder="resnet18", decoder_filters=(32, 16)
    )
    assert model.get_layer("decoder_block3_conv2").filters == 16
    assert "decoder_block2_conv1" not in {layer.name for layer in model.layers}
    assert model(np.zeros((2, 64, 96, 3), "float32")).shape == (2, 64, 96, 3)


def test_decoder_filters_over_the_conv_encoder():
    model = kerasseg.models.unet(
        (None, None, 1), 2, depth=3, base_filters=4, decoder_filters=(8, 8, 4)
    )
    for level, width in ((2, 8), (1, 8), (0, 4)):
        assert model.get_layer(f"decoder_block{level}_conv2").filters == width
    assert model(np.zeros((1, 40, 24, 1), "float32")).shape == (1, 40, 24, 2)


def test_attention_unet_over_an_encoder_gates_its_skips(tmp_path):
    model = kerasseg.models.attention_unet(
        (None, None, 3), 2, encoder="resnet18", decoder_filters=(32, 16, 8, 8)
    )
    names = [layer.name for layer in model.layers]
    # Levels 4 … 1 all have skips (the 4 blocks end at stride 2).
    assert sorted(n for n in names if "attention" in n) == [
        f"decoder_block{i}_attention" for i in (1, 2, 3, 4)
    ]
    x = np.random.default_rng(0).uniform(0, 255, (1, 64, 64, 3))
    path = tmp_path / "m.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        reloaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"encoder": "resnet18", "depth": 3}, r"\['depth'\] shape the 'conv'"),
        ({"encoder": "resnet18", "base_filters": 8}, "base_filters"),
        ({"encoder": "resnet18", "dropout": 0.5}, "dropout"),
        (
            {"encoder": "resnet18", "input_normalization": "percentile"},
            "input_normalization",
        ),
        ({"encoder": "conv", "encoder_weights": "imagenet"}, "encoder_weights"),
        # (ResNet18's "imagenet" is torchvision's: test_torch_weights.py.)
        ({"encoder": "resnet18", "encoder_weights": 3}, "encoder_weights=3"),
        ({"encoder": "resnet18", "decoder_filters": 16}, "list of block"),
        ({"encoder": "resnet18", "decoder_filters": [8] * 6}, "1 to 5"),
        ({"encoder": "resnet18", "decoder_filters": [8, 0]}, "decoder_filt"),
        ({"encoder": "resnet"}, "Unknown encoder 'resnet'"),
        ({"upsampling": "cubic"}, "upsampling"),
    ],
)
def test_options_that_do_not_apply_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        kerasseg.models.unet((None, None, 3), 1, **kwargs)


@pytest.mark.slow
def test_unet_over_resnet18_trains_under_xla():
    model = kerasseg.build("unet_resnet18", num_classes=3)
    model.compile(
        keras.optimizers.Adam(1e-3),
        kerasseg.losses.DiceCrossEntropy(num_classes=3),
        jit_compile=True,
    )
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (4, 64, 64, 3)).astype("float32")
    # Classes by brightness of the red channel's 16×16 blocks.
    blocks = x[:, ::16, ::16, 0].repeat(16, 1).repeat(16, 2)
    x[..., 0] = blocks
    y = np.digitize(blocks, [85, 170]).astype("int32")
    history = model.fit(x, y, batch_size=4, epochs=15, verbose=0)
    losses = history.history["loss"]
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.7 * losses[0]


@pytest.mark.slow
@pytest.mark.parametrize(
    # keras.applications' documented totals less the 2048 → 1000 classifier.
    "name, published",
    [
        ("resnet101", 44_707_176 - 2_049_000),
        ("resnet152", 60_419_944 - 2_049_000),
    ],
)
def test_deep_resnets_have_keras_applications_parameters(name, published):
    encoder = get_encoder(name, (None, None, 3))
    assert encoder.count_params() == published
    assert sorted(encoder.output) == ["P1", "P2", "P3", "P4", "P5"]


# EfficientNetB1 … B7: stage ends found from keras.applications' block
# repeats; levels and counts must match the application's.
EFFICIENTNET_LEVELS = {
    1: (16, 24, 40, 112, 1280),
    2: (16, 24, 48, 120, 1408),
    3: (24, 32, 48, 136, 1536),
    4: (24, 32, 56, 160, 1792),
    5: (24, 40, 64, 176, 2048),
    6: (32, 40, 72, 200, 2304),
    7: (32, 48, 80, 224, 2560),
}


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(v, marks=pytest.mark.slow if v < 3 else pytest.mark.large)
        for v in EFFICIENTNET_LEVELS
    ],
)
def test_larger_efficientnets_match_keras_applications(variant):
    encoder = get_encoder(f"efficientnetb{variant}", (None, None, 3))
    application = getattr(keras.applications, f"EfficientNetB{variant}")(
        include_top=False, weights=None, input_shape=(None, None, 3)
    )
    assert encoder.count_params() == application.count_params()
    features = encoder(np.zeros((1, 64, 64, 3), "float32"))
    assert [features[f"P{n}"].shape[1] for n in range(1, 6)] == [
        32,
        16,
        8,
        4,
        2,
    ]
    assert (
        tuple(features[f"P{n}"].shape[-1] for n in range(1, 6))
        == (EFFICIENTNET_LEVELS[variant])
    )
