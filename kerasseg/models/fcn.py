"""Fully convolutional networks: FCN-32s, FCN-16s and FCN-8s."""

import functools

from kerasseg import _validation as check
from kerasseg import heads
from kerasseg.decoders.fcn import fcn_decoder
from kerasseg.models.base import build_encoder
from kerasseg.models.base import compose
from kerasseg.registry import register_model
from kerasseg.zoo import with_weights

_ARGS_DOC = """
    Args:
        input_shape: `(height, width, channels)`; height and width may be
            None. Sizes that are not a multiple of the encoder's stride (32
            for VGG16) are zero-padded in the graph and cropped back. The
            paper's Caffe model padded the first convolution by 100 pixels
            and cropped with fixed offsets for the same purpose; with
            'same'-padded `fc6` this model needs neither.
        num_classes: output channels (21 for PASCAL VOC).
        encoder: an encoder name from `kerasseg.encoders.ENCODERS`; "vgg16"
            is the paper's.
        encoder_weights: None, "imagenet" or a weights file (see
            `kerasseg.encoders.get_encoder`). ImageNet preprocessing is in
            the graph: the model takes raw 0–255 pixels.
        encoder_options: dict of further encoder arguments (e.g. `depth`
            and `base_filters` for "conv").
        fc_filters: channels of `fc6` and `fc7` (4096 in the paper).
        fc_kernel_size: kernel of `fc6` (7: VGG16's first fully connected
            layer recast as a convolution over pool5).
        dropout: dropout rate after `fc6` and `fc7` (0.5 in the paper).
        activation: None (logits, the default), "sigmoid" or "softmax".
        name: the model's name.

    Returns:
        A Functional `keras.Model` from images to float32 scores of the
        input's height and width. Upsampling layers are transposed
        convolutions without bias, initialized to bilinear interpolation
        (`kerasseg.initializers.BilinearUpsampling`) and trainable.

    Raises:
        ValueError: for an argument out of range; the message quotes it.

    Reference:
        Long, Shelhamer and Darrell, "Fully Convolutional Networks for
        Semantic Segmentation", CVPR 2015. https://arxiv.org/abs/1411.4038
"""


def _fcn(
    input_shape,
    num_classes,
    *,
    variant,
    encoder,
    encoder_weights,
    encoder_options,
    fc_filters,
    fc_kernel_size,
    dropout,
    activation,
    name,
):
    input_shape = check.image_shape(input_shape)
    num_classes = check.positive_int("num_classes", num_classes)
    check.positive_int("fc_filters", fc_filters)
    check.positive_int("fc_kernel_size", fc_kernel_size)
    check.rate("dropout", dropout)
    check.activation(activation, num_classes)
    return compose(
        input_shape,
        encoder=build_encoder(
            encoder,
            input_shape,
            weights=encoder_weights,
            options=encoder_options,
        ),
        decoder=functools.partial(
            fcn_decoder,
            num_classes=num_classes,
            variant=variant,
            fc_filters=fc_filters,
            fc_kernel_size=fc_kernel_size,
            dropout=dropout,
        ),
        head=functools.partial(heads.activation_head, activation=activation),
        decoder_stride=1,
        name=name,
    )


def _variant(variant, summary, example):
    def builder(
        input_shape=(None, None, 3),
        num_classes=1,
        *,
        encoder="vgg16",
        encoder_weights=None,
        encoder_options=None,
        fc_filters=4096,
        fc_kernel_size=7,
        dropout=0.5,
        activation=None,
        name=f"fcn{variant}s",
    ):
        return _fcn(
            input_shape,
            num_classes,
            variant=variant,
            encoder=encoder,
            encoder_weights=encoder_weights,
            encoder_options=encoder_options,
            fc_filters=fc_filters,
            fc_kernel_size=fc_kernel_size,
            dropout=dropout,
            activation=activation,
            name=name,
        )

    builder.__name__ = builder.__qualname__ = f"fcn{variant}s"
    builder.__doc__ = (
        f"FCN-{variant}s (Long et al., 2015).\n\n    {summary}\n"
        + _ARGS_DOC
        + "\n    Example:\n\n"
        + example
    )
    return builder


fcn32s = _variant(
    32,
    "Scores the deepest level only and upsamples them 32× in one step.",
    """    >>> model = kerasseg.models.fcn32s(
    ...     num_classes=3, encoder="conv", fc_filters=8, fc_kernel_size=3,
    ...     encoder_options={"depth": 5, "base_filters": 2})
    >>> tuple(model(np.zeros((1, 65, 97, 3))).shape)
    (1, 65, 97, 3)
""",
)
fcn16s = _variant(
    16,
    "Adds the scores of the stride-16 level (pool4) before upsampling.",
    """    >>> model = kerasseg.models.fcn16s(
    ...     num_classes=3, encoder="conv", fc_filters=8, fc_kernel_size=3,
    ...     encoder_options={"depth": 5, "base_filters": 2})
    >>> tuple(model(np.zeros((1, 64, 64, 3))).shape)
    (1, 64, 64, 3)
""",
)
fcn8s = _variant(
    8,
    "Adds the scores of the stride-16 (pool4) and stride-8 (pool3) levels.",
    """    >>> model = kerasseg.build("fcn8s_vgg16", num_classes=21)
    >>> model.count_params()
    134489759
""",
)

fcn32s = with_weights(fcn32s)
fcn16s = with_weights(fcn16s)
fcn8s = with_weights(fcn8s)

# === Registered configurations ===

for _variant_number, _builder in ((32, fcn32s), (16, fcn16s), (8, fcn8s)):
    register_model(
        f"fcn{_variant_number}s",
        _builder,
        task="segmentation",
        description=f"FCN-{_variant_number}s over any encoder (VGG16 "
        "unless `encoder` says otherwise).",
    )
    register_model(
        f"fcn{_variant_number}s_vgg16",
        _builder,
        task="segmentation",
        description=f"FCN-{_variant_number}s over VGG16, the paper's "
        "layout (fc6 7×7×4096, fc7 1×1×4096, bilinear-initialized "
        "upsampling).",
        encoder="vgg16",
    )
    register_model(
        f"fcn{_variant_number}s_tiny",
        _builder,
        task="segmentation",
        description=f"A tiny FCN-{_variant_number}s for tests (conv "
        "encoder, depth 5, 2 base filters, fc 16 channels 3×3).",
        encoder="conv",
        encoder_options={"depth": 5, "base_filters": 2},
        fc_filters=16,
        fc_kernel_size=3,
        dropout=0.0,
    )

__all__ = ["fcn16s", "fcn32s", "fcn8s"]
