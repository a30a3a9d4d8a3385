"""Wiring shared by every model builder: encoder → decoder → head.

`compose` builds the Functional graph

    image → [normalization] → [corruption] → [pad to a multiple of the
          stride] → encoder
          → decoder → head [scores upsampled to stride 1] → [crop back]
          → output

so that every model takes any height and width, returns an output of
exactly the input's size, and has its encoder nested as one layer named
"encoder" (one line freezes it: `kerasseg.freeze_encoder(model)`). Models
with several outputs use the two halves, `encode` and `to_input_size`.
"""

import dataclasses
import functools

import keras

from kerasseg import _validation as check
from kerasseg import heads
from kerasseg.encoders import get_encoder
from kerasseg.encoders.base import check_encoder
from kerasseg.encoders.base import levels_deepest_first
from kerasseg.encoders.base import stride_of
from kerasseg.encoders.base import total_stride
from kerasseg.layers.padding import CropToReference
from kerasseg.layers.padding import PadToMultiple


def check_segmenter(input_shape, num_classes, activation):
    """The arguments every segmentation builder checks before building:
    returns the validated `(input_shape, num_classes)`."""
    input_shape = check.image_shape(input_shape)
    num_classes = check.positive_int("num_classes", num_classes)
    check.activation(activation, num_classes)
    return input_shape, num_classes


def segmentation_head(num_classes, activation):
    """The `head` argument of `compose` for a segmenter: a 1×1
    convolution to `num_classes` (`kerasseg.heads.segmentation_head`)."""
    return functools.partial(
        heads.segmentation_head, num_classes=num_classes, activation=activation
    )


def _needs_padding(input_shape, stride):
    return any(size is None or size % stride for size in input_shape[:2])


def build_encoder(
    name, input_shape, *, weights=None, output_stride=None, options=None
):
    """Builds the named encoder for `(None, None, channels)` inputs."""
    if options is not None and not isinstance(options, dict):
        raise ValueError(
            "`encoder_options` must be a dict of encoder arguments or None. "
            f"Received: encoder_options={options!r}"
        )
    return get_encoder(
        name,
        (None, None, input_shape[-1]),
        weights=weights,
        output_stride=output_stride,
        **(options or {}),
    )


@dataclasses.dataclass
class Encoded:
    """The input side of a model graph: see `encode`."""

    inputs: object
    features: dict
    padded: bool


def encode(input_shape, encoder, *, corruption=(), normalization=None):
    """Input → [normalization] → [corruption] → [padding] → encoder features.

    Args:
        input_shape: `(height, width, channels)`, already validated.
        encoder: a `keras.Model` whose output is a dict keyed "Pn", built
            for `(None, None, channels)` inputs.
        corruption: layers applied to the input before the encoder (they
            should act only at training time, e.g. `GaussianNoise`).
        normalization: a layer applied to the raw input first (e.g.
            `PercentileNormalization`), or None. It sees the image before
            padding, so padded pixels do not shift its statistics.
    """
    check_encoder(encoder)
    stride = total_stride(encoder.output)
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    if normalization is not None:
        x = normalization(x)
    for layer in corruption:
        x = layer(x)
    padded = _needs_padding(input_shape, stride)
    if padded:
        x = PadToMultiple(stride, name="pad")(x)
    return Encoded(inputs, encoder(x), padded)


def to_input_size(y, encoded, *, stride, head, prefix=""):
    """Decoder output at `stride` → head (which upsamples its scores by
    `stride`) → [crop back]."""
    y = head(y, upsample=stride)
    if encoded.padded:
        y = CropToReference(name=f"{prefix}crop")([y, encoded.inputs])
    return y


def compose(
    input_shape,
    *,
    encoder,
    decoder,
    head,
    name,
    corruption=(),
    normalization=None,
    decoder_stride=None,
):
    """Builds a model from an encoder, a decoder function and a head.

    Args:
        input_shape: `(height, width, channels)`, already validated.
        encoder: a `keras.Model` whose output is a dict keyed "Pn", built for
            `(None, None, channels)` inputs.
        decoder: function from the feature dict to a tensor.
        head: function from a tensor to the output tensor.
        name: the model's name.
        corruption: layers applied to the input before the encoder.
        normalization: a layer applied to the raw input first, or None.
        decoder_stride: the stride of the decoder's output; by default that
            of the shallowest level the encoder provides (U-Net decoders
            stop there). Anything coarser than 1 is upsampled bilinearly.

    Returns:
        A `keras.Model`.
    """
    encoded = encode(
        input_shape,
        encoder,
        corruption=corruption,
        normalization=normalization,
    )
    y = decoder(encoded.features)
    if decoder_stride is None:
        decoder_stride = stride_of(levels_deepest_first(encoded.features)[-1])
    y = to_input_size(y, encoded, stride=decoder_stride, head=head)
    return keras.Model(encoded.inputs, y, name=name)
