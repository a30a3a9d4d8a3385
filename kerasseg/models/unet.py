"""U-Net and Attention U-Net."""

import functools

from kerasseg import _validation as check
from kerasseg import heads
from kerasseg.decoders.unet import UPSAMPLING_MODES
from kerasseg.decoders.unet import unet_decoder
from kerasseg.encoders.conv import conv_encoder
from kerasseg.layers.normalization import normalization_for
from kerasseg.models.base import compose
from kerasseg.registry import register_model
from kerasseg.zoo import with_weights

_ARGS_DOC = """
    Args:
        input_shape: `(height, width, channels)`. Height and width may be
            None (any size). Any size works: inputs that are not a multiple
            of `2**depth` are zero-padded at the bottom and right inside the
            graph and the output is cropped back, so a 65×97 image gives a
            65×97 output.
        num_classes: output channels. 1 for binary segmentation (sigmoid),
            N for N-class (softmax) or N-label (sigmoid per channel).
        depth: number of 2× down-sampling stages (the paper uses 4).
        base_filters: channels of the first level, doubled at each deeper
            level (the paper uses 64).
        batch_norm: batch normalization after every 3×3 convolution (not in
            the paper; on by default because it trains more reliably).
        dropout: dropout rate at the end of the contracting path.
        upsampling: "transpose" (2×2 transposed convolution, the paper's
            up-convolution) or "bilinear" (bilinear resize and a 3×3
            convolution).
        scse: add concurrent spatial and channel squeeze & excitation
            (Roy et al., 2018) after every decoder block.
        activation: None (logits, the default; pair with a loss that takes
            logits), "sigmoid" or "softmax".
        input_normalization: None (the input goes in as it is),
            "percentile" or a dict of `kerasseg.layers.PercentileNormalization`
            arguments (`low`, `high`, `min_range`): each image is normalized
            by its own percentiles inside the graph, as fluorescence tools
            do, so the model takes raw pixels of any background and gain.
        name: the model's name.

    Returns:
        A Functional `keras.Model` from images `(batch, height, width,
        channels)` to float32 `(batch, height, width, num_classes)`. Its
        encoder is the nested model `model.get_layer("encoder")`, whose
        output is a dict of feature maps keyed "P0" … f"P{depth}".

    Raises:
        ValueError: for an argument out of range; the message quotes it.
"""


def _unet(
    input_shape,
    num_classes,
    *,
    depth,
    base_filters,
    batch_norm,
    dropout,
    upsampling,
    activation,
    attention,
    scse,
    input_normalization,
    name,
):
    input_shape = check.image_shape(input_shape)
    num_classes = check.positive_int("num_classes", num_classes)
    check.one_of("upsampling", upsampling, UPSAMPLING_MODES)
    check.activation(activation, num_classes)
    normalization = normalization_for(input_normalization)
    encoder = conv_encoder(
        (None, None, input_shape[-1]),
        depth=depth,
        base_filters=base_filters,
        batch_norm=batch_norm,
        dropout=dropout,
    )
    return compose(
        input_shape,
        encoder=encoder,
        decoder=functools.partial(
            unet_decoder,
            batch_norm=batch_norm,
            upsampling=upsampling,
            attention=attention,
            scse=scse,
        ),
        head=functools.partial(
            heads.segmentation_head,
            num_classes=num_classes,
            activation=activation,
        ),
        normalization=normalization,
        name=name,
    )


def unet(
    input_shape=(None, None, 3),
    num_classes=1,
    *,
    depth=4,
    base_filters=64,
    batch_norm=True,
    dropout=0.0,
    upsampling="transpose",
    scse=False,
    activation=None,
    input_normalization=None,
    name="unet",
):
    return _unet(
        input_shape,
        num_classes,
        depth=depth,
        base_filters=base_filters,
        batch_norm=batch_norm,
        dropout=dropout,
        upsampling=upsampling,
        activation=activation,
        attention=None,
        scse=scse,
        input_normalization=input_normalization,
        name=name,
    )


def attention_unet(
    input_shape=(None, None, 3),
    num_classes=1,
    *,
    depth=4,
    base_filters=64,
    batch_norm=True,
    dropout=0.0,
    upsampling="transpose",
    scse=False,
    activation=None,
    input_normalization=None,
    name="attention_unet",
):
    return _unet(
        input_shape,
        num_classes,
        depth=depth,
        base_filters=base_filters,
        batch_norm=batch_norm,
        dropout=dropout,
        upsampling=upsampling,
        activation=activation,
        attention="gate",
        scse=scse,
        input_normalization=input_normalization,
        name=name,
    )


unet.__doc__ = (
    """U-Net (Ronneberger et al., 2015).

    An encoder of `depth` max-pooling stages of two 3×3 convolutions, a
    mirrored decoder that upsamples and concatenates the encoder's feature
    map of the same resolution (skip connection), and a 1×1 convolution
    head.
"""
    + _ARGS_DOC
    + """
    Example:

    >>> model = kerasseg.models.unet((None, None, 1), num_classes=2,
    ...                              depth=2, base_filters=4)
    >>> tuple(model(np.zeros((1, 65, 97, 1))).shape)
    (1, 65, 97, 2)

    Reference:
        Ronneberger et al., "U-Net: Convolutional Networks for Biomedical
        Image Segmentation", MICCAI 2015. https://arxiv.org/abs/1505.04597
"""
)

attention_unet.__doc__ = (
    """Attention U-Net (Oktay et al., 2018).

    U-Net whose skip connections pass through additive attention gates
    (`kerasseg.layers.AttentionGate`) driven by the decoder's features, so
    the decoder can suppress irrelevant regions of the encoder's maps.
"""
    + _ARGS_DOC
    + """
    Example:

    >>> model = kerasseg.models.attention_unet((None, None, 3), num_classes=3,
    ...                                        depth=2, base_filters=4)
    >>> tuple(model(np.zeros((2, 32, 48, 3))).shape)
    (2, 32, 48, 3)

    Reference:
        Oktay et al., "Attention U-Net: Learning Where to Look for the
        Pancreas", MIDL 2018. https://arxiv.org/abs/1804.03999
"""
)

unet = with_weights(unet)
attention_unet = with_weights(attention_unet)

# === Registered configurations ===
register_model(
    "unet",
    unet,
    task="segmentation",
    description="U-Net, 64 base filters, depth 4, batch norm.",
)
register_model(
    "unet_classic",
    unet,
    task="segmentation",
    description="The paper's U-Net: 64 base filters, depth 4, no batch norm, "
    "2×2 transposed-conv upsampling.",
    depth=4,
    base_filters=64,
    batch_norm=False,
    upsampling="transpose",
)
register_model(
    "unet_classic_tiny",
    unet,
    task="segmentation",
    description="A tiny U-Net of the paper's structure for tests (no batch "
    "norm, transposed-conv upsampling; base 4 filters, depth 3).",
    depth=3,
    base_filters=4,
    batch_norm=False,
    upsampling="transpose",
)
register_model(
    "unet_tiny",
    unet,
    task="segmentation",
    description="A tiny U-Net for tests (base 4 filters, depth 3).",
    depth=3,
    base_filters=4,
    upsampling="bilinear",
)
register_model(
    "attention_unet",
    attention_unet,
    task="segmentation",
    description="Attention U-Net, 64 base filters, depth 4, batch norm.",
)
register_model(
    "attention_unet_tiny",
    attention_unet,
    task="segmentation",
    description="A tiny Attention U-Net for tests (base 4 filters, depth 3).",
    depth=3,
    base_filters=4,
)

__all__ = ["attention_unet", "unet"]
