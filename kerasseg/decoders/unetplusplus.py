"""The U-Net++ decoder: nested, dense skip pathways between the levels."""

import keras

from kerasseg import _validation as check
from kerasseg.blocks import conv_block
from kerasseg.blocks import upsample
from kerasseg.encoders.base import level_of
from kerasseg.encoders.base import levels_deepest_first


def unetplusplus_decoder(
    features,
    *,
    filters=None,
    batch_norm=True,
    upsampling="transpose",
    all_outputs=False,
    name="decoder",
):
    """Decodes like U-Net++ (Zhou et al., 2018).

    With the encoder's levels numbered 0 (shallowest) … D (deepest) and
    X(i, 0) their features, every node X(i, j) for j ≥ 1 and i + j ≤ D is
    two 3×3 convolutions over the concatenation of X(i, 0) … X(i, j - 1)
    (the dense skips) and X(i + 1, j - 1) upsampled to level i. The output
    is X(0, D), at the shallowest level's resolution. j = 1 alone would be
    the U-Net; the nested nodes bridge the semantic gap between encoder
    and decoder maps.

    Args:
        features: dict of feature maps keyed "Pn", levels 2× apart.
        filters: None (each level's nodes take that level's encoder
            channels, as in the paper), or one width per level, shallowest
            first, for all nodes of that level.
        batch_norm: batch normalization after every convolution.
        upsampling: "transpose", "bilinear" or "nearest" (see
            `kerasseg.blocks.upsample`).
        all_outputs: also return the shallower nodes X(0, 1) … X(0, D - 1)
            (the paper's deep supervision scores each).
        name: prefix of the layer names: node X(i, j) is
            f"{name}_x{i}_{j}".

    Returns:
        The feature map X(0, D); with `all_outputs`, the list X(0, 1) …
        X(0, D).
    """
    keys = levels_deepest_first(features)[::-1]  # shallowest first
    levels = [level_of(k) for k in keys]
    if any(b - a != 1 for a, b in zip(levels, levels[1:])) or len(keys) < 2:
        raise ValueError(
            "U-Net++ needs at least two encoder levels, each 2× coarser "
            f"than the last; the encoder gives {keys}."
        )
    depth = len(keys) - 1
    if filters is None:
        widths = [features[k].shape[-1] for k in keys]
    else:
        widths = check.positive_ints(
            "decoder_filters",
            filters,
            what="widths, one per level, shallowest first",
            example=[32, 64, 128, 256],
        )
        if len(widths) != len(keys) - 1:
            raise ValueError(
                "`decoder_filters` of U-Net++ takes one width per level "
                f"that has decoder nodes ({len(keys) - 1}: levels "
                f"{keys[:-1]}, shallowest first). Received: {filters!r}"
            )
    nodes = {(i, 0): features[k] for i, k in enumerate(keys)}
    for j in range(1, depth + 1):
        for i in range(depth - j + 1):
            prefix = f"{name}_x{i}_{j}"
            up = upsample(
                nodes[(i + 1, j - 1)],
                widths[i],
                factor=2,
                mode=upsampling,
                name=f"{prefix}_up",
            )
            joined = [nodes[(i, k)] for k in range(j)] + [up]
            x = keras.layers.Concatenate(name=f"{prefix}_concat")(joined)
            nodes[(i, j)] = conv_block(
                x, widths[i], batch_norm=batch_norm, name=prefix
            )
    if all_outputs:
        return [nodes[(0, j)] for j in range(1, depth + 1)]
    return nodes[(0, depth)]
