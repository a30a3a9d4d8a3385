import re

import keras
import numpy as np
import pytest

import kerasseg


@pytest.mark.parametrize(
    "channels, num_classes, expected",
    [
        # The paper's network, 1 channel in, 2 classes out; the widely
        # quoted ~31.0M, computed layer by layer in
        # shared/reference/anchors-features.md.
        (1, 2, 31_030_658),
        (3, 1, 31_031_745),
    ],
)
def test_unet_classic_parameter_count(channels, num_classes, expected):
    model = kerasseg.build(
        "unet_classic",
        input_shape=(None, None, channels),
        num_classes=num_classes,
    )
    assert model.count_params() == expected


def test_unet_with_batch_norm_parameter_count():
    # Same reference: 3 channels, 2 classes, BN after every 3x3 conv (bias
    # off there), 31,049,474.
    model = kerasseg.build("unet", input_shape=(None, None, 3), num_classes=2)
    assert model.count_params() == 31_049_474


def _level_widths(base, depth):
    return [base * 2**level for level in range(depth + 1)]


def test_attention_gates_add_exactly_their_own_parameters():
    base, depth = 8, 3
    plain = kerasseg.models.unet(num_classes=2, depth=depth, base_filters=base)
    gated = kerasseg.models.attention_unet(
        num_classes=2, depth=depth, base_filters=base
    )
    # Each gate: theta 1x1 (no bias) on the skip, phi 1x1 (bias) on the
    # upsampled decoder feature (same width as the skip), psi 1x1 to 1.
    expected = 0
    for width in _level_widths(base, depth)[:-1]:
        inter = width // 2
        expected += width * inter + (width * inter + inter) + (inter + 1)
    assert gated.count_params() - plain.count_params() == expected


def test_bilinear_upsampling_uses_a_3x3_conv_instead_of_2x2_transpose():
    kwargs = dict(num_classes=2, depth=3, base_filters=8, batch_norm=False)
    transpose = kerasseg.models.unet(upsampling="transpose", **kwargs)
    bilinear = kerasseg.models.unet(upsampling="bilinear", **kwargs)
    widths = _level_widths(8, 3)
    expected = sum(
        (9 - 4) * deeper * width for width, deeper in zip(widths, widths[1:])
    )
    assert bilinear.count_params() - transpose.count_params() == expected


def test_layers_are_named_predictably():
    model = kerasseg.models.unet(num_classes=2, depth=2, base_filters=4)
    names = {layer.name for layer in model.layers}
    assert {"image", "encoder", "decoder_block1_conv1", "head_conv"} <= names
    encoder = model.get_layer("encoder")
    assert sorted(encoder.output) == ["P0", "P1", "P2"]
    assert encoder.get_layer("block2_conv2").filters == 16


def test_dropout_sits_at_the_end_of_the_contracting_path():
    model = kerasseg.models.unet(depth=2, base_filters=4, dropout=0.5)
    encoder = model.get_layer("encoder")
    dropout = encoder.get_layer("block2_dropout")
    assert dropout.rate == 0.5
    assert encoder.output["P2"] is dropout.output


def test_freezing_the_nested_encoder_keeps_it_fixed_through_fit():
    model = kerasseg.models.unet(num_classes=2, depth=2, base_filters=4)
    encoder = model.get_layer("encoder")
    encoder.trainable = False
    frozen = {id(v) for v in encoder.weights}
    assert not frozen & {id(v) for v in model.trainable_weights}
    assert any("moving_mean" in v.path for v in encoder.weights)

    before = [np.array(v) for v in model.weights]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 16, 16, 3)).astype("float32")
    y = rng.integers(0, 2, (4, 16, 16))
    model.compile(
        keras.optimizers.Adam(1e-2),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(x, y, epochs=2, batch_size=2, verbose=0)
    for variable, old in zip(model.weights, before):
        changed = not np.array_equal(np.asarray(variable), old)
        # BatchNorm statistics of a frozen encoder stay fixed too.
        assert changed != (id(variable) in frozen), variable.path


def test_softmax_output_sums_to_one():
    model = kerasseg.models.unet(
        num_classes=4, depth=2, base_filters=4, activation="softmax"
    )
    y = np.asarray(model(np.random.default_rng(0).random((1, 20, 30, 3))))
    np.testing.assert_allclose(y.sum(-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("builder", ["unet", "attention_unet"])
@pytest.mark.parametrize(
    "kwargs, quoted",
    [
        (dict(depth=-1), "depth=-1"),
        (dict(depth=2.5), "depth=2.5"),
        (dict(num_classes=0), "num_classes=0"),
        (dict(base_filters=0), "base_filters=0"),
        (dict(upsampling="cubic"), "upsampling='cubic'"),
        (dict(dropout=1.0), "dropout=1.0"),
        (dict(input_shape=(64, 64)), "input_shape=(64, 64)"),
        (dict(input_shape=(None, None, None)), "(None, None, None)"),
        (dict(input_shape=(0, 64, 3)), "input_shape=(0, 64, 3)"),
        (dict(activation="softmax"), "activation='softmax'"),
        (dict(activation="sigmoidd"), "activation='sigmoidd'"),
    ],
)
def test_bad_arguments_are_quoted_in_the_error(builder, kwargs, quoted):
    with pytest.raises(ValueError, match=re.escape(quoted)):
        getattr(kerasseg.models, builder)(**kwargs)


def test_fixed_settings_of_a_configuration_cannot_be_overridden():
    with pytest.raises(ValueError, match="batch_norm"):
        kerasseg.build("unet_classic", batch_norm=True)
