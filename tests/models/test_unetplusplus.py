"""U-Net++: the paper's parameter counts, the nested layout written out
node by node, and its options."""

import numpy as np
import pytest

import kerasseg


def _conv(k, cin, cout):
    return k * k * cin * cout + cout


def _count(channels, classes, base, depth):
    """Without batch norm: the U-Net encoder (two 3×3 convolutions per
    level), node X(i, j) = 2×2 transposed convolution from level i + 1 and
    two 3×3 convolutions over j earlier nodes plus that upsampling, all of
    level i's width, and a 1×1 head."""
    w = [base * 2**i for i in range(depth + 1)]
    count = _conv(3, channels, w[0]) + _conv(3, w[0], w[0])
    for i in range(1, depth + 1):
        count += _conv(3, w[i - 1], w[i]) + _conv(3, w[i], w[i])
    for j in range(1, depth + 1):
        for i in range(depth - j + 1):
            count += 2 * 2 * w[i + 1] * w[i] + w[i]
            count += _conv(3, (j + 1) * w[i], w[i]) + _conv(3, w[i], w[i])
    return count + _conv(1, w[0], classes)


@pytest.mark.parametrize("channels, depth", [(1, 4), (3, 3)])
def test_nested_layout_parameter_arithmetic(channels, depth):
    model = kerasseg.models.unetplusplus(
        (None, None, channels), 2, depth=depth, batch_norm=False
    )
    assert model.count_params() == _count(channels, 2, 32, depth)


def test_the_papers_parameter_counts():
    # Zhou et al. (2018), Table 2: U-Net 7.76 M, UNet++ 9.04 M (base 32,
    # depth 4, one output).
    unet = kerasseg.models.unet(
        (None, None, 1), 1, depth=4, base_filters=32, batch_norm=False
    )
    nested = kerasseg.models.unetplusplus((None, None, 1), 1, batch_norm=False)
    assert round(unet.count_params() / 1e6, 2) == 7.76
    assert round(nested.count_params() / 1e6, 2) == 9.04


def test_over_resnet34_with_segmentation_models_widths():
    model = kerasseg.build("unetplusplus_resnet34", num_classes=3)
    names = {layer.name for layer in model.layers}
    # Levels P1 … P5: nodes on P1 … P4, X(0, 4) the output at stride 2.
    assert "decoder_x0_4_conv2" in names and "decoder_x1_4_conv2" not in names
    widths = [
        model.get_layer(f"decoder_x{i}_1_conv2").filters for i in range(4)
    ]
    assert widths == [32, 64, 128, 256]
    assert model(np.zeros((1, 64, 96, 3), "float32")).shape == (1, 64, 96, 3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"decoder_filters": [8, 8]}, "one width per level"),
        ({"decoder_filters": 8}, "list of widths"),
        ({"decoder_filters": [8, 0, 8]}, "decoder_filters"),
        ({"encoder": "resnet18", "depth": 3}, "depth"),
    ],
)
def test_bad_options_are_refused(kwargs, match):
    options = {"depth": 3, "base_filters": 4}
    if "encoder" in kwargs:
        options = {}
    with pytest.raises(ValueError, match=match):
        kerasseg.models.unetplusplus(num_classes=2, **{**options, **kwargs})


def test_over_resnet50_parameter_arithmetic():
    from tests.models.test_unet_encoders import RESNET50_NOTOP

    model = kerasseg.models.unetplusplus(
        (None, None, 3), 4, encoder="resnet50", upsampling="nearest"
    )
    e = (64, 256, 512, 1024, 2048)  # P1 … P5
    w = (32, 64, 128, 256)  # node widths of P1 … P4
    count = 0
    for j in range(1, 5):
        for i in range(5 - j):
            # X(i, 0), j - 1 earlier nodes, the node below (nearest
            # upsampling keeps its channels).
            below = e[i + 1] if j == 1 else w[i + 1]
            joined = e[i] + (j - 1) * w[i] + below
            count += 9 * joined * w[i] + 2 * w[i]  # no bias, BN's γ, β
            count += 9 * w[i] * w[i] + 2 * w[i]
    head = 32 * 4 + 4
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    assert trainable == RESNET50_NOTOP + count + head


def test_deep_supervision_heads_every_top_node(tmp_path):
    import keras

    kwargs = {"depth": 3, "base_filters": 4, "batch_norm": False}
    plain = kerasseg.models.unetplusplus((None, None, 1), 2, **kwargs)
    deep = kerasseg.models.unetplusplus(
        (None, None, 1), 2, deep_supervision=True, **kwargs
    )
    # One more 1×1 head (4 · 2 + 2) on each of X(0, 1) and X(0, 2).
    assert deep.count_params() == plain.count_params() + 2 * _conv(1, 4, 2)
    assert deep.count_params() == _count(1, 2, 4, 3) + 2 * _conv(1, 4, 2)
    x = np.random.default_rng(0).normal(size=(2, 37, 45, 1)).astype("float32")
    outputs = deep(x)
    assert sorted(outputs) == ["deep_1", "deep_2", "mask"]
    for value in outputs.values():
        assert tuple(value.shape) == (2, 37, 45, 2)
    # "mask" is the plain model's output: same graph, same weights.
    for layer in plain.layers:
        layer.set_weights(deep.get_layer(layer.name).get_weights())
    np.testing.assert_allclose(
        np.asarray(outputs["mask"]), np.asarray(plain(x)), atol=1e-5
    )
    # The deep heads differ from the final one: they score other nodes.
    assert not np.allclose(
        np.asarray(outputs["deep_1"]), np.asarray(outputs["mask"])
    )
    # One loss per output, the same mask as every target.
    deep.compile(
        "adam",
        loss={k: "sparse_categorical_crossentropy" for k in deep.output},
    )
    y = np.random.default_rng(1).integers(0, 2, (2, 37, 45))
    logs = deep.train_on_batch(x, {k: y for k in deep.output}, return_dict=True)
    assert {"deep_1_loss", "deep_2_loss", "mask_loss"} <= set(logs)
    path = tmp_path / "deep.keras"
    deep.save(path)
    again = keras.saving.load_model(path, safe_mode=True)
    for key, value in deep(x).items():
        np.testing.assert_allclose(
            np.asarray(again(x)[key]), np.asarray(value), atol=1e-5
        )
