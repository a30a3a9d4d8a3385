"""A transformer-augmented U-Net in the manner of TransUNet."""

import functools

import keras

from kerasseg import _validation as check
from kerasseg import heads
from kerasseg.decoders.unet import UPSAMPLING_MODES
from kerasseg.decoders.unet import unet_decoder
from kerasseg.encoders.base import levels_deepest_first
from kerasseg.layers.transformer import POSITION_MODES
from kerasseg.layers.transformer import PositionEmbedding2D
from kerasseg.layers.transformer import TransformerBlock
from kerasseg.models.base import build_encoder
from kerasseg.models.base import compose
from kerasseg.registry import register_model
from kerasseg.zoo import with_weights


def _bottleneck(
    features,
    *,
    hidden_dim,
    num_layers,
    num_heads,
    mlp_dim,
    dropout,
    position_embedding,
    grid_size,
    name="bottleneck",
):
    """Runs transformer blocks on the deepest level's pixels."""
    features = dict(features)
    key = levels_deepest_first(features)[0]
    x = features[key]
    channels = x.shape[-1]
    x = keras.layers.Conv2D(hidden_dim, 1, name=f"{name}_embed")(x)
    x = PositionEmbedding2D(
        position_embedding, grid_size, name=f"{name}_position"
    )(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    for i in range(num_layers):
        x = TransformerBlock(
            num_heads, mlp_dim, dropout, name=f"{name}_transformer{i}"
        )(x)
    x = keras.layers.LayerNormalization(epsilon=1e-6, name=f"{name}_norm")(x)
    # Back to the encoder's width, as TransUNet's "conv_more".
    x = keras.layers.Conv2D(
        channels, 3, padding="same", use_bias=False, name=f"{name}_conv"
    )(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    features[key] = keras.layers.ReLU(name=f"{name}_relu")(x)
    return features


def transunet(
    input_shape=(None, None, 3),
    num_classes=1,
    *,
    encoder="conv",
    encoder_weights=None,
    encoder_options=None,
    num_layers=12,
    num_heads=12,
    hidden_dim=768,
    mlp_dim=3072,
    dropout=0.1,
    position_embedding="learned",
    grid_size=(14, 14),
    upsampling="bilinear",
    scse=False,
    activation=None,
    name="transunet",
):
    """A U-Net whose bottleneck is a transformer (TransUNet-style).

    A CNN encoder; its deepest feature map becomes tokens (one per pixel,
    a 1×1 projection to `hidden_dim`), gets a 2-D position embedding and
    runs through `num_layers` pre-norm transformer blocks; a 3×3
    convolution brings it back to the encoder's width and the U-Net
    decoder takes over, with skip connections from the encoder. With the
    default "conv" encoder of depth 4 the tokens are the stride-16,
    1024-channel map, the grid TransUNet's R50-ViT hybrid uses; the
    defaults of the transformer are ViT-Base's (12 layers, 12 heads, 768,
    3072).

    Args:
        input_shape: `(height, width, channels)`; any height and width: the
            position embedding adapts to the token grid (bilinearly resized
            when "learned", computed when "sinusoidal").
        num_classes: output channels.
        encoder: an encoder name from `kerasseg.encoders.ENCODERS`.
        encoder_weights: None, "imagenet" or a weights file.
        encoder_options: dict of further encoder arguments (for "conv":
            `depth`, `base_filters`, `batch_norm`, `dropout`).
        num_layers, num_heads, hidden_dim, mlp_dim: transformer size.
        dropout: dropout rate in the transformer.
        position_embedding: "learned" (a `grid_size` table, as ViT) or
            "sinusoidal" (no weights; `hidden_dim` a multiple of 4).
        grid_size: rows and columns of the learned table (14 × 14: a
            224-pixel input at stride 16).
        upsampling: "bilinear" (TransUNet's cascaded upsampler) or
            "transpose".
        scse: squeeze & excitation after every decoder block.
        activation: None (logits, the default), "sigmoid" or "softmax".
        name: the model's name.

    Returns:
        A Functional `keras.Model` from images to float32 scores of the
        input's height and width.

    Raises:
        ValueError: for an argument out of range; the message quotes it.

    Example:

    >>> model = kerasseg.models.transunet(
    ...     num_classes=2, num_layers=1, num_heads=2, hidden_dim=16,
    ...     mlp_dim=32, encoder_options={"depth": 2, "base_filters": 4})
    >>> tuple(model(np.zeros((1, 33, 47, 3))).shape)
    (1, 33, 47, 2)

    Reference:
        Chen et al., "TransUNet: Transformers Make Strong Encoders for
        Medical Image Segmentation", 2021. https://arxiv.org/abs/2102.04306
    """
    input_shape = check.image_shape(input_shape)
    num_classes = check.positive_int("num_classes", num_classes)
    num_layers = check.positive_int("num_layers", num_layers)
    num_heads = check.positive_int("num_heads", num_heads)
    hidden_dim = check.positive_int("hidden_dim", hidden_dim)
    mlp_dim = check.positive_int("mlp_dim", mlp_dim)
    dropout = check.rate("dropout", dropout)
    check.one_of("position_embedding", position_embedding, POSITION_MODES)
    check.one_of("upsampling", upsampling, UPSAMPLING_MODES)
    check.activation(activation, num_classes)
    if hidden_dim % num_heads:
        raise ValueError(
            f"`hidden_dim` must be a multiple of `num_heads`. Received: "
            f"hidden_dim={hidden_dim}, num_heads={num_heads}"
        )
    features = build_encoder(
        encoder, input_shape, weights=encoder_weights, options=encoder_options
    )
    bottleneck = functools.partial(
        _bottleneck,
        hidden_dim=hidden_dim,
        num_layers=num_layers,
        num_heads=num_heads,
        mlp_dim=mlp_dim,
        dropout=dropout,
        position_embedding=position_embedding,
        grid_size=tuple(grid_size),
    )
    decoder = functools.partial(unet_decoder, upsampling=upsampling, scse=scse)
    return compose(
        input_shape,
        encoder=features,
        decoder=lambda f: decoder(bottleneck(f)),
        head=functools.partial(
            heads.segmentation_head,
            num_classes=num_classes,
            activation=activation,
        ),
        name=name,
    )


transunet = with_weights(transunet)

# === Registered configurations ===

register_model(
    "transunet",
    transunet,
    task="segmentation",
    description="U-Net (conv encoder, depth 4) with a ViT-Base transformer "
    "(12 layers, 12 heads, 768) on its stride-16 tokens.",
)
register_model(
    "transunet_tiny",
    transunet,
    task="segmentation",
    description="A tiny transformer U-Net for tests (depth 3, 4 base "
    "filters, 2 layers, 2 heads, 16 channels, scSE decoder).",
    encoder="conv",
    encoder_options={"depth": 3, "base_filters": 4},
    num_layers=2,
    num_heads=2,
    hidden_dim=16,
    mlp_dim=32,
    dropout=0.0,
    grid_size=(4, 4),
    scse=True,
)

__all__ = ["transunet"]
