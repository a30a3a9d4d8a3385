"""EfficientNetB0–B7 (Tan and Le, 2019) from keras.applications."""

import functools
import math

import keras
import numpy as np

from kerasseg.encoders.applications import adapt_channels
from kerasseg.encoders.applications import application_encoder
from kerasseg.encoders.applications import family_encoder

# Blocks per stage of B0; the larger models repeat each ceil(depth ×)
# times. Stages 1–3 end at strides 2, 4 and 8, stage 5 at 16, and the
# final 1×1 convolution ("top") is the stride-32 output.
_REPEATS = (1, 2, 2, 3, 3, 4, 1)
# keras.applications' depth coefficients.
DEPTHS = {0: 1.0, 1: 1.1, 2: 1.2, 3: 1.4, 4: 1.8, 5: 2.2, 6: 2.6, 7: 3.1}


def _taps(depth):
    """The last layer of stages 1, 2, 3 and 5 (its residual sum, or the
    projection of a stage of one block) and the top activation."""

    def last(stage):
        blocks = math.ceil(depth * _REPEATS[stage - 1])
        if blocks == 1:
            return f"block{stage}a_project_bn"
        return f"block{stage}{chr(ord('a') + blocks - 1)}_add"

    return {1: last(1), 2: last(2), 3: last(3), 4: last(5), 5: "top_activation"}


_TAPS = _taps(DEPTHS[0])

# What keras.applications' EfficientNet normalizes 0–1 pixels with.
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def _set_normalization(backbone, source):
    """Puts the ImageNet statistics into the backbone's Normalization layer.

    keras.applications builds EfficientNet's "imagenet" graph with one more
    layer than its random-weights graph: a Rescaling by 1/sqrt(std) after
    the Normalization, compensating statistics stored in the weights file.
    This encoder always has the random-weights graph, so the same
    computation is folded into the variance instead: variance × std. The
    model is then identical to keras.applications' pretrained one. Without
    pretrained statistics it gets the plain ImageNet normalization.
    """
    layer = next(
        layer
        for layer in backbone.layers
        if isinstance(layer, keras.layers.Normalization)
    )
    channels = layer.adapt_mean.shape[-1]
    std = adapt_channels(np.asarray(_STD), channels, reduce="mean")
    if source in ("imagenet", "file"):
        layer.adapt_variance.assign(np.asarray(layer.adapt_variance) * std)
    elif source is None:
        mean = adapt_channels(np.asarray(_MEAN), channels, reduce="mean")
        layer.adapt_mean.assign(mean)
        layer.adapt_variance.assign(std**2)
    layer.finalize_state()


def efficientnetb0_encoder(
    input_shape=(None, None, 3),
    *,
    weights=None,
    output_stride=None,
    batch_norm_momentum=None,
    name="encoder",
):
    """keras.applications.EfficientNetB0 without its top, as an encoder.

    Takes raw 0–255 pixels: EfficientNet's own Rescaling and Normalization
    layers are part of the backbone.

    Args:
        input_shape: `(height, width, channels)`; height and width may be
            None. 1 or 4+ channels adapt the pretrained first convolution
            and the normalization statistics.
        weights: None, "imagenet", a keras.applications EfficientNetB0
            `.h5` file without top, or a `.weights.h5` file saved from an
            encoder of the same settings.
        output_stride: None (32), 16 or 8; deeper stages are dilated.
        batch_norm_momentum: None keeps keras.applications' momentum of
            the BatchNormalization statistics, a number in [0, 1) sets it
            (see `kerasseg.encoders.applications.application_encoder`).
        name: the model's name.

    Returns:
        A `keras.Model` mapping images to `{"P1": 16, "P2": 24, "P3": 40,
        "P4": 112, "P5": 1280 channels}`.

    Example:

    >>> encoder = kerasseg.encoders.efficientnetb0_encoder()
    >>> [v.shape[-1] for v in encoder(np.zeros((1, 64, 64, 3))).values()]
    [16, 24, 40, 112, 1280]

    Reference:
        Tan and Le, "EfficientNet: Rethinking Model Scaling for
        Convolutional Neural Networks", ICML 2019.
        https://arxiv.org/abs/1905.11946
    """
    return application_encoder(
        keras.applications.EfficientNetB0,
        _TAPS,
        input_shape,
        weights=weights,
        output_stride=output_stride,
        preprocessing=None,
        name=name,
        after_load=_set_normalization,
        batch_norm_momentum=batch_norm_momentum,
    )


def _larger(variant):
    return family_encoder(
        f"efficientnetb{variant}_encoder",
        f"""keras.applications.EfficientNetB{variant} without
    its top, as a kerasseg encoder: `efficientnetb0_encoder`'s arguments
    and preprocessing, the stages repeated {DEPTHS[variant]}× as deep
    (and wider), levels P1 … P5 at the ends of stages 1, 2, 3 and 5 and
    the top convolution.
    """,
        functools.partial(
            application_encoder,
            getattr(keras.applications, f"EfficientNetB{variant}"),
            _taps(DEPTHS[variant]),
            preprocessing=None,
            after_load=_set_normalization,
        ),
    )


efficientnetb1_encoder = _larger(1)
efficientnetb2_encoder = _larger(2)
efficientnetb3_encoder = _larger(3)
efficientnetb4_encoder = _larger(4)
efficientnetb5_encoder = _larger(5)
efficientnetb6_encoder = _larger(6)
efficientnetb7_encoder = _larger(7)
