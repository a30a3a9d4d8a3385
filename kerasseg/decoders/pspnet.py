"""The PSPNet decoder: pyramid pooling on the deepest level."""

import keras

from kerasseg import _validation as check
from kerasseg.blocks import conv_bn_relu
from kerasseg.encoders.base import levels_deepest_first
from kerasseg.layers.pooling import AdaptiveAveragePooling2D
from kerasseg.layers.resize import ResizeToReference


def psp_decoder(
    features, *, bins=(1, 2, 3, 6), filters=512, dropout=0.1, name="decoder"
):
    """Decodes like PSPNet (Zhao et al., 2017).

    The deepest features are average-pooled to each grid of `bins`
    (`kerasseg.layers.AdaptiveAveragePooling2D`, any input size), reduced
    by a 1×1 convolution to 1/len(bins) of their channels, upsampled
    bilinearly back and concatenated with the features; a 3×3 convolution
    to `filters` channels and dropout follow. Each convolution has batch
    norm and ReLU.

    Args:
        features: stride-keyed feature dict; only the deepest is read.
        bins: the pyramid's grid sizes (1, 2, 3, 6 in the paper).
        filters: channels of the 3×3 convolution (512).
        dropout: dropout rate before the head (0.1).
        name: prefix of the layer names.

    Returns:
        Features at the deepest level's stride.
    """
    bins = check_bins(bins)
    check.positive_int("filters", filters)
    check.rate("dropout", dropout)
    x = features[levels_deepest_first(features)[0]]
    x = pyramid_pooling(
        x,
        bins=bins,
        branch_filters=max(1, x.shape[-1] // len(bins)),
        filters=filters,
        name=name,
    )
    if dropout:
        x = keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return x


def check_bins(bins):
    """`bins`: distinct positive grid sizes."""
    bins = check.positive_ints(
        "bins", bins, what="grid sizes", example=[1, 2, 3, 6]
    )
    if not bins or len(set(bins)) != len(bins):
        raise ValueError(
            f"`bins` must be distinct grid sizes. Received: bins={bins!r}"
        )
    return bins


def pyramid_pooling(x, *, bins, branch_filters, filters, name):
    """The pyramid pooling module: `x` average-pooled to each grid of
    `bins`, each reduced by a 1×1 convolution to `branch_filters`,
    upsampled bilinearly back and concatenated with `x`, then a 3×3
    convolution to `filters` (each with batch norm and ReLU). Shared by
    PSPNet and UPerNet, whose decoders check `bins` first."""
    branches = [x]
    for size in bins:
        prefix = f"{name}_pool{size}"
        y = AdaptiveAveragePooling2D(size, name=f"{prefix}_average")(x)
        y = conv_bn_relu(y, branch_filters, 1, name=prefix)
        branches.append(ResizeToReference(name=f"{prefix}_resize")([y, x]))
    x = keras.layers.Concatenate(name=f"{name}_concat")(branches)
    return conv_bn_relu(x, filters, 3, name=f"{name}_bottleneck")
