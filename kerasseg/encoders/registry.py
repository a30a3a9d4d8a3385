"""Encoders by name, for the `encoder=` argument of model builders."""

import inspect
import os

from kerasseg.encoders.applications import check_weights
from kerasseg.encoders.conv import conv_encoder
from kerasseg.encoders.convnext import convnextbase_encoder
from kerasseg.encoders.convnext import convnextlarge_encoder
from kerasseg.encoders.convnext import convnextsmall_encoder
from kerasseg.encoders.convnext import convnexttiny_encoder
from kerasseg.encoders.convnext import convnextxlarge_encoder
from kerasseg.encoders.densenet import densenet121_encoder
from kerasseg.encoders.densenet import densenet169_encoder
from kerasseg.encoders.densenet import densenet201_encoder
from kerasseg.encoders.efficientnet import efficientnetb0_encoder
from kerasseg.encoders.efficientnet import efficientnetb1_encoder
from kerasseg.encoders.efficientnet import efficientnetb2_encoder
from kerasseg.encoders.efficientnet import efficientnetb3_encoder
from kerasseg.encoders.efficientnet import efficientnetb4_encoder
from kerasseg.encoders.efficientnet import efficientnetb5_encoder
from kerasseg.encoders.efficientnet import efficientnetb6_encoder
from kerasseg.encoders.efficientnet import efficientnetb7_encoder
from kerasseg.encoders.efficientnet_v2 import efficientnetv2b0_encoder
from kerasseg.encoders.efficientnet_v2 import efficientnetv2b1_encoder
from kerasseg.encoders.efficientnet_v2 import efficientnetv2b2_encoder
from kerasseg.encoders.efficientnet_v2 import efficientnetv2b3_encoder
from kerasseg.encoders.efficientnet_v2 import efficientnetv2l_encoder
from kerasseg.encoders.efficientnet_v2 import efficientnetv2m_encoder
from kerasseg.encoders.efficientnet_v2 import efficientnetv2s_encoder
from kerasseg.encoders.hub import hub_encoder
from kerasseg.encoders.mobilenet_v2 import mobilenetv2_encoder
from kerasseg.encoders.mobilenet_v3 import mobilenetv3large_encoder
from kerasseg.encoders.mobilenet_v3 import mobilenetv3small_encoder
from kerasseg.encoders.resnet import resnet18_encoder
from kerasseg.encoders.resnet import resnet34_encoder
from kerasseg.encoders.resnet import resnet50_encoder
from kerasseg.encoders.resnet import resnet101_encoder
from kerasseg.encoders.resnet import resnet152_encoder
from kerasseg.encoders.resnet_v2 import resnet50v2_encoder
from kerasseg.encoders.resnet_v2 import resnet101v2_encoder
from kerasseg.encoders.resnet_v2 import resnet152v2_encoder
from kerasseg.encoders.vgg import vgg16_encoder

ENCODERS = {
    "conv": conv_encoder,
    "convnexttiny": convnexttiny_encoder,
    "convnextsmall": convnextsmall_encoder,
    "convnextbase": convnextbase_encoder,
    "convnextlarge": convnextlarge_encoder,
    "convnextxlarge": convnextxlarge_encoder,
    "densenet121": densenet121_encoder,
    "densenet169": densenet169_encoder,
    "densenet201": densenet201_encoder,
    "efficientnetb0": efficientnetb0_encoder,
    "efficientnetb1": efficientnetb1_encoder,
    "efficientnetb2": efficientnetb2_encoder,
    "efficientnetb3": efficientnetb3_encoder,
    "efficientnetb4": efficientnetb4_encoder,
    "efficientnetb5": efficientnetb5_encoder,
    "efficientnetb6": efficientnetb6_encoder,
    "efficientnetb7": efficientnetb7_encoder,
    "efficientnetv2b0": efficientnetv2b0_encoder,
    "efficientnetv2b1": efficientnetv2b1_encoder,
    "efficientnetv2b2": efficientnetv2b2_encoder,
    "efficientnetv2b3": efficientnetv2b3_encoder,
    "efficientnetv2s": efficientnetv2s_encoder,
    "efficientnetv2m": efficientnetv2m_encoder,
    "efficientnetv2l": efficientnetv2l_encoder,
    "hub": hub_encoder,
    "mobilenetv2": mobilenetv2_encoder,
    "mobilenetv3large": mobilenetv3large_encoder,
    "mobilenetv3small": mobilenetv3small_encoder,
    "resnet18": resnet18_encoder,
    "resnet34": resnet34_encoder,
    "resnet50": resnet50_encoder,
    "resnet101": resnet101_encoder,
    "resnet152": resnet152_encoder,
    "resnet50v2": resnet50v2_encoder,
    "resnet101v2": resnet101v2_encoder,
    "resnet152v2": resnet152v2_encoder,
    "vgg16": vgg16_encoder,
}


def _conv(input_shape, *, weights, output_stride, **options):
    if output_stride is not None:
        raise ValueError(
            "The 'conv' encoder has no output_stride option (its depth sets "
            f"the stride). Received: output_stride={output_stride!r}"
        )
    weights = check_weights(weights)
    if weights == "imagenet" or (
        weights is not None and not weights.endswith(".weights.h5")
    ):
        raise ValueError(
            "The 'conv' encoder has no ImageNet weights; `encoder_weights` "
            "must be None or a .weights.h5 file saved from a conv encoder. "
            f"Received: encoder_weights={weights!r}"
        )
    encoder = conv_encoder(input_shape, **options)
    if weights is not None:
        encoder.load_weights(weights)
    return encoder


def get_encoder(
    name, input_shape, *, weights=None, output_stride=None, **options
):
    """Builds the encoder registered as `name`.

    Args:
        name: one of `ENCODERS`: "conv" (the U-Net encoder), "resnet18",
            "resnet34", "resnet50", "resnet101", "resnet152",
            "resnet50v2", "resnet101v2", "resnet152v2", "densenet121",
            "densenet169", "densenet201", "mobilenetv2", "mobilenetv3small",
            "mobilenetv3large", "efficientnetb0" … "efficientnetb7",
            "efficientnetv2b0" … "efficientnetv2b3", "efficientnetv2s",
            "efficientnetv2m", "efficientnetv2l", "convnexttiny",
            "convnextsmall", "convnextbase", "convnextlarge",
            "convnextxlarge", "vgg16", or "hub" (a keras-hub backbone:
            `weights` a preset, or `backbone=` a config).
        input_shape: `(height, width, channels)`.
        weights: None, "imagenet" (not for "conv") or a weights file; a
            keras-hub preset for "hub".
        output_stride: None, 8, 16 or 32 (not for "conv").
        **options: further arguments of that encoder's function, e.g.
            `depth` and `base_filters` for "conv", `alpha` for
            "mobilenetv2", `alpha` and `minimalistic` for MobileNetV3.

    Returns:
        A `keras.Model` named "encoder" with a stride-keyed dict output.

    Raises:
        ValueError: for an unknown name or an option the encoder lacks.

    Example:

    >>> encoder = kerasseg.encoders.get_encoder(
    ...     "conv", (None, None, 1), depth=2, base_filters=4)
    >>> sorted(encoder.output)
    ['P0', 'P1', 'P2']
    """
    if name not in ENCODERS:
        raise ValueError(
            f"Unknown encoder {name!r}. Accepted: {sorted(ENCODERS)}."
        )
    accepted = set(inspect.signature(ENCODERS[name]).parameters) - {
        "input_shape",
        "weights",
        "output_stride",
        "name",
    }
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ValueError(
            f"The {name!r} encoder has no option(s) {unknown}; it accepts "
            f"{sorted(accepted) or 'none'}. Received: {options!r}"
        )
    if isinstance(weights, os.PathLike):
        weights = os.fspath(weights)
    if name == "conv":
        return _conv(
            input_shape, weights=weights, output_stride=output_stride, **options
        )
    return ENCODERS[name](
        input_shape, weights=weights, output_stride=output_stride, **options
    )
