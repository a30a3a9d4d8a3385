"""The DeepLab decoders: ASPP on the deepest level, then one 3×3
convolution (DeepLabV3) or a stride-4 skip and two (DeepLabV3+)."""

import keras

from kerasseg.blocks import conv_bn_relu
from kerasseg.encoders.base import levels_deepest_first
from kerasseg.encoders.base import stride_of
from kerasseg.layers import atrous
from kerasseg.layers.resize import BilinearUpsample
from kerasseg.layers.resize import ResizeToReference


def _conv_bn_relu(x, filters, kernel, *, name, dilation=1, separable=False):
    # The atrous layers equal keras.layers' but skip the taps of a dilated
    # kernel that only read padding (ASPP's rates on small maps).
    conv = atrous.Conv2D
    if separable and kernel > 1:
        conv = atrous.SeparableConv2D
    return conv_bn_relu(
        x, filters, kernel, name=name, conv=conv, dilation_rate=dilation
    )


def aspp(x, *, filters, atrous_rates, dropout, separable=True, name="aspp"):
    """Atrous spatial pyramid pooling (Chen et al., DeepLabV3).

    Parallel branches: a 1×1 convolution, one 3×3 convolution per rate in
    `atrous_rates`, and image pooling (global average, 1×1 convolution,
    broadcast back), each with batch norm and ReLU; concatenated and
    projected by a 1×1 convolution. `separable=True` makes the 3×3
    branches depthwise-separable (DeepLabV3+'s choice).
    """
    branches = [_conv_bn_relu(x, filters, 1, name=f"{name}_branch0")]
    for i, rate in enumerate(atrous_rates, start=1):
        branches.append(
            _conv_bn_relu(
                x,
                filters,
                3,
                dilation=rate,
                separable=separable,
                name=f"{name}_branch{i}",
            )
        )
    pooled = keras.layers.GlobalAveragePooling2D(
        keepdims=True, name=f"{name}_pool"
    )(x)
    pooled = _conv_bn_relu(pooled, filters, 1, name=f"{name}_pool")
    branches.append(ResizeToReference(name=f"{name}_pool_resize")([pooled, x]))
    x = keras.layers.Concatenate(name=f"{name}_concat")(branches)
    x = _conv_bn_relu(x, filters, 1, name=f"{name}_project")
    if dropout:
        x = keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return x


def deeplabv3plus_decoder(
    features,
    *,
    filters=256,
    low_level_filters=48,
    atrous_rates=(6, 12, 18),
    dropout=0.1,
    separable=True,
    low_level="P2",
    name="decoder",
):
    """Decodes like DeepLabV3+ (Chen et al., 2018).

    ASPP on the deepest level, bilinear upsampling to the `low_level`
    features (reduced to `low_level_filters` channels by a 1×1
    convolution), concatenation, and two 3×3 convolutions.

    Args:
        features: stride-keyed feature dict holding `low_level` and a
            deeper level.
        filters: channels of ASPP and of the decoder convolutions.
        low_level_filters: channels the low-level skip is reduced to.
        atrous_rates: dilation rates of the ASPP's 3×3 branches.
        dropout: dropout rate after the ASPP projection.
        separable: depthwise-separable 3×3 convolutions in ASPP and the
            decoder, as in the paper (False: plain convolutions, as in
            keras-hub's DeepLabV3+).
        low_level: key of the skip level ("P2", stride 4, in the paper).
        name: prefix of the layer names.

    Returns:
        Features at the stride of `low_level`.
    """
    keys = levels_deepest_first(features)
    if low_level not in features or keys[0] == low_level:
        raise ValueError(
            f"DeepLabV3+ needs the low-level features {low_level!r} and a "
            f"deeper level; the encoder gives "
            f"{sorted(keys, key=stride_of)}."
        )
    x = aspp(
        features[keys[0]],
        filters=filters,
        atrous_rates=atrous_rates,
        dropout=dropout,
        separable=separable,
        name=f"{name}_aspp",
    )
    x = BilinearUpsample(
        stride_of(keys[0]) // stride_of(low_level), name=f"{name}_upsample"
    )(x)
    skip = _conv_bn_relu(
        features[low_level], low_level_filters, 1, name=f"{name}_low_level"
    )
    x = keras.layers.Concatenate(name=f"{name}_concat")([x, skip])
    for i in (1, 2):
        x = _conv_bn_relu(
            x, filters, 3, separable=separable, name=f"{name}_block{i}"
        )
    return x


def deeplabv3_decoder(
    features,
    *,
    filters=256,
    atrous_rates=(12, 24, 36),
    dropout=0.5,
    separable=False,
    name="decoder",
):
    """Decodes like DeepLabV3 (Chen et al., 2017).

    ASPP on the deepest level and one 3×3 convolution with batch norm and
    ReLU, at the encoder's output stride (torchvision's `DeepLabHead` and
    segmentation_models.pytorch's `DeepLabV3`); no skip connection.

    Args:
        features: stride-keyed feature dict; only the deepest level is read.
        filters: channels of ASPP and of the 3×3 convolution.
        atrous_rates: dilation rates of the ASPP's 3×3 branches.
        dropout: dropout rate after the ASPP projection.
        separable: depthwise-separable 3×3 convolutions (the paper and
            torchvision use plain ones).
        name: prefix of the layer names.

    Returns:
        Features at the stride of the deepest level.
    """
    keys = levels_deepest_first(features)
    x = aspp(
        features[keys[0]],
        filters=filters,
        atrous_rates=atrous_rates,
        dropout=dropout,
        separable=separable,
        name=f"{name}_aspp",
    )
    return _conv_bn_relu(
        x, filters, 3, separable=separable, name=f"{name}_block1"
    )
