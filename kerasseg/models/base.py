"""Wiring shared by every model builder: encoder → decoder → head.

`compose` builds the Functional graph

    image → [corruption] → [pad to a multiple of the stride] → encoder
          → decoder → [upsample to stride 1] → head → [crop back] → output

so that every model takes any height and width, returns an output of
exactly the input's size, and has its encoder nested as one layer named
"encoder" (one line freezes it: `model.get_layer("encoder").trainable =
False`).
"""

import keras

from kerasseg.encoders.base import check_encoder
from kerasseg.encoders.base import levels_deepest_first
from kerasseg.encoders.base import stride_of
from kerasseg.encoders.base import total_stride
from kerasseg.layers.padding import CropToReference
from kerasseg.layers.padding import PadToMultiple


def _needs_padding(input_shape, stride):
    return any(size is None or size % stride for size in input_shape[:2])


def compose(
    input_shape,
    *,
    encoder,
    decoder,
    head,
    name,
    corruption=(),
):
    """Builds a model from an encoder, a decoder function and a head.

    Args:
        input_shape: `(height, width, channels)`, already validated.
        encoder: a `keras.Model` whose output is a dict keyed "Pn", built for
            `(None, None, channels)` inputs.
        decoder: function from the feature dict to a tensor.
        head: function from a tensor to the output tensor.
        name: the model's name.
        corruption: layers applied to the input before the encoder (they
            should act only at training time, e.g. `GaussianNoise`).

    Returns:
        A `keras.Model`.
    """
    check_encoder(encoder)
    stride = total_stride(encoder.output)

    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for layer in corruption:
        x = layer(x)
    padded = _needs_padding(input_shape, stride)
    if padded:
        x = PadToMultiple(stride, name="pad")(x)
    features = encoder(x)
    y = decoder(features)
    # Decoders stop at the shallowest level the encoder provides; bring the
    # result back to full resolution if that level is not P0.
    remaining = stride_of(levels_deepest_first(features)[-1])
    if remaining > 1:
        y = keras.layers.UpSampling2D(
            remaining, interpolation="bilinear", name="upsample"
        )(y)
    y = head(y)
    if padded:
        y = CropToReference(name="crop")([y, inputs])
    return keras.Model(inputs, y, name=name)
