"""PSPNet (Zhao et al., 2017)."""

import functools

from kerasseg.decoders.pspnet import psp_decoder
from kerasseg.encoders.base import total_stride
from kerasseg.models.base import build_encoder
from kerasseg.models.base import check_segmenter
from kerasseg.models.base import compose
from kerasseg.models.base import segmentation_head
from kerasseg.registry import register_model
from kerasseg.zoo import with_weights


def pspnet(
    input_shape=(None, None, 3),
    num_classes=1,
    *,
    encoder="resnet50",
    encoder_weights=None,
    encoder_options=None,
    output_stride=8,
    bins=(1, 2, 3, 6),
    filters=512,
    dropout=0.1,
    activation=None,
    name="pspnet",
):
    """PSPNet: a dilated encoder and a pyramid pooling module.

    The encoder is dilated to `output_stride`; the pyramid pooling module
    (`kerasseg.decoders.pspnet.psp_decoder`) adds the 1×1, 2×2, 3×3 and
    6×6 average context of the deepest features at any input size; a 3×3
    convolution, dropout and a 1×1 head score them, and the scores are
    upsampled bilinearly to the input's size. The paper's auxiliary loss
    on conv4_x is not built.

    Args:
        input_shape: `(height, width, channels)`; any height and width.
        num_classes: output channels.
        encoder: an encoder name from `kerasseg.encoders.ENCODERS`.
        encoder_weights: None, "imagenet" or a weights file.
        encoder_options: dict of further encoder arguments.
        output_stride: 8 (the paper's), 16, or None to keep the encoder as
            it is (required for "conv").
        bins: the pyramid's grid sizes.
        filters: channels after the pyramid (512).
        dropout: dropout rate before the head (0.1).
        activation: None (logits, the default), "sigmoid" or "softmax".
        name: the model's name.

    Returns:
        A Functional `keras.Model` from images to float32 scores of the
        input's height and width.

    Raises:
        ValueError: for an argument out of range; the message quotes it.

    Example:

    >>> model = kerasseg.models.pspnet(
    ...     num_classes=3, encoder="conv", output_stride=None,
    ...     encoder_options={"depth": 3, "base_filters": 4}, filters=8)
    >>> tuple(model(np.zeros((1, 65, 97, 3))).shape)
    (1, 65, 97, 3)

    Reference:
        Zhao et al., "Pyramid Scene Parsing Network", CVPR 2017.
        https://arxiv.org/abs/1612.01105
    """
    input_shape, num_classes = check_segmenter(
        input_shape, num_classes, activation
    )
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
            psp_decoder, bins=bins, filters=filters, dropout=dropout
        ),
        head=segmentation_head(num_classes, activation),
        decoder_stride=total_stride(features.output),
        name=name,
    )


pspnet = with_weights(pspnet)

for _encoder in ("resnet50", "resnet34"):
    register_model(
        f"pspnet_{_encoder}",
        pspnet,
        task="segmentation",
        description=f"PSPNet over {_encoder} (output stride 8, bins "
        "1/2/3/6, 512 channels).",
        encoder=_encoder,
    )
register_model(
    "pspnet_tiny",
    pspnet,
    task="segmentation",
    description="A tiny PSPNet for tests (conv encoder of depth 3, 4 "
    "filters; 8 channels).",
    encoder="conv",
    encoder_options={"depth": 3, "base_filters": 4},
    output_stride=None,
    filters=8,
)

__all__ = ["pspnet"]
