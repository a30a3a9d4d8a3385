"""Bilinear resizing that works when height and width are unknown.

`keras.ops.image.resize` (Keras 3.15) checks `size[0] <= 0` in Python, so
with TensorFlow it cannot trace a graph whose height and width are
unknown, which is exactly what `tf.data` pipelines with random crops and
exported SavedModels with dynamic sizes need; `keras.layers.UpSampling2D`
with bilinear interpolation inherits the problem. These layers compute the
same half-pixel bilinear interpolation (no antialiasing, edges clamped, as
`tf.image.resize`) with plain ops:

- `BilinearUpsample` by an integer factor, as a weighted sum of each
  pixel and its neighbours per output phase (cost proportional to the
  output);
- `ResizeToReference` to another tensor's size, and `ResizeBy` by a
  real factor (test-time scales), with interpolation matrices (cost
  proportional to output × input rows and columns: fine for the maps and
  images they are used on, heavy above a few thousand pixels a side).
"""

import keras

from kerasseg._validation import positive_int


def _edge_pad(x, axis):
    first = keras.ops.take(x, [0], axis=axis)
    size = keras.ops.shape(x)[axis]
    last = keras.ops.take(x, keras.ops.reshape(size - 1, (1,)), axis=axis)
    return keras.ops.concatenate([first, x, last], axis=axis)


def _upsample_axis(x, factor, axis):
    """Half-pixel bilinear upsampling by `factor` along axis 1 or 2."""
    padded = _edge_pad(x, axis)
    size = keras.ops.shape(x)[axis]
    index = keras.ops.arange(size)

    def shifted(offset):
        return keras.ops.take(padded, index + offset, axis=axis)

    previous, current, following = shifted(0), shifted(1), shifted(2)
    phases = []
    for p in range(factor):
        d = (p + 0.5) / factor - 0.5  # source offset of output phase p
        if d >= 0:
            phases.append((1 - d) * current + d * following)
        else:
            phases.append((1 + d) * current - d * previous)
    stacked = keras.ops.stack(phases, axis=axis + 1)
    shape = keras.ops.shape(x)
    new_shape = list(shape)
    new_shape[axis] = shape[axis] * factor
    return keras.ops.reshape(stacked, new_shape)


@keras.saving.register_keras_serializable(package="kerasseg")
class BilinearUpsample(keras.layers.Layer):
    """Bilinear upsampling by an integer factor, for any (unknown) size.

    Gives what `keras.layers.UpSampling2D(factor, interpolation=
    "bilinear")` gives, but also inside a graph traced with unknown height
    and width.

    Args:
        factor: the integer upsampling factor for height and width.
        **kwargs: standard layer arguments.

    Example:

    >>> layer = kerasseg.layers.BilinearUpsample(2)
    >>> layer(np.array([[[[0.0], [4.0]]]])).numpy()[0, 0, :, 0].tolist()
    [0.0, 1.0, 3.0, 4.0]
    """

    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = positive_int("factor", factor)

    def call(self, inputs):
        if self.factor == 1:
            return inputs
        x = _upsample_axis(inputs, self.factor, 1)
        return _upsample_axis(x, self.factor, 2)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        return (
            batch,
            None if height is None else height * self.factor,
            None if width is None else width * self.factor,
            channels,
        )

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def _interpolation_matrix(out_size, in_size, dtype):
    """(out_size, in_size) half-pixel bilinear weights, edges clamped."""
    out_f = keras.ops.cast(out_size, "float32")
    in_f = keras.ops.cast(in_size, "float32")
    source = (keras.ops.arange(out_size, dtype="float32") + 0.5) * (
        in_f / out_f
    ) - 0.5
    source = keras.ops.clip(source, 0.0, in_f - 1)
    low = keras.ops.floor(source)
    frac = source - low
    low = keras.ops.cast(low, "int32")
    high = keras.ops.minimum(low + 1, keras.ops.cast(in_size, "int32") - 1)
    weights = keras.ops.one_hot(low, in_size) * (1 - frac)[:, None]
    weights = weights + keras.ops.one_hot(high, in_size) * frac[:, None]
    return keras.ops.cast(weights, dtype)


def resize_bilinear(x, height, width):
    """Resizes `(batch, h, w, c)` to `(batch, height, width, c)`; sizes may
    be symbolic."""
    shape = keras.ops.shape(x)
    rows = _interpolation_matrix(height, shape[1], x.dtype)
    cols = _interpolation_matrix(width, shape[2], x.dtype)
    x = keras.ops.einsum("Hh,bhwc->bHwc", rows, x)
    return keras.ops.einsum("Ww,bhwc->bhWc", cols, x)


@keras.saving.register_keras_serializable(package="kerasseg")
class ResizeToReference(keras.layers.Layer):
    """Bilinearly resizes `x` to the height and width of `reference`.

    Works with unknown sizes, so a model keeps taking any input size; a
    1×1 map is broadcast over the reference's size (DeepLab's image-pooling
    branch). Meant for small maps: it multiplies by interpolation matrices.

    Call arguments:
        inputs: `[x, reference]`, both `(batch, height, width, channels)`.

    Example:

    >>> layer = kerasseg.layers.ResizeToReference()
    >>> x, ref = np.ones((2, 1, 1, 5)), np.zeros((2, 7, 9, 3))
    >>> tuple(layer([x, ref]).shape)
    (2, 7, 9, 5)
    """

    def call(self, inputs):
        x, reference = inputs
        shape = keras.ops.shape(reference)
        if x.shape[1] == 1 and x.shape[2] == 1:
            target = (keras.ops.shape(x)[0], shape[1], shape[2], x.shape[-1])
            return keras.ops.broadcast_to(x, target)
        return resize_bilinear(x, shape[1], shape[2])

    def compute_output_shape(self, input_shape):
        x, reference = input_shape
        return (x[0], reference[1], reference[2], x[3])


def scaled_size(size, scale):
    """`floor(size × scale + 0.5)`, at least 1: the size `ResizeBy` gives
    (a Python int for a known size, else a tensor)."""
    if isinstance(size, int):
        return max(1, int(size * scale + 0.5))
    scaled = keras.ops.floor(keras.ops.cast(size, "float32") * scale + 0.5)
    return keras.ops.maximum(keras.ops.cast(scaled, "int32"), 1)


@keras.saving.register_keras_serializable(package="kerasseg")
class ResizeBy(keras.layers.Layer):
    """Bilinearly resizes `(batch, h, w, c)` maps by a real factor, to
    `floor(h·scale + 0.5) × floor(w·scale + 0.5)`, for any (unknown) size.

    Half-pixel bilinear interpolation with clamped edges and no
    antialiasing, as `tf.image.resize(..., "bilinear")`; the multi-scale
    inputs of test-time augmentation (`kerasseg.inference.tta(scales=)`).
    Integer inputs are resized as float32.

    Args:
        scale: the factor, a number > 0.
        **kwargs: standard layer arguments.

    Example:

    >>> layer = kerasseg.layers.ResizeBy(0.5)
    >>> tuple(layer(np.zeros((1, 7, 10, 3))).shape)
    (1, 4, 5, 3)
    """

    def __init__(self, scale, **kwargs):
        super().__init__(**kwargs)
        if (
            isinstance(scale, bool)
            or not isinstance(scale, (int, float))
            or not scale > 0
        ):
            raise ValueError(
                f"`scale` must be a number > 0. Received: scale={scale!r}"
            )
        self.scale = float(scale)

    def call(self, inputs):
        if self.scale == 1.0:
            return inputs
        x = inputs
        if not keras.backend.is_float_dtype(x.dtype):
            x = keras.ops.cast(x, "float32")
        shape = keras.ops.shape(x)
        height = scaled_size(shape[1], self.scale)
        width = scaled_size(shape[2], self.scale)
        return resize_bilinear(x, height, width)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        return (
            batch,
            None if height is None else scaled_size(height, self.scale),
            None if width is None else scaled_size(width, self.scale),
            channels,
        )

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}
