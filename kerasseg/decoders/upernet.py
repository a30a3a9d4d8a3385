"""The UPerNet decoder: pyramid pooling on the deepest level and an FPN
whose levels are fused at stride 4."""

import keras

from kerasseg import _validation as check
from kerasseg.blocks import conv_bn_relu
from kerasseg.decoders.pspnet import check_bins
from kerasseg.decoders.pspnet import pyramid_pooling
from kerasseg.encoders.base import level_of
from kerasseg.encoders.base import pyramid_levels
from kerasseg.layers.resize import ResizeToReference


def upernet_decoder(
    features,
    *,
    filters=512,
    bins=(1, 2, 3, 6),
    dropout=0.1,
    name="decoder",
):
    """Decodes like UPerNet (Xiao et al., 2018), as MMSegmentation's
    `UPerHead` does.

    The deepest level goes through pyramid pooling (PSPNet's module, every
    branch and its bottleneck `filters` wide); every other level from P2
    gets a 1×1 lateral convolution. Top-down, each level adds the coarser
    one upsampled bilinearly and a 3×3 convolution refines it; all levels
    are upsampled to stride 4, concatenated and fused by a 3×3
    convolution; dropout follows. Each convolution has batch norm and ReLU.

    Args:
        features: stride-keyed feature dict with P2 and a deeper level.
        filters: channels of every convolution (512).
        bins: pyramid pooling grid sizes (1, 2, 3, 6).
        dropout: dropout rate before the head (0.1).
        name: prefix of the layer names.

    Returns:
        Features at stride 4.
    """
    bins = check_bins(bins)
    check.positive_int("filters", filters)
    check.rate("dropout", dropout)
    keys = pyramid_levels(features, model="UPerNet")
    top = pyramid_pooling(
        features[keys[0]],
        bins=bins,
        branch_filters=filters,
        filters=filters,
        name=f"{name}_ppm",
    )
    laterals = {keys[0]: top}
    for key in keys[1:]:
        laterals[key] = conv_bn_relu(
            features[key], filters, 1, name=f"{name}_lateral{level_of(key)}"
        )
    # Top-down: each level plus the coarser one, resized to it.
    merged = {keys[0]: top}
    for deeper, key in zip(keys, keys[1:]):
        level = level_of(key)
        up = ResizeToReference(name=f"{name}_topdown{level}")(
            [merged[deeper], laterals[key]]
        )
        merged[key] = keras.layers.Add(name=f"{name}_merge{level}")(
            [laterals[key], up]
        )
    outputs = [top]
    for key in keys[1:]:
        outputs.append(
            conv_bn_relu(
                merged[key], filters, 3, name=f"{name}_fpn{level_of(key)}"
            )
        )
    finest = outputs[-1]
    fused = [
        y
        if y is finest
        else ResizeToReference(name=f"{name}_resize{level_of(k)}")([y, finest])
        for k, y in zip(keys, outputs)
    ]
    x = keras.layers.Concatenate(name=f"{name}_fuse_concat")(fused[::-1])
    x = conv_bn_relu(x, filters, 3, name=f"{name}_fuse")
    if dropout:
        x = keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return x
