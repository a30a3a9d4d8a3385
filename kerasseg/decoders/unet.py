"""The U-Net expanding path as a function of a stride-keyed feature dict."""

import keras

from kerasseg import _validation as check
from kerasseg.blocks import conv_block
from kerasseg.blocks import scse as scse_block
from kerasseg.blocks import upsample
from kerasseg.encoders.base import key_of
from kerasseg.encoders.base import level_of
from kerasseg.encoders.base import levels_deepest_first
from kerasseg.layers.attention import AttentionGate

UPSAMPLING_MODES = ("transpose", "bilinear", "nearest")
ATTENTION_TYPES = (None, "gate")


def unet_decoder(
    features,
    *,
    filters=None,
    batch_norm=True,
    upsampling="transpose",
    attention=None,
    skips=True,
    scse=False,
    name="decoder",
):
    """Decodes a feature dict the way U-Net's expanding path does.

    Starts from the deepest level present and, for every shallower level,
    upsamples to that level's resolution, concatenates that level's features
    (the skip connection) and applies two 3×3 convolutions. By default each
    block gets the channel count of the level it joins, so the decoder
    mirrors any encoder; the levels used are whatever the dict holds.

    Args:
        features: dict of feature maps keyed "Pn" (see `kerasseg.encoders`).
        filters: None (mirror the encoder, as above), or the width of each
            block, deepest first: block i upsamples 2× and joins the
            level's features where the dict has that level (none at
            stride 1 for a pretrained encoder, whose shallowest level is
            P1), so `(256, 128, 64, 32, 16)` over a stride-32 encoder ends
            at the input's resolution, as segmentation_models' U-Net does.
            Fewer blocks stop coarser; `decoder_stride` gives the stride.
        batch_norm: batch normalization after every convolution.
        upsampling: "transpose" (transposed convolution, as in the paper),
            "bilinear" (bilinear resize followed by a 3×3 convolution) or
            "nearest" (nearest-neighbour repetition alone).
        attention: None, or "gate" for additive attention gates on the
            skips (`kerasseg.layers.AttentionGate`, Attention U-Net).
        skips: False drops the skip connections, which turns the decoder
            into a plain upsampling path (a convolutional autoencoder's).
        scse: True adds concurrent spatial and channel squeeze & excitation
            after every block (`kerasseg.blocks.scse`).
        name: prefix of the layer names, e.g. "decoder_block2_conv1".

    Returns:
        The feature map at the resolution of the shallowest level.
    """
    check.one_of("upsampling", upsampling, UPSAMPLING_MODES)
    if attention not in ATTENTION_TYPES:
        raise ValueError(
            f"`attention` must be one of {list(ATTENTION_TYPES)}. "
            f"Received: attention={attention!r}"
        )
    if attention and not skips:
        raise ValueError(
            "Attention gates act on skip connections; they need skips=True. "
            f"Received: attention={attention!r}, skips={skips!r}"
        )

    keys = levels_deepest_first(features)
    level = level_of(keys[0])
    x = features[keys[0]]
    if filters is None:
        blocks = [(level_of(key), features[key].shape[-1]) for key in keys[1:]]
    else:
        filters = check_filters(filters, level)
        blocks = [(level - i, width) for i, width in enumerate(filters, 1)]
    for target, width in blocks:
        skip = features.get(key_of(target))
        prefix = f"{name}_block{target}"
        x = upsample(
            x,
            width,
            factor=2 ** (level - target),
            mode=upsampling,
            name=prefix + "_up",
        )
        level = target
        if skips and skip is not None:
            if attention == "gate":
                skip = AttentionGate(
                    max(1, width // 2), name=prefix + "_attention"
                )([skip, x])
            x = keras.layers.Concatenate(name=prefix + "_concat")([skip, x])
        x = conv_block(x, width, batch_norm=batch_norm, name=prefix)
        if scse:
            x = scse_block(x, name=prefix + "_scse")
    return x


def check_filters(filters, deepest_level):
    """`decoder_filters`: positive widths, at most one per 2× step from
    the deepest level (`deepest_level`, stride `2**deepest_level`) to
    the input's resolution."""
    filters = check.positive_ints(
        "decoder_filters",
        filters,
        what="block widths, deepest first",
        example=[256, 128, 64, 32, 16],
    )
    if not 1 <= len(filters) <= deepest_level:
        raise ValueError(
            f"`decoder_filters` takes 1 to {deepest_level} widths: each "
            "block upsamples 2× and the encoder's deepest features are at "
            f"stride {2**deepest_level}. Received {len(filters)}: "
            f"{list(filters)}"
        )
    return filters


def decoder_stride(features, filters):
    """The stride of `unet_decoder`'s output over these features."""
    if filters is None:
        return 2 ** level_of(levels_deepest_first(features)[-1])
    level = level_of(levels_deepest_first(features)[0])
    return 2 ** (level - len(check_filters(filters, level)))
