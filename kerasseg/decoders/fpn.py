"""The FPN decoder: a feature pyramid and the panoptic FPN semantic head."""

import keras

from kerasseg import _validation as check
from kerasseg.encoders.base import level_of
from kerasseg.encoders.base import pyramid_levels
from kerasseg.layers.resize import BilinearUpsample

MERGE_MODES = ("add", "concat")


def _conv_gn_relu(x, filters, *, groups, name):
    x = keras.layers.Conv2D(
        filters, 3, padding="same", use_bias=False, name=f"{name}_conv"
    )(x)
    x = keras.layers.GroupNormalization(
        groups, epsilon=1e-5, name=f"{name}_gn"
    )(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def fpn_decoder(
    features,
    *,
    pyramid_filters=256,
    segmentation_filters=128,
    merge="add",
    dropout=0.2,
    norm_groups=32,
    name="decoder",
):
    """Decodes like the semantic branch of panoptic FPN (Kirillov et al.).

    A top-down pyramid over the encoder's levels from stride 4 (P2) to the
    deepest: a 1×1 lateral convolution of each level (to `pyramid_filters`)
    plus the coarser pyramid level upsampled 2× (nearest). Each pyramid
    level then goes through 3×3 convolution → GroupNorm → ReLU blocks
    (`segmentation_filters` channels), with a 2× bilinear upsampling after
    each, until it reaches stride 4 (one block without upsampling for P2).
    The levels are summed ("add") or concatenated ("concat"), and dropout
    follows. This is segmentation_models.pytorch's `FPN` decoder.

    Args:
        features: stride-keyed feature dict with P2 and at least one deeper
            level.
        pyramid_filters: channels of the pyramid (256).
        segmentation_filters: channels of the per-level blocks (128).
        merge: "add" or "concat".
        dropout: spatial dropout rate after merging (0.2).
        norm_groups: GroupNorm groups; must divide `segmentation_filters`.
        name: prefix of the layer names.

    Returns:
        Features at stride 4.
    """
    check.positive_int("pyramid_filters", pyramid_filters)
    check.positive_int("segmentation_filters", segmentation_filters)
    check.one_of("merge", merge, MERGE_MODES)
    check.rate("dropout", dropout)
    groups = check.positive_int("norm_groups", norm_groups)
    if segmentation_filters % groups:
        raise ValueError(
            f"`norm_groups` ({groups}) must divide `segmentation_filters` "
            f"({segmentation_filters}): GroupNorm splits the channels into "
            "equal groups."
        )
    keys = pyramid_levels(features, model="FPN")
    # Top-down pathway, deepest first.
    pyramid = {}
    for deeper, key in zip([None, *keys], keys):
        level = level_of(key)
        x = keras.layers.Conv2D(
            pyramid_filters, 1, name=f"{name}_lateral{level}"
        )(features[key])
        if deeper is not None:
            up = keras.layers.UpSampling2D(
                2 ** (level_of(deeper) - level),
                interpolation="nearest",
                name=f"{name}_topdown{level}",
            )(pyramid[deeper])
            x = keras.layers.Add(name=f"{name}_merge{level}")([up, x])
        pyramid[key] = x
    # Semantic head: every level to stride 4.
    maps = []
    for key in keys:
        level = level_of(key)
        y = pyramid[key]
        for step in range(max(1, level - 2)):
            prefix = f"{name}_seg{level}_block{step + 1}"
            y = _conv_gn_relu(
                y, segmentation_filters, groups=groups, name=prefix
            )
            if level - step > 2:
                y = BilinearUpsample(2, name=f"{prefix}_upsample")(y)
        maps.append(y)
    if merge == "add":
        y = keras.layers.Add(name=f"{name}_sum")(maps)
    else:
        y = keras.layers.Concatenate(name=f"{name}_concat")(maps)
    if dropout:
        y = keras.layers.SpatialDropout2D(dropout, name=f"{name}_dropout")(y)
    return y
