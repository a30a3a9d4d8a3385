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


def _percentiles(x, fractions):
    """Per image and channel, numpy's "linear" percentiles of `x` (batch,
    height, width, channels), each as a (batch, 1, 1, channels) tensor.

    Written with a sort and float32 index arithmetic rather than
    `keras.ops.quantile`, whose TensorFlow version computes in float64,
    which TFLite cannot run.
    """
    shape = keras.ops.shape(x)
    # (batch, channels, pixels): sort along the last axis (TopK in TFLite).
    values = keras.ops.transpose(x, (0, 3, 1, 2))
    values = keras.ops.reshape(values, (shape[0], shape[3], -1))
    values = keras.ops.sort(values, axis=-1)
    count = keras.ops.shape(values)[-1]
    last = keras.ops.cast(count - 1, "float32")
    results = []
    for fraction in fractions:
        position = fraction * last
        below = keras.ops.floor(position)
        weight = position - below
        lower = keras.ops.cast(below, "int32")
        upper = keras.ops.minimum(lower + 1, count - 1)
        a = keras.ops.take(values, lower, axis=-1)
        b = keras.ops.take(values, upper, axis=-1)
        value = a + (b - a) * weight  # (batch, channels)
        results.append(value[:, None, None, :])
    return results


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
        low, high = _percentiles(x, (self.low / 100.0, self.high / 100.0))
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
