"""DeepLabV3 (Chen et al., 2017) and DeepLabV3+ (Chen et al., 2018)."""

import functools

from kerasseg import _validation as check
from kerasseg.decoders.deeplab import deeplabv3_decoder
from kerasseg.decoders.deeplab import deeplabv3plus_decoder
from kerasseg.encoders.base import stride_of
from kerasseg.encoders.base import total_stride
from kerasseg.models.base import build_encoder
from kerasseg.models.base import check_segmenter
from kerasseg.models.base import compose
from kerasseg.models.base import segmentation_head
from kerasseg.registry import register_model
from kerasseg.zoo import with_weights


def _atrous_rates(rates, encoder):
    """ASPP's rates: as given, or (6, 12, 18) at output stride 16 scaled
    with the stride (12, 24, 36 at 8), as in both papers."""
    if rates is None:
        scale = 16 // total_stride(encoder.output) or 1
        rates = tuple(rate * scale for rate in (6, 12, 18))
    return check.positive_ints(
        "atrous_rates", rates, what="positive integers", example=[6, 12, 18]
    )


def deeplabv3plus(
    input_shape=(None, None, 3),
    num_classes=1,
    *,
    encoder="resnet50",
    encoder_weights=None,
    encoder_options=None,
    output_stride=16,
    atrous_rates=None,
    filters=256,
    low_level_filters=48,
    dropout=0.1,
    separable=True,
    activation=None,
    name="deeplabv3plus",
):
    """DeepLabV3+: a dilated encoder, ASPP and a light decoder.

    The encoder's last stages are dilated so its deepest features have
    stride `output_stride`; atrous spatial pyramid pooling (a 1×1 branch,
    three dilated 3×3 branches and image pooling; depthwise-separable by
    default) reads them; the result is
    upsampled bilinearly to stride 4, concatenated with the encoder's
    stride-4 features (reduced to `low_level_filters` channels), refined by
    two 3×3 convolutions, scored by a 1×1 convolution and upsampled
    bilinearly ×4 to the input's size.

    Args:
        input_shape: `(height, width, channels)`; any height and width.
        num_classes: output channels.
        encoder: an encoder name from `kerasseg.encoders.ENCODERS`.
        encoder_weights: None, "imagenet" or a weights file; preprocessing
            is in the graph (the model takes raw 0–255 pixels).
        encoder_options: dict of further encoder arguments.
        output_stride: 16 or 8 (dilating the last one or two stages); None
            keeps the encoder as it is (required for "conv").
        atrous_rates: dilation rates of the ASPP branches; by default
            (6, 12, 18) at output stride 16, scaled with the stride (12,
            24, 36 at 8), as in the paper.
        filters: channels of ASPP and the decoder (256 in the paper).
        low_level_filters: channels of the reduced stride-4 skip (48).
        dropout: dropout rate after the ASPP projection.
        separable: depthwise-separable 3×3 convolutions in ASPP and the
            decoder, as in the paper and segmentation_models.pytorch; False
            gives plain convolutions (keras-hub's choice, ~13M more
            parameters over ResNet50).
        activation: None (logits, the default), "sigmoid" or "softmax".
        name: the model's name.

    Returns:
        A Functional `keras.Model` from images to float32 scores of the
        input's height and width.

    Raises:
        ValueError: for an argument out of range; the message quotes it.

    Example:

    >>> model = kerasseg.models.deeplabv3plus(
    ...     num_classes=3, encoder="mobilenetv2", output_stride=8,
    ...     encoder_options={"alpha": 0.35}, filters=16, low_level_filters=8)
    >>> tuple(model(np.zeros((1, 65, 97, 3))).shape)
    (1, 65, 97, 3)

    Reference:
        Chen et al., "Encoder-Decoder with Atrous Separable Convolution for
        Semantic Image Segmentation", ECCV 2018.
        https://arxiv.org/abs/1802.02611
    """
    input_shape, num_classes = check_segmenter(
        input_shape, num_classes, activation
    )
    check.positive_int("filters", filters)
    check.positive_int("low_level_filters", low_level_filters)
    check.rate("dropout", dropout)
    features = build_encoder(
        encoder,
        input_shape,
        weights=encoder_weights,
        output_stride=output_stride,
        options=encoder_options,
    )
    atrous_rates = _atrous_rates(atrous_rates, features)
    return compose(
        input_shape,
        encoder=features,
        decoder=functools.partial(
            deeplabv3plus_decoder,
            filters=filters,
            low_level_filters=low_level_filters,
            atrous_rates=atrous_rates,
            dropout=dropout,
            separable=separable,
        ),
        head=segmentation_head(num_classes, activation),
        decoder_stride=stride_of("P2"),
        name=name,
    )


deeplabv3plus = with_weights(deeplabv3plus)


def deeplabv3(
    input_shape=(None, None, 3),
    num_classes=1,
    *,
    encoder="resnet50",
    encoder_weights=None,
    encoder_options=None,
    output_stride=8,
    atrous_rates=None,
    filters=256,
    dropout=0.5,
    separable=False,
    activation=None,
    name="deeplabv3",
):
    """DeepLabV3: a dilated encoder, ASPP and one 3×3 convolution.

    The model of torchvision's and keras-hub's pretrained segmenters. The
    encoder's last stages are dilated to `output_stride`; ASPP (a 1×1
    branch, three dilated 3×3 branches, image pooling, a 1×1 projection
    and dropout) reads the deepest features; a 3×3 convolution with batch
    norm and ReLU and a 1×1 convolution score them, and the scores are
    upsampled bilinearly to the input's size. No stride-4 skip: that is
    DeepLabV3+ (`deeplabv3plus`), whose ASPP this shares.

    Args:
        input_shape: `(height, width, channels)`; any height and width.
        num_classes: output channels.
        encoder: an encoder name from `kerasseg.encoders.ENCODERS`.
        encoder_weights: None, "imagenet" or a weights file; preprocessing
            is in the graph (the model takes raw 0–255 pixels).
        encoder_options: dict of further encoder arguments.
        output_stride: 8 (torchvision's and the paper's best), 16, or None
            to keep the encoder as it is (required for "conv").
        atrous_rates: dilation rates of the ASPP branches; by default
            (6, 12, 18) at output stride 16 and (12, 24, 36) at 8.
        filters: channels of ASPP and the 3×3 convolution (256).
        dropout: dropout rate after the ASPP projection (0.5, as in
            torchvision).
        separable: depthwise-separable 3×3 convolutions (False: plain, as
            in the paper and torchvision).
        activation: None (logits, the default), "sigmoid" or "softmax".
        name: the model's name.

    Returns:
        A Functional `keras.Model` from images to float32 scores of the
        input's height and width.

    Raises:
        ValueError: for an argument out of range; the message quotes it.

    Example:

    >>> model = kerasseg.models.deeplabv3(
    ...     num_classes=3, encoder="conv", output_stride=None,
    ...     encoder_options={"depth": 3, "base_filters": 4}, filters=8,
    ...     atrous_rates=(1, 2))
    >>> tuple(model(np.zeros((1, 65, 97, 3))).shape)
    (1, 65, 97, 3)

    Reference:
        Chen et al., "Rethinking Atrous Convolution for Semantic Image
        Segmentation", 2017. https://arxiv.org/abs/1706.05587
    """
    input_shape, num_classes = check_segmenter(
        input_shape, num_classes, activation
    )
    check.positive_int("filters", filters)
    check.rate("dropout", dropout)
    features = build_encoder(
        encoder,
        input_shape,
        weights=encoder_weights,
        output_stride=output_stride,
        options=encoder_options,
    )
    return compose(
        input_shape,
        encoder=features,
        decoder=functools.partial(
            deeplabv3_decoder,
            filters=filters,
            atrous_rates=_atrous_rates(atrous_rates, features),
            dropout=dropout,
            separable=separable,
        ),
        head=segmentation_head(num_classes, activation),
        decoder_stride=total_stride(features.output),
        name=name,
    )


deeplabv3 = with_weights(deeplabv3)

# === Registered configurations ===

for _encoder in ("resnet50", "mobilenetv2", "efficientnetb0"):
    register_model(
        f"deeplabv3plus_{_encoder}",
        deeplabv3plus,
        task="segmentation",
        description=f"DeepLabV3+ over {_encoder} (output stride 16 by "
        "default, ASPP rates 6/12/18, 256 channels).",
        encoder=_encoder,
    )
register_model(
    "deeplabv3plus_tiny",
    deeplabv3plus,
    task="segmentation",
    description="A tiny DeepLabV3+ for tests (conv encoder of depth 4, 16 "
    "channels, ASPP rates 1/2/3).",
    encoder="conv",
    encoder_options={"depth": 4, "base_filters": 4},
    output_stride=None,
    atrous_rates=(1, 2, 3),
    filters=16,
    low_level_filters=8,
)
for _encoder in ("resnet50", "resnet34", "mobilenetv2"):
    register_model(
        f"deeplabv3_{_encoder}",
        deeplabv3,
        task="segmentation",
        description=f"DeepLabV3 over {_encoder} (output stride 8, ASPP "
        "rates 12/24/36, 256 channels, plain convolutions).",
        encoder=_encoder,
    )
register_model(
    "deeplabv3_tiny",
    deeplabv3,
    task="segmentation",
    description="A tiny DeepLabV3 for tests (conv encoder of depth 3, 8 "
    "channels, ASPP rates 1/2).",
    encoder="conv",
    encoder_options={"depth": 3, "base_filters": 4},
    output_stride=None,
    atrous_rates=(1, 2),
    filters=8,
)

__all__ = ["deeplabv3", "deeplabv3plus"]
