"""FCN and DeepLabV3+: published structure, parameter arithmetic, options."""

import keras
import numpy as np
import pytest

import kerasseg

VGG16_NOTOP = 14_714_688  # keras.applications.VGG16(include_top=False)
RESNET50_NOTOP = 23_587_712  # keras.applications.ResNet50(include_top=False)


def _conv(k, cin, cout, bias=True):
    return k * k * cin * cout + (cout if bias else 0)


def _fcn_head(classes, variant):
    # fc6 (7×7×512→4096), fc7 (1×1 4096→4096), score_fr, as in the paper.
    count = _conv(7, 512, 4096) + _conv(1, 4096, 4096) + _conv(1, 4096, classes)
    upsample = {32: [64], 16: [4, 32], 8: [4, 4, 16]}[variant]
    skips = {32: [], 16: [512], 8: [512, 256]}[variant]
    count += sum(_conv(1, c, classes) for c in skips)
    # Transposed convolutions: kernel 2×factor, no bias.
    count += sum(k * k * classes * classes for k in upsample)
    return count


def test_fcn8s_vgg16_has_the_published_parameter_count():
    model = kerasseg.build("fcn8s_vgg16", num_classes=21)
    assert model.count_params() == 134_489_759
    assert VGG16_NOTOP + _fcn_head(21, 8) == 134_489_759


@pytest.mark.parametrize("variant", [32, 16])
def test_fcn_variants_parameter_arithmetic(variant):
    model = kerasseg.build(f"fcn{variant}s_vgg16", num_classes=21)
    assert model.count_params() == VGG16_NOTOP + _fcn_head(21, variant)


def test_fcn_skip_scores_start_at_zero_so_8s_starts_as_32s():
    # The paper initializes the added score layers to zero: a fresh FCN-8s
    # computes the bilinear upsampling of its own coarse scores.
    model = kerasseg.build("fcn8s_tiny", num_classes=2)
    for key in ("P4", "P3"):
        kernel = model.get_layer(f"decoder_score_{key}").kernel
        assert not np.asarray(kernel).any()


def test_fcn_needs_enough_levels():
    with pytest.raises(ValueError, match="FCN-8s needs 3 consecutive levels"):
        kerasseg.models.fcn8s(
            num_classes=2,
            encoder="conv",
            encoder_options={"depth": 1, "base_filters": 2},
            fc_filters=4,
            fc_kernel_size=1,
        )


def _deeplab_head(channels, low, filters=256, low_filters=48, classes=21):
    bn = 4 * filters
    count = _conv(1, channels, filters, bias=False) + bn
    for _ in range(3):  # separable 3×3 branches
        count += 9 * channels + channels * filters + bn
    count += _conv(1, channels, filters, bias=False) + bn  # image pooling
    count += _conv(1, 5 * filters, filters, bias=False) + bn  # projection
    count += _conv(1, low, low_filters, bias=False) + 4 * low_filters
    joined = filters + low_filters
    count += 9 * joined + joined * filters + bn
    count += 9 * filters + filters * filters + bn
    return count + _conv(1, filters, classes)


def test_deeplabv3plus_resnet50_parameter_arithmetic():
    model = kerasseg.build("deeplabv3plus_resnet50", num_classes=21)
    assert model.count_params() == RESNET50_NOTOP + _deeplab_head(2048, 256)


@pytest.mark.parametrize("output_stride, rates", [(16, 6), (8, 12)])
def test_deeplabv3plus_output_stride_sets_dilation_and_rates(
    output_stride, rates
):
    model = kerasseg.models.deeplabv3plus(
        num_classes=2,
        encoder="mobilenetv2",
        encoder_options={"alpha": 0.35},
        output_stride=output_stride,
        filters=8,
        low_level_filters=4,
    )
    encoder = model.get_layer("encoder")
    deepest = max(encoder.output, key=kerasseg.encoders.stride_of)
    assert kerasseg.encoders.stride_of(deepest) == output_stride
    branch = model.get_layer("decoder_aspp_branch1_conv")
    assert branch.dilation_rate == (rates, rates)
    y = model(np.zeros((1, 48, 80, 3), "float32"))
    assert tuple(y.shape) == (1, 48, 80, 2)


def test_deeplabv3plus_plain_convolutions_match_keras_hub_layout():
    separable = kerasseg.build("deeplabv3plus_tiny", num_classes=2)
    plain = kerasseg.build("deeplabv3plus_tiny", num_classes=2, separable=False)
    assert isinstance(
        plain.get_layer("decoder_aspp_branch1_conv"), keras.layers.Conv2D
    )
    assert isinstance(
        separable.get_layer("decoder_aspp_branch1_conv"),
        keras.layers.SeparableConv2D,
    )


def test_deeplabv3plus_needs_a_stride_4_level():
    with pytest.raises(ValueError, match="low-level features 'P2'"):
        kerasseg.models.deeplabv3plus(
            encoder="conv",
            output_stride=None,
            encoder_options={"depth": 2, "base_filters": 2},
            low_level_filters=2,
            filters=4,
            atrous_rates=(1,),
        )


# torchvision's deeplabv3_resnet50 (21 classes, with its auxiliary FCN head
# on conv4_x): 42,004,074 parameters, from its model documentation.
TORCHVISION_DEEPLABV3_RESNET50 = 42_004_074
# Its auxiliary head: 3×3 conv 1024→256 (no bias), batch norm, 1×1 to 21.
TORCHVISION_AUX = 9 * 1024 * 256 + 2 * 256 + 256 * 21 + 21
# keras.applications' ResNet50 convolutions have biases, torchvision's do
# not: 23,534,592 trainable against torchvision's 25,557,032 less its
# 2048 → 1000 classifier.
KERAS_RESNET50_BIASES = 23_534_592 - (25_557_032 - 2048 * 1000 - 1000)


def _trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_deeplabv3_resnet50_is_torchvisions_layout():
    model = kerasseg.build("deeplabv3_resnet50", num_classes=21)
    assert _trainable(model) == (
        TORCHVISION_DEEPLABV3_RESNET50 - TORCHVISION_AUX + KERAS_RESNET50_BIASES
    )
    # Output stride 8 with rates 12/24/36, plain convolutions.
    encoder = model.get_layer("encoder")
    assert max(encoder.output, key=kerasseg.encoders.stride_of) == "P3"
    for branch, rate in ((1, 12), (2, 24), (3, 36)):
        layer = model.get_layer(f"decoder_aspp_branch{branch}_conv")
        assert layer.dilation_rate == (rate, rate)
        assert not isinstance(layer, keras.layers.SeparableConv2D)
    assert model.get_layer("decoder_aspp_dropout").rate == 0.5
    y = model(np.zeros((1, 48, 80, 3), "float32"))
    assert tuple(y.shape) == (1, 48, 80, 21)


def test_deeplabv3_shares_deeplabv3plus_aspp_without_the_skip():
    kwargs = dict(
        num_classes=2,
        encoder="conv",
        output_stride=None,
        encoder_options={"depth": 3, "base_filters": 4},
        filters=8,
        atrous_rates=(1, 2),
        separable=False,
    )
    v3 = kerasseg.models.deeplabv3(**kwargs)
    plus = kerasseg.models.deeplabv3plus(low_level_filters=4, **kwargs)
    # V3+ adds the 1×1 reduction of P2 (16 channels → 4, and its batch
    # norm's 4 · 4) and, on the joined 8 + 4 channels, a 3×3 block where V3
    # reads 8, and a second block.
    low = 16 * 4 + 4 * 4
    first = 9 * (8 + 4) * 8 - 9 * 8 * 8
    second = 9 * 8 * 8 + 4 * 8
    assert plus.count_params() - v3.count_params() == low + first + second
    with pytest.raises(ValueError, match="atrous_rates"):
        kerasseg.models.deeplabv3(**{**kwargs, "atrous_rates": 6})
