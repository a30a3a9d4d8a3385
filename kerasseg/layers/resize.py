"""Resizing one feature map to another's (dynamic) height and width."""

import keras

from kerasseg._validation import one_of

INTERPOLATIONS = ("bilinear", "nearest")


@keras.saving.register_keras_serializable(package="kerasseg")
class ResizeToReference(keras.layers.Layer):
    """Resizes `x` to the height and width of `reference`.

    Works with dynamic sizes, so a model keeps taking any input size; a
    1×1 map is broadcast over the reference's size (DeepLab's image-pooling
    branch).

    Args:
        interpolation: "bilinear" or "nearest".
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: `[x, reference]`, both `(batch, height, width, channels)`.

    Example:

    >>> layer = kerasseg.layers.ResizeToReference()
    >>> x, ref = np.ones((2, 1, 1, 5)), np.zeros((2, 7, 9, 3))
    >>> tuple(layer([x, ref]).shape)
    (2, 7, 9, 5)
    """

    def __init__(self, interpolation="bilinear", **kwargs):
        super().__init__(**kwargs)
        self.interpolation = one_of(
            "interpolation", interpolation, INTERPOLATIONS
        )

    def call(self, inputs):
        x, reference = inputs
        size = keras.ops.shape(reference)[1:3]
        resized = keras.ops.image.resize(
            x, size, interpolation=self.interpolation
        )
        return keras.ops.cast(resized, x.dtype)

    def compute_output_shape(self, input_shape):
        x, reference = input_shape
        return (x[0], reference[1], reference[2], x[3])

    def get_config(self):
        return {**super().get_config(), "interpolation": self.interpolation}
