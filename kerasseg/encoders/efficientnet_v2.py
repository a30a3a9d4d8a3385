"""EfficientNetV2 B0–B3, S, M and L (Tan and Le, 2021) from
keras.applications."""

import functools

import keras

from kerasseg.encoders.applications import application_encoder
from kerasseg.encoders.applications import family_encoder
from kerasseg.encoders.applications import input_of

# Every variant has the same stage names: each level is the output of the
# stage that feeds the next stage's first (strided) block, and the top
# activation is the stride-32 output.
_TAPS = {
    1: input_of("block2a_expand_conv"),
    2: input_of("block3a_expand_conv"),
    3: input_of("block4a_expand_conv"),
    4: input_of("block6a_expand_conv"),
    5: "top_activation",
}


def _build(variant):
    application = getattr(
        keras.applications, f"EfficientNetV2{variant.upper()}"
    )
    if variant.startswith("b"):
        # keras.applications normalizes B0–B3's 0–1 pixels with ImageNet's
        # mean and standard deviation, as "torch" does; kerasseg's layer
        # also adapts them to 1 or 4+ channels (keras.applications then
        # falls back to S–L's scaling, which the weights were not trained
        # with).
        return functools.partial(
            application_encoder,
            application,
            _TAPS,
            preprocessing="torch",
            include_preprocessing=False,
        )
    # S, M and L scale to [-1, 1) by x / 128 - 1, the same for any number
    # of channels: keras.applications' own layer stays.
    return functools.partial(
        application_encoder, application, _TAPS, preprocessing=None
    )


def efficientnetv2b0_encoder(
    input_shape=(None, None, 3),
    *,
    weights=None,
    output_stride=None,
    batch_norm_momentum=None,
    name="encoder",
):
    """keras.applications.EfficientNetV2B0 without its top, as an encoder.

    Takes raw 0–255 pixels, normalized in the graph as keras.applications
    does (B0–B3: to [0, 1], then ImageNet's mean and standard deviation
    per channel; S, M and L: x / 128 - 1).

    Args:
        input_shape: `(height, width, channels)`; height and width may be
            None. 1 or 4+ channels adapt the pretrained first convolution.
        weights: None, "imagenet", a keras.applications EfficientNetV2B0
            `.h5` file without top, or a `.weights.h5` file saved from an
            encoder of the same settings.
        output_stride: None (32), 16 or 8; deeper stages are dilated.
        batch_norm_momentum: None keeps keras.applications' momentum of
            the BatchNormalization statistics, a number in [0, 1) sets it
            (see `kerasseg.encoders.applications.application_encoder`).
        name: the model's name.

    Returns:
        A `keras.Model` mapping images to `{"P1": 16, "P2": 32, "P3": 48,
        "P4": 112, "P5": 1280 channels}`.

    Example:

    >>> encoder = kerasseg.encoders.efficientnetv2b0_encoder()
    >>> [v.shape[-1] for v in encoder(np.zeros((1, 64, 64, 3))).values()]
    [16, 32, 48, 112, 1280]

    Reference:
        Tan and Le, "EfficientNetV2: Smaller Models and Faster Training",
        ICML 2021. https://arxiv.org/abs/2104.00298
    """
    return _build("b0")(
        input_shape,
        weights=weights,
        output_stride=output_stride,
        batch_norm_momentum=batch_norm_momentum,
        name=name,
    )


def _larger(variant):
    return family_encoder(
        f"efficientnetv2{variant}_encoder",
        f"""keras.applications.EfficientNetV2{variant.upper()} without
    its top, as a kerasseg encoder: `efficientnetv2b0_encoder`'s arguments
    and in-graph preprocessing, levels P1 … P5 at the ends of stages 1, 2,
    3 and 5 and the top activation.
    """,
        _build(variant),
    )


efficientnetv2b1_encoder = _larger("b1")
efficientnetv2b2_encoder = _larger("b2")
efficientnetv2b3_encoder = _larger("b3")
efficientnetv2s_encoder = _larger("s")
efficientnetv2m_encoder = _larger("m")
efficientnetv2l_encoder = _larger("l")
