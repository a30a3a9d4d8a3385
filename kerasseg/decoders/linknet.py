"""The LinkNet decoder: residual-style blocks whose outputs add the skips."""

import keras

from kerasseg.blocks import conv_bn_relu
from kerasseg.encoders.base import key_of
from kerasseg.encoders.base import level_of
from kerasseg.encoders.base import levels_deepest_first


def _block(x, filters, *, name):
    """1×1 to a quarter of the channels, 4×4 transposed convolution ×2
    (stride 2, with bias, batch norm, ReLU), 1×1 to `filters`."""
    quarter = max(1, x.shape[-1] // 4)
    x = conv_bn_relu(x, quarter, 1, epsilon=1e-5, name=f"{name}_reduce")
    x = keras.layers.Conv2DTranspose(
        quarter, 4, strides=2, padding="same", name=f"{name}_up_transpose"
    )(x)
    x = keras.layers.BatchNormalization(epsilon=1e-5, name=f"{name}_up_bn")(x)
    x = keras.layers.ReLU(name=f"{name}_up_relu")(x)
    return conv_bn_relu(x, filters, 1, epsilon=1e-5, name=f"{name}_expand")


def linknet_decoder(features, *, final_filters=32, name="decoder"):
    """Decodes like LinkNet (Chaurasia & Culurciello, 2017).

    From the deepest level, each block upsamples 2× to the next shallower
    level and maps to that level's channels, and the level's features are
    added (not concatenated), so the decoder stays as light as the
    encoder's widths allow. Below the shallowest level a last block
    reaches the input's resolution with `final_filters` channels
    (segmentation_models.pytorch's `Linknet`, whose blocks these are).

    Args:
        features: stride-keyed feature dict; the levels must be 2× apart.
        final_filters: channels of the last block (32).
        name: prefix of the layer names.

    Returns:
        Features at the input's resolution (stride 1).
    """
    keys = levels_deepest_first(features)
    levels = [level_of(k) for k in keys]
    if any(a - b != 1 for a, b in zip(levels, levels[1:])):
        raise ValueError(
            "LinkNet adds each level to the 2× upsampled deeper one, so "
            "the encoder's levels must be 2× apart; it gives "
            f"{sorted(features, key=level_of)}."
        )
    x = features[keys[0]]
    for level in range(levels[0] - 1, -1, -1):
        key = key_of(level)
        prefix = f"{name}_block{level}"
        if key in features:
            x = _block(x, features[key].shape[-1], name=prefix)
            x = keras.layers.Add(name=f"{prefix}_add")([x, features[key]])
        else:
            x = _block(x, final_filters, name=prefix)
    return x
