"""LinkNet (Chaurasia & Culurciello, 2017)."""

import functools

from kerasseg import _validation as check
from kerasseg.decoders.linknet import linknet_decoder
from kerasseg.models.base import build_encoder
from kerasseg.models.base import check_segmenter
from kerasseg.models.base import compose
from kerasseg.models.base import segmentation_head
from kerasseg.registry import register_model
from kerasseg.zoo import with_weights


def linknet(
    input_shape=(None, None, 3),
    num_classes=1,
    *,
    encoder="resnet34",
    encoder_weights=None,
    encoder_options=None,
    final_filters=32,
    activation=None,
    name="linknet",
):
    """LinkNet: an encoder and a decoder whose blocks add the skips.

    Each decoder block (`kerasseg.decoders.linknet.linknet_decoder`) maps
    its input to a quarter of the channels (1×1), upsamples 2× with a 4×4
    transposed convolution and maps to the next level's channels (1×1),
    then adds that level's encoder features; a last block reaches the
    input's resolution and a 1×1 convolution scores it. Adding instead of
    concatenating keeps the decoder small and fast: the layout of
    segmentation_models.pytorch's `Linknet`.

    Args:
        input_shape: `(height, width, channels)`; any height and width.
        num_classes: output channels.
        encoder: an encoder name from `kerasseg.encoders.ENCODERS` (the
            paper's is ResNet18); its levels must be 2× apart.
        encoder_weights: None, "imagenet" or a weights file.
        encoder_options: dict of further encoder arguments.
        final_filters: channels of the last decoder block (32).
        activation: None (logits, the default), "sigmoid" or "softmax".
        name: the model's name.

    Returns:
        A Functional `keras.Model` from images to float32 scores of the
        input's height and width.

    Raises:
        ValueError: for an argument out of range; the message quotes it.

    Example:

    >>> model = kerasseg.models.linknet(
    ...     num_classes=2, encoder="conv",
    ...     encoder_options={"depth": 3, "base_filters": 8})
    >>> tuple(model(np.zeros((1, 65, 97, 3))).shape)
    (1, 65, 97, 2)

    Reference:
        Chaurasia and Culurciello, "LinkNet: Exploiting Encoder
        Representations for Efficient Semantic Segmentation", VCIP 2017.
        https://arxiv.org/abs/1707.03718
    """
    input_shape, num_classes = check_segmenter(
        input_shape, num_classes, activation
    )
    check.positive_int("final_filters", final_filters)
    return compose(
        input_shape,
        encoder=build_encoder(
            encoder,
            input_shape,
            weights=encoder_weights,
            options=encoder_options,
        ),
        decoder=functools.partial(linknet_decoder, final_filters=final_filters),
        head=segmentation_head(num_classes, activation),
        decoder_stride=1,
        name=name,
    )


linknet = with_weights(linknet)

for _encoder in ("resnet18", "resnet34", "resnet50"):
    register_model(
        f"linknet_{_encoder}",
        linknet,
        task="segmentation",
        description=f"LinkNet over {_encoder} (additive skips, last block "
        "32 channels).",
        encoder=_encoder,
    )
register_model(
    "linknet_tiny",
    linknet,
    task="segmentation",
    description="A tiny LinkNet for tests (conv encoder of depth 3, 8 "
    "filters).",
    encoder="conv",
    encoder_options={"depth": 3, "base_filters": 8},
)

__all__ = ["linknet"]
