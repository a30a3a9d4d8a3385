"""Per-image intensity normalization, inside the model graph.

Fluorescence images from different microscopes differ in background level,
gain and bit depth. Tools of that field (CSBDeep, StarDist, Cellpose)
normalize each image by its own percentiles before the network sees it.
Doing it as a layer means a saved or exported model takes raw pixels and
normalizes them the same way in training, `predict`, TF Serving, TFLite and
ONNX.
"""

import keras

from kerasseg import _validation as check


@keras.saving.register_keras_serializable(package="kerasseg")
class PercentileNormalization(keras.layers.Layer):
    """Maps each image's `low` percentile to 0 and its `high` one to 1.

    Per image and per channel: `(x - p_low) / max(p_high - p_low,
    min_range)`. Values outside the two percentiles are not clipped.

    Args:
        low: lower percentile, in [0, 100).
        high: upper percentile, in (low, 100].
        min_range: the smallest divisor, in input units. An image (or tile)
            that shows only background has `p_high - p_low` of the order of
            its noise; without a floor its noise would be stretched to the
            range a real object gets. 0 disables the floor (a tiny epsilon
            still guards against division by zero).
        **kwargs: standard layer arguments (`name`, `dtype`, …).

    Example:

    >>> layer = kerasseg.layers.PercentileNormalization(low=0, high=100)
    >>> image = np.array([10.0, 20.0, 30.0]).reshape(1, 1, 3, 1)
    >>> np.asarray(layer(image)).ravel().tolist()
    [0.0, 0.5, 1.0]
    """

    def __init__(self, low=1.0, high=99.8, min_range=0.0, **kwargs):
        super().__init__(**kwargs)
        low = check.non_negative("low", low)
        high = check.non_negative("high", high)
        if not low < high <= 100:
            raise ValueError(
                "`low` and `high` must satisfy 0 ≤ low < high ≤ 100. "
                f"Received: low={low!r}, high={high!r}"
            )
        self.low = float(low)
        self.high = float(high)
        self.min_range = float(check.non_negative("min_range", min_range))

    def call(self, inputs):
        x = keras.ops.cast(inputs, "float32")
        bounds = keras.ops.quantile(
            x,
            [self.low / 100.0, self.high / 100.0],
            axis=(1, 2),
            keepdims=True,
        )
        low, high = bounds[0], bounds[1]
        scale = keras.ops.maximum(high - low, max(self.min_range, 1e-6))
        return keras.ops.cast((x - low) / scale, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "low": self.low,
            "high": self.high,
            "min_range": self.min_range,
        }


def normalization_for(value):
    """The layer for a builder's `input_normalization` argument.

    Accepts None (no layer), "percentile" (the defaults of
    `PercentileNormalization`) or a dict of `PercentileNormalization`
    arguments.
    """
    if value is None:
        return None
    if value == "percentile":
        return PercentileNormalization(name="input_normalization")
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"low", "high", "min_range"})
        if unknown:
            raise ValueError(
                f"`input_normalization` has unknown keys {unknown}; a dict "
                "takes PercentileNormalization's low, high and min_range. "
                f"Received: input_normalization={value!r}"
            )
        return PercentileNormalization(name="input_normalization", **value)
    raise ValueError(
        "`input_normalization` must be None, 'percentile' or a dict of "
        "PercentileNormalization arguments (low, high, min_range). "
        f"Received: input_normalization={value!r}"
    )
