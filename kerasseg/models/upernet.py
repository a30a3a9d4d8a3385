"""UPerNet (Xiao et al., 2018)."""

import functools

from kerasseg.decoders.upernet import upernet_decoder
from kerasseg.encoders.base import stride_of
from kerasseg.models.base import build_encoder
from kerasseg.models.base import check_segmenter
from kerasseg.models.base import compose
from kerasseg.models.base import segmentation_head
from kerasseg.registry import register_model
from kerasseg.zoo import with_weights


def upernet(
    input_shape=(None, None, 3),
    num_classes=1,
    *,
    encoder="resnet50",
    encoder_weights=None,
    encoder_options=None,
    filters=512,
    bins=(1, 2, 3, 6),
    dropout=0.1,
    activation=None,
    name="upernet",
):
    """UPerNet: pyramid pooling and a feature pyramid fused at stride 4.

    The semantic-segmentation part of Unified Perceptual Parsing: PSPNet's
    pyramid pooling on the deepest features, an FPN over the encoder's
    levels from stride 4, all levels fused by a 3×3 convolution
    (`kerasseg.decoders.upernet.upernet_decoder`); a 1×1 head scores the
    result and the scores are upsampled bilinearly ×4. The head of the
    MMSegmentation and keras-hub UPerNet configurations used with
    ConvNeXt and Swin; the paper's auxiliary FCN head is not built.

    Args:
        input_shape: `(height, width, channels)`; any height and width.
        num_classes: output channels.
        encoder: an encoder name from `kerasseg.encoders.ENCODERS` that
            gives P2 and a deeper level.
        encoder_weights: None, "imagenet" or a weights file.
        encoder_options: dict of further encoder arguments.
        filters: channels of every decoder convolution (512).
        bins: pyramid pooling grid sizes.
        dropout: dropout rate before the head (0.1).
        activation: None (logits, the default), "sigmoid" or "softmax".
        name: the model's name.

    Returns:
        A Functional `keras.Model` from images to float32 scores of the
        input's height and width.

    Raises:
        ValueError: for an argument out of range; the message quotes it.

    Example:

    >>> model = kerasseg.models.upernet(
    ...     num_classes=3, encoder="conv", filters=8,
    ...     encoder_options={"depth": 4, "base_filters": 4})
    >>> tuple(model(np.zeros((1, 65, 97, 3))).shape)
    (1, 65, 97, 3)

    Reference:
        Xiao et al., "Unified Perceptual Parsing for Scene Understanding",
        ECCV 2018. https://arxiv.org/abs/1807.10221
    """
    input_shape, num_classes = check_segmenter(
        input_shape, num_classes, activation
    )
    return compose(
        input_shape,
        encoder=build_encoder(
            encoder,
            input_shape,
            weights=encoder_weights,
            options=encoder_options,
        ),
        decoder=functools.partial(
            upernet_decoder, filters=filters, bins=bins, dropout=dropout
        ),
        head=segmentation_head(num_classes, activation),
        decoder_stride=stride_of("P2"),
        name=name,
    )


upernet = with_weights(upernet)

# ConvNeXt-T under UPerNet is the ConvNeXt paper's ADE20K segmenter.
for _encoder in ("resnet50", "resnet34", "convnexttiny"):
    register_model(
        f"upernet_{_encoder}",
        upernet,
        task="segmentation",
        description=f"UPerNet over {_encoder} (512 channels, pyramid "
        "pooling 1/2/3/6, levels fused at stride 4).",
        encoder=_encoder,
    )
register_model(
    "upernet_tiny",
    upernet,
    task="segmentation",
    description="A tiny UPerNet for tests (conv encoder of depth 4, 4 "
    "filters; 8 channels).",
    encoder="conv",
    encoder_options={"depth": 4, "base_filters": 4},
    filters=8,
)

__all__ = ["upernet"]
