"""MobileNetV2 (Sandler et al., 2018) from keras.applications."""

import keras

from kerasseg.encoders.applications import application_encoder

# The last block output at each stride; P5 is the final 1×1 convolution.
_TAPS = {
    1: "expanded_conv_project_BN",
    2: "block_2_add",
    3: "block_5_add",
    4: "block_12_add",
    5: "out_relu",
}


def mobilenetv2_encoder(
    input_shape=(None, None, 3),
    *,
    weights=None,
    output_stride=None,
    alpha=1.0,
    batch_norm_momentum=None,
    name="encoder",
):
    """keras.applications.MobileNetV2 without its top, as an encoder.

    Takes raw 0–255 pixels (scaled to [-1, 1] in the graph).

    Args:
        input_shape: `(height, width, channels)`; height and width may be
            None. 1 or 4+ channels adapt the pretrained first convolution.
        weights: None, "imagenet", a keras.applications MobileNetV2 `.h5`
            file without top, or a `.weights.h5` file saved from an
            encoder of the same settings.
        output_stride: None (32), 16 or 8; deeper stages are dilated.
        alpha: width multiplier; ImageNet weights exist for 0.35, 0.5,
            0.75, 1.0, 1.3 and 1.4.
        batch_norm_momentum: None keeps keras.applications' momentum of
            the BatchNormalization statistics, a number in [0, 1) sets it
            (see `kerasseg.encoders.applications.application_encoder`).
        name: the model's name.

    Returns:
        A `keras.Model` mapping images to `{"P1": …, "P5": …}` (16, 24,
        32, 96 and 1280 channels at `alpha=1`).

    Example:

    >>> encoder = kerasseg.encoders.mobilenetv2_encoder(alpha=0.35)
    >>> [v.shape[-1] for v in encoder(np.zeros((1, 64, 64, 3))).values()]
    [8, 8, 16, 32, 1280]

    Reference:
        Sandler et al., "MobileNetV2: Inverted Residuals and Linear
        Bottlenecks", CVPR 2018. https://arxiv.org/abs/1801.04381
    """
    return application_encoder(
        keras.applications.MobileNetV2,
        _TAPS,
        input_shape,
        weights=weights,
        output_stride=output_stride,
        preprocessing="tf",
        name=name,
        alpha=alpha,
        batch_norm_momentum=batch_norm_momentum,
    )
