"""Heads: the last layers, from decoder features to model outputs.

Heads return logits unless told otherwise (`activation=None`), and their
output is float32 even under a mixed-precision policy, so losses and metrics
never see float16 values.
"""

import keras

from kerasseg import _validation as check
from kerasseg.layers.output import HeadOutput
from kerasseg.layers.resize import BilinearUpsample


def _output(x, activation, upsample, name, meaning="segmentation"):
    if upsample > 1:
        # Upsampling the scores rather than the features: a 1×1 convolution
        # and bilinear interpolation (weights summing to one) commute, so
        # the output is the same, and the full-size map has `num_classes`
        # channels instead of the decoder's hundreds.
        x = BilinearUpsample(upsample, name=f"{name}_upsample")(x)
    # A float32 dtype policy makes this layer cast its input up; under
    # "mixed_float16" the output is therefore float32. The layer records
    # what the output means (kerasseg.outputs reads it).
    return HeadOutput(
        activation, meaning=meaning, dtype="float32", name=f"{name}_activation"
    )(x)


def _conv_head(x, channels, activation, upsample, name, meaning):
    x = keras.layers.Conv2D(channels, 1, name=f"{name}_conv")(x)
    return _output(x, activation, upsample, name, meaning)


def segmentation_head(
    x, num_classes, *, activation=None, upsample=1, name="head"
):
    """1×1 convolution to one channel per class.

    Args:
        x: decoder features.
        num_classes: output channels. Binary segmentation: 1 channel with
            sigmoid (or its logits). Multi-class: N channels with softmax.
            Multi-label: N channels, each with its own sigmoid.
        activation: None for logits (default), "sigmoid", "softmax" or any
            Keras activation. "softmax" over 1 channel is refused.
        upsample: bilinear upsampling factor of the scores, for decoders
            that stop short of the input's resolution (DeepLabV3+).
        name: prefix of the layer names.

    Returns:
        A float32 tensor `(batch, height, width, num_classes)`.
    """
    num_classes = check.positive_int("num_classes", num_classes)
    activation = check.activation(activation, num_classes)
    upsample = check.positive_int("upsample", upsample)
    return _conv_head(
        x, num_classes, activation, upsample, name, "segmentation"
    )


def reconstruction_head(
    x, channels, *, activation=None, scale=1.0, upsample=1, name="head"
):
    """1×1 convolution back to the image's channels (for autoencoders).

    Args:
        x: decoder features.
        channels: channels of the reconstructed image.
        activation: None for a linear output (default), or e.g. "sigmoid"
            for images scaled to [0, 1].
        scale: the output is `scale × activation(conv(x))`: the pixel
            scale of the images (255 for 0–255 pixels), so that the
            convolution works at unit scale; freshly initialized weights
            would otherwise need many steps to grow to the pixels' range.
            With "sigmoid" the output then spans [0, scale].
        upsample: bilinear upsampling factor of the output.
        name: prefix of the layer names.

    Returns:
        A float32 tensor `(batch, height, width, channels)`.
    """
    channels = check.positive_int("channels", channels)
    activation = check.activation(activation, channels)
    upsample = check.positive_int("upsample", upsample)
    scale = check.non_negative("scale", scale)
    if scale == 0:
        raise ValueError(f"`scale` must be > 0. Received: scale={scale}")
    if scale == 1:
        return _conv_head(
            x, channels, activation, upsample, name, "reconstruction"
        )
    x = keras.layers.Conv2D(channels, 1, name=f"{name}_conv")(x)
    if activation not in (None, "linear"):  # squashed before the scale
        x = keras.layers.Activation(
            activation, dtype="float32", name=f"{name}_squash"
        )(x)
    x = keras.layers.Rescaling(scale, dtype="float32", name=f"{name}_scale")(x)
    return _output(x, None, upsample, name, "reconstruction")


def distance_head(x, *, upsample=1, name="head"):
    """1×1 convolution to one channel and a sigmoid: each object's
    distance to its boundary, normalized to 1 at its centre (the target
    `kerasseg.postprocess.normalized_distance` makes from instance labels),
    for the watershed that cuts a mask into objects.

    Args:
        x: decoder features.
        upsample: bilinear upsampling factor of the output.
        name: prefix of the layer names.

    Returns:
        A float32 tensor `(batch, height, width, 1)` in [0, 1].
    """
    upsample = check.positive_int("upsample", upsample)
    return _conv_head(x, 1, "sigmoid", upsample, name, "distance")


def activation_head(x, *, activation=None, upsample=1, name="head"):
    """Only the output activation (float32), for decoders that already
    produce one channel per class (FCN's score maps).

    Args:
        x: class scores.
        activation: None for logits (default), "sigmoid", "softmax", ….
        upsample: bilinear upsampling factor of the scores.
        name: prefix of the layer name.
    """
    activation = check.activation(activation, x.shape[-1])
    upsample = check.positive_int("upsample", upsample)
    return _output(x, activation, upsample, name, "segmentation")


def classification_head(
    x,
    num_labels,
    *,
    activation=None,
    dropout=0.0,
    multilabel=False,
    name="label_head",
):
    """Image-level logits: global average pooling, dropout, dense layer.

    Args:
        x: a feature map (e.g. the deepest encoder level).
        num_labels: output units: classes of a single-label classification
            (softmax) or labels of a multi-label one (sigmoid each).
        activation: None for logits (default), "softmax", "sigmoid", ….
        dropout: dropout rate before the dense layer.
        multilabel: the units are independent labels (a sigmoid each, e.g.
            which classes an image holds) rather than one class among
            `num_labels` (a softmax); recorded on the output layer, so the
            export and prediction turn logits into the right probabilities.
        name: prefix of the layer names.

    Returns:
        A float32 tensor `(batch, num_labels)`.
    """
    num_labels = check.positive_int("num_labels", num_labels)
    activation = check.activation(activation, num_labels)
    x = keras.layers.GlobalAveragePooling2D(name=f"{name}_pool")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    x = keras.layers.Dense(num_labels, name=f"{name}_dense")(x)
    return HeadOutput(
        activation,
        meaning="labels",
        multilabel=multilabel,
        dtype="float32",
        name=f"{name}_activation",
    )(x)
