"""MobileNetV3 Small and Large (Howard et al., 2019) from keras.applications."""

import keras

from kerasseg.encoders.applications import OUTPUT
from kerasseg.encoders.applications import application_encoder
from kerasseg.encoders.applications import input_of

# Each level is the stage output that feeds the next stage's first
# (strided) block; the last one is the final 1×1 convolution's activation.
# Small's first block is already strided, so its P1 is the stem.
_TAPS = {
    "small": {
        1: input_of("expanded_conv_depthwise_pad"),
        2: input_of("expanded_conv_1_expand"),
        3: input_of("expanded_conv_3_expand"),
        4: input_of("expanded_conv_8_expand"),
        5: OUTPUT,
    },
    "large": {
        1: input_of("expanded_conv_1_expand"),
        2: input_of("expanded_conv_3_expand"),
        3: input_of("expanded_conv_6_expand"),
        4: input_of("expanded_conv_12_expand"),
        5: OUTPUT,
    },
}
_APPLICATIONS = {
    "small": keras.applications.MobileNetV3Small,
    "large": keras.applications.MobileNetV3Large,
}


def _mobilenetv3(size, input_shape, **options):
    return application_encoder(
        _APPLICATIONS[size],
        _TAPS[size],
        input_shape,
        # keras.applications' own Rescaling to [-1, 1] is the same
        # computation; kerasseg's keeps it outside the backbone, as for
        # MobileNetV2.
        preprocessing="tf",
        include_preprocessing=False,
        **options,
    )


def mobilenetv3small_encoder(
    input_shape=(None, None, 3),
    *,
    weights=None,
    output_stride=None,
    alpha=1.0,
    minimalistic=False,
    batch_norm_momentum=None,
    name="encoder",
):
    """keras.applications.MobileNetV3Small without its top, as an encoder.

    Takes raw 0–255 pixels (scaled to [-1, 1] in the graph).

    Args:
        input_shape: `(height, width, channels)`; height and width may be
            None. 1 or 4+ channels adapt the pretrained first convolution.
        weights: None, "imagenet", a keras.applications MobileNetV3Small
            `.h5` file without top, or a `.weights.h5` file saved from an
            encoder of the same settings.
        output_stride: None (32), 16 or 8; deeper stages are dilated.
        alpha: width multiplier; ImageNet weights exist for 0.75 and 1.0.
        minimalistic: the variant without squeeze-and-excitation,
            hard-swish or 5×5 kernels (ImageNet weights exist for it too).
        batch_norm_momentum: None keeps keras.applications' momentum of
            the BatchNormalization statistics, a number in [0, 1) sets it
            (see `kerasseg.encoders.applications.application_encoder`).
        name: the model's name.

    Returns:
        A `keras.Model` mapping images to `{"P1": …, "P5": …}` (16, 16,
        24, 48 and 576 channels at `alpha=1`).

    Example:

    >>> encoder = kerasseg.encoders.mobilenetv3small_encoder()
    >>> [v.shape[-1] for v in encoder(np.zeros((1, 64, 64, 3))).values()]
    [16, 16, 24, 48, 576]

    Reference:
        Howard et al., "Searching for MobileNetV3", ICCV 2019.
        https://arxiv.org/abs/1905.02244
    """
    return _mobilenetv3(
        "small",
        input_shape,
        weights=weights,
        output_stride=output_stride,
        alpha=alpha,
        minimalistic=minimalistic,
        batch_norm_momentum=batch_norm_momentum,
        name=name,
    )


def mobilenetv3large_encoder(
    input_shape=(None, None, 3),
    *,
    weights=None,
    output_stride=None,
    alpha=1.0,
    minimalistic=False,
    batch_norm_momentum=None,
    name="encoder",
):
    """keras.applications.MobileNetV3Large without its top, as an encoder.

    The arguments and preprocessing of `mobilenetv3small_encoder`.

    Returns:
        A `keras.Model` mapping images to `{"P1": …, "P5": …}` (16, 24,
        40, 112 and 960 channels at `alpha=1`).

    Example:

    >>> encoder = kerasseg.encoders.mobilenetv3large_encoder()
    >>> [v.shape[-1] for v in encoder(np.zeros((1, 64, 64, 3))).values()]
    [16, 24, 40, 112, 960]

    Reference:
        Howard et al., "Searching for MobileNetV3", ICCV 2019.
        https://arxiv.org/abs/1905.02244
    """
    return _mobilenetv3(
        "large",
        input_shape,
        weights=weights,
        output_stride=output_stride,
        alpha=alpha,
        minimalistic=minimalistic,
        batch_norm_momentum=batch_norm_momentum,
        name=name,
    )
