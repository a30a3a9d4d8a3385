"""U-Net++ (Zhou et al., 2018)."""

import functools

import keras

from kerasseg import _validation as check
from kerasseg import heads
from kerasseg.decoders.unet import UPSAMPLING_MODES
from kerasseg.decoders.unetplusplus import unetplusplus_decoder
from kerasseg.encoders.base import levels_deepest_first
from kerasseg.encoders.base import stride_of
from kerasseg.layers.normalization import normalization_for
from kerasseg.models.base import check_segmenter
from kerasseg.models.base import compose
from kerasseg.models.base import encode
from kerasseg.models.base import segmentation_head
from kerasseg.models.base import to_input_size
from kerasseg.models.unet import PRETRAINED_DECODER_FILTERS
from kerasseg.models.unet import unet_encoder
from kerasseg.registry import register_model
from kerasseg.zoo import with_weights


def unetplusplus(
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
    activation=None,
    input_normalization=None,
    deep_supervision=False,
    name="unetplusplus",
):
    """U-Net++: a U-Net whose skips are nested, dense convolution paths.

    Every decoder node X(i, j) convolves the concatenation of all earlier
    nodes of its level and the upsampled node below it
    (`kerasseg.decoders.unetplusplus.unetplusplus_decoder`); a 1×1
    convolution scores X(0, D). With `deep_supervision=True` every
    X(0, j) gets a head of its own, as in the paper.

    Args:
        input_shape: `(height, width, channels)`; any height and width.
        num_classes: output channels.
        encoder: "conv" (the U-Net's contracting path: `depth`,
            `base_filters`, `dropout`, `input_normalization`) or another
            name in `kerasseg.encoders.ENCODERS`.
        encoder_weights: None, "imagenet" or a weights file (not "conv").
        encoder_options: dict of further arguments of a non-"conv"
            encoder.
        decoder_filters: one width per level with decoder nodes,
            shallowest first. None: the encoder's channels of each level
            for "conv" (the paper); (32, 64, 128, 256) over a stride-32
            encoder such as "resnet34" (segmentation_models' widths).
        depth: pooling stages of the "conv" encoder (None: 4).
        base_filters: first-level channels of the "conv" encoder (None:
            32, the paper's).
        batch_norm: batch normalization after every 3×3 convolution.
        dropout: dropout at the end of the "conv" contracting path.
        upsampling: "transpose", "bilinear" or "nearest".
        activation: None (logits, the default), "sigmoid" or "softmax".
        input_normalization: None, "percentile" or a dict of
            `kerasseg.layers.PercentileNormalization` arguments ("conv"
            only).
        deep_supervision: False (one output), or True: a dict of outputs,
            "mask" (the head on X(0, D), the model's answer) and
            "deep_1" … "deep_{D-1}" (heads on X(0, 1) … X(0, D - 1)), each
            scoring the same mask. Train with the same loss on every key
            (`{key: loss for key in model.output}`, targets
            `{key: mask for key in model.output}`); the paper averages
            the losses. `kerasseg train` does not train this form yet.
        name: the model's name.

    Returns:
        A Functional `keras.Model` from images to float32 scores of the
        input's height and width (a dict of them with
        `deep_supervision`).

    Raises:
        ValueError: for an argument out of range; the message quotes it.

    Example:

    >>> model = kerasseg.models.unetplusplus(
    ...     (None, None, 1), num_classes=2, depth=2, base_filters=4)
    >>> tuple(model(np.zeros((1, 65, 97, 1))).shape)
    (1, 65, 97, 2)

    Reference:
        Zhou et al., "UNet++: A Nested U-Net Architecture for Medical Image
        Segmentation", DLMIA 2018. https://arxiv.org/abs/1807.10165
    """
    input_shape, num_classes = check_segmenter(
        input_shape, num_classes, activation
    )
    check.one_of("upsampling", upsampling, UPSAMPLING_MODES)
    normalization = normalization_for(input_normalization)
    features = unet_encoder(
        input_shape,
        encoder=encoder,
        encoder_weights=encoder_weights,
        encoder_options=encoder_options,
        depth=depth,
        base_filters=32
        if base_filters is None and encoder == "conv"
        else (base_filters),
        batch_norm=batch_norm,
        dropout=dropout,
        input_normalization=input_normalization,
    )
    keys = levels_deepest_first(features.output)
    if decoder_filters is None and encoder != "conv":
        decoder_filters = PRETRAINED_DECODER_FILTERS[: len(keys) - 1][::-1]
    if not isinstance(deep_supervision, bool):
        raise ValueError(
            "`deep_supervision` must be True or False. Received: "
            f"deep_supervision={deep_supervision!r}"
        )
    if deep_supervision:
        encoded = encode(input_shape, features, normalization=normalization)
        nodes = unetplusplus_decoder(
            encoded.features,
            filters=decoder_filters,
            batch_norm=batch_norm,
            upsampling=upsampling,
            all_outputs=True,
            name="decoder",
        )
        keys = [f"deep_{j}" for j in range(1, len(nodes))] + ["mask"]
        outputs = {}
        for key, node in zip(keys, nodes):
            scores = to_input_size(
                node,
                encoded,
                stride=stride_of(levels_deepest_first(encoded.features)[-1]),
                head=functools.partial(
                    heads.segmentation_head,
                    num_classes=num_classes,
                    activation=activation,
                    name="head" if key == "mask" else f"{key}_head",
                ),
                prefix="" if key == "mask" else f"{key}_",
            )
            # Named after its key: Keras logs "mask_loss", "deep_1_loss", ….
            outputs[key] = keras.layers.Identity(name=key, dtype="float32")(
                scores
            )
        return keras.Model(encoded.inputs, outputs, name=name)
    return compose(
        input_shape,
        encoder=features,
        decoder=functools.partial(
            unetplusplus_decoder,
            filters=decoder_filters,
            batch_norm=batch_norm,
            upsampling=upsampling,
        ),
        head=segmentation_head(num_classes, activation),
        normalization=normalization,
        decoder_stride=stride_of(keys[-1]),
        name=name,
    )


unetplusplus = with_weights(unetplusplus)

register_model(
    "unetplusplus",
    unetplusplus,
    task="segmentation",
    description="U-Net++, 32 base filters, depth 4, batch norm.",
)
register_model(
    "unetplusplus_resnet34",
    unetplusplus,
    task="segmentation",
    description="U-Net++ over resnet34 (node widths 32/64/128/256, nearest "
    "upsampling, batch norm).",
    encoder="resnet34",
    upsampling="nearest",
)
register_model(
    "unetplusplus_tiny",
    unetplusplus,
    task="segmentation",
    description="A tiny U-Net++ for tests (base 4 filters, depth 3).",
    depth=3,
    base_filters=4,
    upsampling="bilinear",
)

__all__ = ["unetplusplus"]
