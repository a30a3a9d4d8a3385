"""The FCN-32s / 16s / 8s decoder (Long et al., 2015)."""

import keras

from kerasseg.encoders.base import level_of
from kerasseg.encoders.base import levels_deepest_first
from kerasseg.encoders.base import stride_of
from kerasseg.initializers import BilinearUpsampling

VARIANTS = (32, 16, 8)


def _upsample(x, num_classes, factor, name):
    # Kernel 2×factor, no bias, initialized to bilinear interpolation: the
    # paper's "deconvolution" layers.
    return keras.layers.Conv2DTranspose(
        num_classes,
        2 * factor,
        strides=factor,
        padding="same",
        use_bias=False,
        kernel_initializer=BilinearUpsampling(),
        name=name,
    )(x)


def fcn_decoder(
    features,
    num_classes,
    *,
    variant=8,
    fc_filters=4096,
    fc_kernel_size=7,
    dropout=0.5,
    name="decoder",
):
    """Scores the deepest level and fuses finer levels' scores on the way up.

    The deepest feature map goes through the converted classifier (`fc6`, a
    `fc_kernel_size`² convolution, and `fc7`, 1×1, both ReLU + dropout) and
    `score_fr`. FCN-32s upsamples those scores to the input's resolution in
    one step; FCN-16s first adds scores from the next shallower level
    (pool4 in VGG16), FCN-8s also from the one after (pool3). Skip scores
    start at zero, as in the paper, so a 16s/8s model starts out computing
    the coarser model's output.

    Args:
        features: stride-keyed feature dict with at least 1 (32s), 2 (16s)
            or 3 (8s) consecutive deepest levels.
        num_classes: channels of the score maps.
        variant: 32, 16 or 8: the stride of the finest scores fused.
        fc_filters, fc_kernel_size: width and kernel size of `fc6` (4096
            and 7 in the paper, where they reuse VGG16's classifier).
        dropout: dropout rate after `fc6` and `fc7`.
        name: prefix of the layer names.

    Returns:
        Class scores at stride 1 (the input's resolution).
    """
    if variant not in VARIANTS:
        raise ValueError(
            f"`variant` must be one of {list(VARIANTS)}. "
            f"Received: variant={variant!r}"
        )
    keys = levels_deepest_first(features)
    needed = {32: 1, 16: 2, 8: 3}[variant]
    used = keys[:needed]
    levels = [level_of(key) for key in used]
    if len(used) < needed or levels != list(
        range(levels[0], levels[0] - needed, -1)
    ):
        raise ValueError(
            f"FCN-{variant}s needs {needed} consecutive levels; the encoder "
            f"gives {sorted(keys, key=stride_of)}."
        )
    x = features[used[0]]
    for i, (filters, kernel) in enumerate(
        [(fc_filters, fc_kernel_size), (fc_filters, 1)], start=6
    ):
        x = keras.layers.Conv2D(
            filters,
            kernel,
            padding="same",
            activation="relu",
            name=f"{name}_fc{i}",
        )(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"{name}_drop{i}")(x)
    x = keras.layers.Conv2D(num_classes, 1, name=f"{name}_score_fr")(x)
    for deeper, key in zip(used, used[1:]):
        x = _upsample(
            x,
            num_classes,
            stride_of(deeper) // stride_of(key),
            f"{name}_upscore_{key}",
        )
        skip = keras.layers.Conv2D(
            num_classes,
            1,
            kernel_initializer="zeros",
            name=f"{name}_score_{key}",
        )(features[key])
        x = keras.layers.Add(name=f"{name}_fuse_{key}")([x, skip])
    return _upsample(x, num_classes, stride_of(used[-1]), f"{name}_upscore")
