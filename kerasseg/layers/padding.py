"""Pad an image to a multiple of the model's stride, and crop back.

An encoder that halves the resolution n times needs height and width that
are multiples of 2**n, or its skip connections no longer line up. These two
layers let a model take any size: the input is zero-padded at the bottom and
right inside the graph, and the output is cropped back to the input's size.
Both work with dynamic (None) height and width, so an exported model keeps
its variable input size.
"""

import keras

from kerasseg._validation import positive_int


def _padded(size, multiple):
    return None if size is None else -(-size // multiple) * multiple


@keras.saving.register_keras_serializable(package="kerasseg")
class PadToMultiple(keras.layers.Layer):
    """Zero-pads height and width at the bottom and right to a multiple.

    Args:
        multiple: height and width of the output are the smallest multiples
            of this that are at least the input's.
        **kwargs: standard layer arguments (`name`, `dtype`, …).

    Input shape:
        `(batch, height, width, channels)`.

    Output shape:
        `(batch, ceil(height / multiple) * multiple,
        ceil(width / multiple) * multiple, channels)`.

    Example:

    >>> layer = kerasseg.layers.PadToMultiple(16)
    >>> tuple(layer(np.zeros((1, 65, 97, 3))).shape)
    (1, 80, 112, 3)
    """

    def __init__(self, multiple, **kwargs):
        # No autocast: padding must not change the dtype it is given.
        super().__init__(autocast=False, **kwargs)
        self.multiple = positive_int("multiple", multiple)

    def call(self, inputs):
        # The first layer of every kerasseg model: an empty image is named
        # here (when its size is known, as in eager calls and `predict`)
        # rather than failing deep inside a pooling layer.
        empty = [d for d in inputs.shape[1:3] if d is not None and d < 1]
        if empty:
            raise ValueError(
                f"kerasseg models take images of at least 1×1 pixels; "
                f"received a batch of shape {tuple(inputs.shape)} (height "
                f"× width {inputs.shape[1]}×{inputs.shape[2]})."
            )
        shape = keras.ops.shape(inputs)
        # (m - size % m) % m rather than (-size) % m: ONNX's Mod gives the
        # remainder of a negative number the dividend's sign, which would
        # crop instead of pad.
        m = self.multiple
        pad_h = (m - shape[1] % m) % m
        pad_w = (m - shape[2] % m) % m
        padded = keras.ops.pad(inputs, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]])
        channels = inputs.shape[-1]
        if channels is None:
            return padded
        # TFLite's converter infers no static size after a Pad with computed
        # amounts, the channels included, and then refuses the first
        # convolution (tests/export/test_convert.py). The reshape restores
        # them and copies nothing.
        return keras.ops.reshape(
            padded, (-1, shape[1] + pad_h, shape[2] + pad_w, channels)
        )

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        return (
            batch,
            _padded(height, self.multiple),
            _padded(width, self.multiple),
            channels,
        )

    def get_config(self):
        return {**super().get_config(), "multiple": self.multiple}


@keras.saving.register_keras_serializable(package="kerasseg")
class CropToReference(keras.layers.Layer):
    """Crops height and width of a tensor to those of a reference tensor.

    Keeps the top-left corner, which undoes `PadToMultiple`.

    Call arguments:
        inputs: a list `[tensor, reference]`; `tensor` is cropped to the
            height and width of `reference` and keeps its own channels and
            dtype.

    Example:

    >>> crop = kerasseg.layers.CropToReference()
    >>> padded, image = np.zeros((1, 80, 112, 2)), np.zeros((1, 65, 97, 3))
    >>> tuple(crop([padded, image]).shape)
    (1, 65, 97, 2)
    """

    def __init__(self, **kwargs):
        super().__init__(autocast=False, **kwargs)

    def call(self, inputs):
        tensor, reference = inputs
        shape = keras.ops.shape(reference)
        return tensor[:, : shape[1], : shape[2], :]

    def compute_output_shape(self, input_shape):
        tensor_shape, reference_shape = input_shape
        return (
            tensor_shape[0],
            reference_shape[1],
            reference_shape[2],
            tensor_shape[3],
        )

    def compute_output_spec(self, inputs):
        tensor, reference = inputs
        shape = self.compute_output_shape((tensor.shape, reference.shape))
        return keras.KerasTensor(shape, dtype=tensor.dtype)
