"""U-Net and Attention U-Net."""

import functools

from kerasseg import _validation as check
from kerasseg import heads
from kerasseg.decoders.unet import UPSAMPLING_MODES
from kerasseg.decoders.unet import decoder_stride
from kerasseg.decoders.unet import unet_decoder
from kerasseg.encoders.base import total_stride
from kerasseg.encoders.conv import conv_encoder
from kerasseg.layers.normalization import normalization_for
from kerasseg.models.base import build_encoder
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
        encoder: "conv" (the paper's contracting path, shaped by `depth`,
            `base_filters` and `dropout`) or any other name in
            `kerasseg.encoders.ENCODERS`, e.g. "resnet34" or "resnet50"
            (segmentation_models' U-Net), which normalizes raw 0–255 pixels
            itself.
        encoder_weights: None, "imagenet" or a weights file (see
            `kerasseg.encoders.get_encoder`); not for "conv" (start its
            weights from another model with `model.encoder_from` or
            `kerasseg.copy_encoder_weights`).
        encoder_options: dict of further arguments of a non-"conv"
            encoder (e.g. `alpha` for "mobilenetv2").
        decoder_filters: the width of each decoder block, deepest first.
            None: for "conv", each block mirrors the level it joins (the
            paper); for the other encoders, (256, 128, 64, 32, 16) cut to
            the encoder's number of 2× steps, which ends at the input's
            resolution (segmentation_models' default).
        depth: number of 2× down-sampling stages of the "conv" encoder
            (None: 4, the paper's).
        base_filters: channels of the "conv" encoder's first level, doubled
            at each deeper level (None: 64, the paper's).
        batch_norm: batch normalization after every 3×3 convolution (not in
            the paper; on by default because it trains more reliably).
        dropout: dropout rate at the end of the "conv" contracting path.
        upsampling: "transpose" (2×2 transposed convolution, the paper's
            up-convolution), "bilinear" (bilinear resize and a 3×3
            convolution) or "nearest" (nearest-neighbour repetition, as
            segmentation_models' U-Net).
        scse: add concurrent spatial and channel squeeze & excitation
            (Roy et al., 2018) after every decoder block.
        activation: None (logits, the default; pair with a loss that takes
            logits), "sigmoid" or "softmax".
        input_normalization: None (the input goes in as it is),
            "percentile" or a dict of `kerasseg.layers.PercentileNormalization`
            arguments (`low`, `high`, `min_range`): each image is normalized
            by its own percentiles inside the graph, as fluorescence tools
            do, so the model takes raw pixels of any background and gain.
            For the "conv" encoder only: the others normalize by ImageNet's
            statistics.
        name: the model's name.

    Returns:
        A Functional `keras.Model` from images `(batch, height, width,
        channels)` to float32 `(batch, height, width, num_classes)`. Its
        encoder is the nested model `model.get_layer("encoder")`, whose
        output is a dict of feature maps keyed "P0" … f"P{depth}".

    Raises:
        ValueError: for an argument out of range; the message quotes it.
"""


# segmentation_models' U-Net decoder widths, deepest first.
PRETRAINED_DECODER_FILTERS = (256, 128, 64, 32, 16)


def unet_encoder(
    input_shape,
    *,
    encoder,
    encoder_weights,
    encoder_options,
    depth,
    base_filters,
    batch_norm,
    dropout,
    input_normalization,
):
    """The U-Net's encoder: its own contracting path, or a registered one."""
    if encoder == "conv":
        if encoder_weights is not None or encoder_options is not None:
            raise ValueError(
                "The 'conv' encoder of a U-Net is shaped by `depth`, "
                "`base_filters` and `dropout`; `encoder_weights` and "
                "`encoder_options` are for the other encoders. Received: "
                f"encoder_weights={encoder_weights!r}, "
                f"encoder_options={encoder_options!r}"
            )
        return conv_encoder(
            (None, None, input_shape[-1]),
            depth=4 if depth is None else depth,
            base_filters=64 if base_filters is None else base_filters,
            batch_norm=batch_norm,
            dropout=dropout,
        )
    conv_only = {
        "depth": depth,
        "base_filters": base_filters,
        "dropout": dropout or None,
        "input_normalization": input_normalization,
    }
    given = {key: value for key, value in conv_only.items() if value}
    if given:
        raise ValueError(
            f"{sorted(given)} shape the 'conv' encoder; the {encoder!r} "
            "encoder is fixed by its name and `encoder_options`, and "
            "normalizes raw 0–255 pixels itself. Received: "
            + ", ".join(f"{key}={value!r}" for key, value in given.items())
        )
    return build_encoder(
        encoder, input_shape, weights=encoder_weights, options=encoder_options
    )


def _unet(
    input_shape,
    num_classes,
    *,
    encoder,
    encoder_weights,
    encoder_options,
    decoder_filters,
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
    encoder_name, encoder = (
        encoder,
        unet_encoder(
            input_shape,
            encoder=encoder,
            encoder_weights=encoder_weights,
            encoder_options=encoder_options,
            depth=depth,
            base_filters=base_filters,
            batch_norm=batch_norm,
            dropout=dropout,
            input_normalization=input_normalization,
        ),
    )
    if decoder_filters is None and encoder_name != "conv":
        steps = total_stride(encoder.output).bit_length() - 1
        decoder_filters = PRETRAINED_DECODER_FILTERS[:steps]
    return compose(
        input_shape,
        encoder=encoder,
        decoder_stride=decoder_stride(encoder.output, decoder_filters),
        decoder=functools.partial(
            unet_decoder,
            filters=decoder_filters,
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
    encoder="conv",
    encoder_weights=None,
    encoder_options=None,
    decoder_filters=None,
    depth=None,
    base_filters=None,
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
        encoder=encoder,
        encoder_weights=encoder_weights,
        encoder_options=encoder_options,
        decoder_filters=decoder_filters,
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
    encoder="conv",
    encoder_weights=None,
    encoder_options=None,
    decoder_filters=None,
    depth=None,
    base_filters=None,
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
        encoder=encoder,
        encoder_weights=encoder_weights,
        encoder_options=encoder_options,
        decoder_filters=decoder_filters,
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
    head. Over a pretrained encoder (`encoder="resnet34"`, …) it is the
    U-Net of segmentation_models: decoder blocks of `decoder_filters`
    widths down to the input's resolution.
"""
    + _ARGS_DOC
    + """
    Example:

    >>> model = kerasseg.models.unet((None, None, 1), num_classes=2,
    ...                              depth=2, base_filters=4)
    >>> tuple(model(np.zeros((1, 65, 97, 1))).shape)
    (1, 65, 97, 2)
    >>> model = kerasseg.models.unet((None, None, 3), num_classes=1,
    ...                              encoder="resnet18",
    ...                              decoder_filters=(64, 32, 16, 16, 8))
    >>> tuple(model(np.zeros((1, 64, 96, 3))).shape)
    (1, 64, 96, 1)

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
# The U-Net of segmentation_models(.pytorch) over its usual encoders:
# decoder widths 256, 128, 64, 32, 16 to the input's resolution, nearest
# upsampling.
for _encoder in ("resnet18", "resnet34", "resnet50", "efficientnetb0"):
    register_model(
        f"unet_{_encoder}",
        unet,
        task="segmentation",
        description=f"U-Net over {_encoder}, segmentation_models' layout "
        "(decoder 256/128/64/32/16, nearest upsampling, batch norm).",
        encoder=_encoder,
        upsampling="nearest",
    )
register_model(
    "attention_unet_resnet34",
    attention_unet,
    task="segmentation",
    description="Attention U-Net over resnet34 (decoder 256/128/64/32/16, "
    "nearest upsampling, batch norm).",
    encoder="resnet34",
    upsampling="nearest",
)

__all__ = ["attention_unet", "unet"]
