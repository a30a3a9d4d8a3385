"""Adaptive average pooling: a fixed output grid from any input size."""

import keras

from kerasseg._validation import positive_int


def _pooling_matrix(bins, size, dtype):
    """(bins, size) weights: bin a averages rows floor(a·size/bins) to
    ceil((a+1)·size/bins) - 1, PyTorch's `adaptive_avg_pool2d` rule (bins
    overlap when they do not divide the size, and a size below the bin
    count repeats rows)."""
    size_f = keras.ops.cast(size, "float32")
    a = keras.ops.arange(bins, dtype="float32")
    start = keras.ops.floor(a * size_f / bins)
    end = keras.ops.ceil((a + 1) * size_f / bins)
    rows = keras.ops.arange(size, dtype="float32")
    inside = keras.ops.logical_and(
        rows[None, :] >= start[:, None], rows[None, :] < end[:, None]
    )
    weights = keras.ops.cast(inside, "float32") / (end - start)[:, None]
    return keras.ops.cast(weights, dtype)


@keras.saving.register_keras_serializable(package="kerasseg")
class AdaptiveAveragePooling2D(keras.layers.Layer):
    """Average pooling to a fixed `bins × bins` grid, for any input size.

    The pyramid pooling of PSPNet needs 1×1, 2×2, 3×3 and 6×6 averages of
    maps whose size is only known when an image arrives; a fixed
    `AveragePooling2D` cannot give them. Each output cell averages the
    rows and columns PyTorch's `adaptive_avg_pool2d` assigns to it (tested
    against a loop over that rule and against PyTorch where installed).
    Computed as two small matrix products, so it runs, converts and
    exports on every backend with unknown sizes.

    Args:
        bins: the output's height and width.
        **kwargs: standard layer arguments.

    Example:

    >>> layer = kerasseg.layers.AdaptiveAveragePooling2D(2)
    >>> x = np.arange(9.0).reshape(1, 3, 3, 1)
    >>> layer(x).numpy()[0, :, :, 0].tolist()
    [[2.0, 3.0], [5.0, 6.0]]
    """

    def __init__(self, bins, **kwargs):
        super().__init__(**kwargs)
        self.bins = positive_int("bins", bins)

    def call(self, inputs):
        shape = keras.ops.shape(inputs)
        rows = _pooling_matrix(self.bins, shape[1], inputs.dtype)
        cols = _pooling_matrix(self.bins, shape[2], inputs.dtype)
        x = keras.ops.einsum("Hh,bhwc->bHwc", rows, inputs)
        return keras.ops.einsum("Ww,bhwc->bhWc", cols, x)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.bins, self.bins, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "bins": self.bins}
