"""FPN (Kirillov et al., 2019: the semantic branch of panoptic FPN)."""

import functools

from kerasseg.decoders.fpn import fpn_decoder
from kerasseg.encoders.base import stride_of
from kerasseg.models.base import build_encoder
from kerasseg.models.base import check_segmenter
from kerasseg.models.base import compose
from kerasseg.models.base import segmentation_head
from kerasseg.registry import register_model
from kerasseg.zoo import with_weights


def fpn(
    input_shape=(None, None, 3),
    num_classes=1,
    *,
    encoder="resnet34",
    encoder_weights=None,
    encoder_options=None,
    pyramid_filters=256,
    segmentation_filters=128,
    merge="add",
    dropout=0.2,
    norm_groups=32,
    activation=None,
    name="fpn",
):
    """FPN: a feature pyramid over any encoder and a light semantic head.

    The decoder (`kerasseg.decoders.fpn.fpn_decoder`) builds a top-down
    pyramid from the encoder's stride-4 to deepest levels, brings every
    level to stride 4 through 3×3 convolution, GroupNorm and ReLU blocks
    with 2× bilinear upsampling, and sums them; a 1×1 convolution scores
    the result and the scores are upsampled bilinearly ×4. The layout of
    segmentation_models.pytorch's `FPN`.

    Args:
        input_shape: `(height, width, channels)`; any height and width.
        num_classes: output channels.
        encoder: an encoder name from `kerasseg.encoders.ENCODERS`; it
            must give P2 and a deeper level.
        encoder_weights: None, "imagenet" or a weights file.
        encoder_options: dict of further encoder arguments.
        pyramid_filters: channels of the pyramid (256).
        segmentation_filters: channels of the semantic head (128).
        merge: "add" (the paper's) or "concat" the levels.
        dropout: spatial dropout after merging (0.2).
        norm_groups: GroupNorm groups (32); must divide
            `segmentation_filters`.
        activation: None (logits, the default), "sigmoid" or "softmax".
        name: the model's name.

    Returns:
        A Functional `keras.Model` from images to float32 scores of the
        input's height and width.

    Raises:
        ValueError: for an argument out of range; the message quotes it.

    Example:

    >>> model = kerasseg.models.fpn(
    ...     num_classes=3, encoder="conv",
    ...     encoder_options={"depth": 4, "base_filters": 4},
    ...     pyramid_filters=8, segmentation_filters=8, norm_groups=4)
    >>> tuple(model(np.zeros((1, 65, 97, 3))).shape)
    (1, 65, 97, 3)

    Reference:
        Kirillov et al., "Panoptic Feature Pyramid Networks", CVPR 2019.
        https://arxiv.org/abs/1901.02446
    """
    input_shape, num_classes = check_segmenter(
        input_shape, num_classes, activation
    )
    decoder = functools.partial(
        fpn_decoder,
        pyramid_filters=pyramid_filters,
        segmentation_filters=segmentation_filters,
        merge=merge,
        dropout=dropout,
        norm_groups=norm_groups,
    )
    return compose(
        input_shape,
        encoder=build_encoder(
            encoder,
            input_shape,
            weights=encoder_weights,
            options=encoder_options,
        ),
        decoder=decoder,
        head=segmentation_head(num_classes, activation),
        decoder_stride=stride_of("P2"),
        name=name,
    )


fpn = with_weights(fpn)

for _encoder in ("resnet34", "resnet50"):
    register_model(
        f"fpn_{_encoder}",
        fpn,
        task="segmentation",
        description=f"FPN over {_encoder} (pyramid 256, semantic head 128, "
        "GroupNorm 32, levels summed).",
        encoder=_encoder,
    )
register_model(
    "fpn_tiny",
    fpn,
    task="segmentation",
    description="A tiny FPN for tests (conv encoder of depth 4, 4 filters; "
    "pyramid and head 8 channels, 4 groups).",
    encoder="conv",
    encoder_options={"depth": 4, "base_filters": 4},
    pyramid_filters=8,
    segmentation_filters=8,
    norm_groups=4,
)

__all__ = ["fpn"]
