"""The U-Net expanding path as a function of a stride-keyed feature dict."""

import keras

from kerasseg import _validation as check
from kerasseg.blocks import conv_block
from kerasseg.blocks import scse as scse_block
from kerasseg.blocks import upsample
from kerasseg.encoders.base import level_of
from kerasseg.encoders.base import levels_deepest_first
from kerasseg.encoders.base import stride_of
from kerasseg.layers.attention import AttentionGate

UPSAMPLING_MODES = ("transpose", "bilinear")
ATTENTION_TYPES = (None, "gate")


def unet_decoder(
    features,
    *,
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
    (the skip connection) and applies two 3×3 convolutions. Each block gets
    the channel count of the level it joins, so the decoder mirrors any
    encoder; the levels used are whatever the dict holds.

    Args:
        features: dict of feature maps keyed "Pn" (see `kerasseg.encoders`).
        batch_norm: batch normalization after every convolution.
        upsampling: "transpose" (transposed convolution, as in the paper) or
            "bilinear" (bilinear resize followed by a 3×3 convolution).
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
    x = features[keys[0]]
    for deeper, key in zip(keys, keys[1:]):
        skip = features[key]
        filters = skip.shape[-1]
        prefix = f"{name}_block{level_of(key)}"
        x = upsample(
            x,
            filters,
            factor=stride_of(deeper) // stride_of(key),
            mode=upsampling,
            name=prefix + "_up",
        )
        if skips:
            if attention == "gate":
                skip = AttentionGate(
                    max(1, filters // 2), name=prefix + "_attention"
                )([skip, x])
            x = keras.layers.Concatenate(name=prefix + "_concat")([skip, x])
        x = conv_block(x, filters, batch_norm=batch_norm, name=prefix)
        if scse:
            x = scse_block(x, name=prefix + "_scse")
    return x
